import {
  lifecycleScheduleProblems,
  objectLockRetentionProblem,
  overlappingPrefixProblem,
  storageClassFacts,
} from '../../../lib/storage/storage-classes';

const IR = (day: number) => ({ option: 'glacierInstantRetrievalAfter', storageClass: 'GLACIER_IR', day });
const GLACIER = (day: number) => ({ option: 'glacierAfter', storageClass: 'GLACIER', day });
const DEEP = (day: number) => ({ option: 'deepArchiveAfter', storageClass: 'DEEP_ARCHIVE', day });

describe('storageClassFacts', () => {
  it('knows the minimum storage durations of the archive classes', () => {
    expect(storageClassFacts('GLACIER_IR').minimumStorageDays).toBe(90);
    expect(storageClassFacts('GLACIER').minimumStorageDays).toBe(90);
    expect(storageClassFacts('DEEP_ARCHIVE').minimumStorageDays).toBe(180);
    expect(storageClassFacts('STANDARD').minimumStorageDays).toBe(0);
  });

  it('treats an unknown class as having no minimum', () => {
    expect(storageClassFacts('SOMETHING_NEW')).toEqual({ value: 'SOMETHING_NEW', displayName: 'SOMETHING_NEW', minimumStorageDays: 0 });
  });
});

describe('lifecycleScheduleProblems', () => {
  it('accepts a schedule that respects every minimum', () => {
    expect(lifecycleScheduleProblems({ description: 'd', transitions: [IR(30), GLACIER(120), DEEP(365)], expireDay: 2555 })).toEqual([]);
  });

  it('accepts a schedule that never expires', () => {
    expect(lifecycleScheduleProblems({ description: 'd', transitions: [GLACIER(1)] })).toEqual([]);
  });

  it('accepts an expiry exactly at the end of the minimum', () => {
    expect(lifecycleScheduleProblems({ description: 'd', transitions: [DEEP(10)], expireDay: 190 })).toEqual([]);
  });

  it('reports transitions out of order and stops there', () => {
    const problems = lifecycleScheduleProblems({ description: 'rule X', transitions: [IR(100), GLACIER(100), DEEP(50)], expireDay: 40 });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe(
      'rule X: glacierAfter (100 days) must be later than glacierInstantRetrievalAfter (100 days); lifecycle steps ' +
        'must be in increasing order. Set glacierAfter to more than 100 days, or set glacierInstantRetrievalAfter to false to skip that step.',
    );
    expect(problems[1]).toContain('deepArchiveAfter (50 days) must be later than glacierAfter (100 days)');
    expect(problems[2]).toContain('expireAfter (40 days) must be later than deepArchiveAfter (50 days)');
  });

  it('reports an expiry before the Deep Archive minimum, naming the early-deletion fee and the fix', () => {
    const [problem, ...rest] = lifecycleScheduleProblems({ description: 'd', transitions: [DEEP(365)], expireDay: 400 });
    expect(rest).toEqual([]);
    expect(problem).toBe(
      'd: objects enter S3 Glacier Deep Archive at day 365 (deepArchiveAfter) and expire at day 400 (expireAfter), ' +
        'after 35 days; S3 Glacier Deep Archive bills a minimum storage duration of 180 days, so each object would ' +
        'pay an early-deletion fee for the remaining 145 days. Set expireAfter to at least 545 days, or set ' +
        'deepArchiveAfter to false to skip S3 Glacier Deep Archive.',
    );
  });

  it('reports a move out of Glacier Flexible Retrieval before its 90 days', () => {
    const problems = lifecycleScheduleProblems({ description: 'd', transitions: [GLACIER(100), DEEP(150)] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('S3 Glacier Flexible Retrieval at day 100 (glacierAfter) and move on at day 150 (deepArchiveAfter)');
    expect(problems[0]).toContain('Set deepArchiveAfter to at least 190 days');
  });

  it('reports a move out of Glacier Instant Retrieval before its 90 days', () => {
    const problems = lifecycleScheduleProblems({ description: 'd', transitions: [IR(30), GLACIER(90)], expireDay: 1000 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('S3 Glacier Instant Retrieval bills a minimum storage duration of 90 days');
    expect(problems[0]).toContain('remaining 30 days');
  });

  it('reports every short stay at once', () => {
    const problems = lifecycleScheduleProblems({ description: 'd', transitions: [IR(1), GLACIER(2), DEEP(3)], expireDay: 4 });
    expect(problems).toHaveLength(3);
  });

  it('ignores classes without a minimum', () => {
    expect(
      lifecycleScheduleProblems({ description: 'd', transitions: [{ option: 'x', storageClass: 'INTELLIGENT_TIERING', day: 1 }], expireDay: 2 }),
    ).toEqual([]);
  });
});

describe('objectLockRetentionProblem', () => {
  it('is undefined when the retention ends before the expiry', () => {
    expect(objectLockRetentionProblem({ description: 'd', retentionDays: 30, mode: 'GOVERNANCE', expireDay: 365 })).toBeUndefined();
  });

  it('is undefined when objects never expire', () => {
    expect(objectLockRetentionProblem({ description: 'd', retentionDays: 3650, mode: 'COMPLIANCE' })).toBeUndefined();
  });

  it('is undefined when the retention equals the expiry', () => {
    expect(objectLockRetentionProblem({ description: 'd', retentionDays: 365, mode: 'COMPLIANCE', expireDay: 365 })).toBeUndefined();
  });

  it('says what to change when the retention outlives the expiry', () => {
    expect(objectLockRetentionProblem({ description: 'd', retentionDays: 400, mode: 'COMPLIANCE', expireDay: 365 })).toBe(
      'd: Object Lock (COMPLIANCE) retains every object version for 400 days, but the lifecycle expires objects after ' +
        '365 days. Set expireAfter to at least 400 days, or shorten the Object Lock retention to 365 days or less.',
    );
  });
});

describe('overlappingPrefixProblem', () => {
  it('accepts disjoint prefixes', () => {
    expect(overlappingPrefixProblem('postgres/', 'reports/')).toBeUndefined();
  });

  it('rejects a prefix that contains another', () => {
    expect(overlappingPrefixProblem('postgres/', 'postgres/main/')).toContain("'postgres/' and 'postgres/main/' overlap");
  });

  it('rejects the whole bucket next to any prefix', () => {
    expect(overlappingPrefixProblem('', 'reports/')).toContain("'' (the whole bucket) and 'reports/' overlap");
  });
});
