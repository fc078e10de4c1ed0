import { InvalidInput } from '../../../lambda/common/errors';
import {
  buildRecoveryReport,
  causeMessage,
  failedStep,
  measureTimings,
  parseRecoveryReportEvent,
  recoveryNotification,
  recoveryReportKey,
  recoveryTestMetrics,
  type RecoveryRunState,
} from '../../../lambda/reporting/recovery-report';
import { notificationJson } from '../../../lambda/reporting/notification';

const EXECUTION = 'arn:aws:states:us-east-1:111111111111:execution:RecoveryTest:weekly-2024-05-05';
const finishedAt = new Date('2024-05-05T05:20:00.000Z');

const backup = {
  kind: 'dump',
  selection: 'latest',
  id: 'postgres/prod/app/2024/05/05/20240505T020000.000Z.manifest.json',
  dataAsOf: '2024-05-05T02:00:00.000Z',
  pickedAt: '2024-05-05T05:00:01.000Z',
  ageSeconds: 10801,
  rpoSeconds: 93600,
  withinRpo: true,
  skipped: [],
  dump: { database: 'app', manifestKey: 'postgres/prod/app/2024/05/05/20240505T020000.000Z.manifest.json' },
};
const created = {
  resource: 'instance',
  identifier: 'cdkbdr-rt-weekly-2024-05-05-1a2b3c4d',
  instanceIdentifier: 'cdkbdr-rt-weekly-2024-05-05-1a2b3c4d',
  secretName: 'cdk-backup-dr/scratch/cdkbdr-rt-weekly-2024-05-05-1a2b3c4d',
  secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cdk-backup-dr/scratch/cdkbdr-rt-weekly-2024-05-05-1a2b3c4d-AbCdEf',
  status: 'creating',
  startedAt: '2024-05-05T05:00:02.000Z',
  created: true,
};
const ready = { identifier: created.identifier, endpoint: { host: 'cdkbdr-rt.x.rds.amazonaws.com', port: 5432 }, status: 'available', availableAt: '2024-05-05T05:08:02.500Z' };
const restore = { database: 'app', restoredBytes: 1000, durationSeconds: 120.25, backupFinishedAt: '2024-05-05T02:03:00.000Z', mode: 'stream' };
const verifyPassed = {
  passed: true,
  database: 'app',
  durationSeconds: 3.5,
  checks: [
    { name: 'table "public"."t"', passed: true, expected: 3, actual: 3 },
    { name: 'query q', passed: true, expected: true, actual: true },
  ],
};
const cleanup = [
  { what: 'database', names: [created.identifier], status: 'gone', at: '2024-05-05T05:15:00Z' },
  { what: 'secret', names: [created.secretName], status: 'gone', at: '2024-05-05T05:10:00Z' },
];

function event(state: RecoveryRunState, extra: Record<string, unknown> = {}) {
  return { workflow: 'recovery-test', executionId: EXECUTION, startedAt: '2024-05-05T05:00:00.000Z', kind: 'dump', state, ...extra };
}

function report(state: RecoveryRunState, extra: Record<string, unknown> = {}) {
  return buildRecoveryReport(parseRecoveryReportEvent(event(state, extra)), { source: 'prod', finishedAt });
}

describe('recovery report outcome', () => {
  it('succeeds when every step ran, every check passed, the data is within the RPO and the cleanup finished', () => {
    const r = report({ selection: { latest: true }, backup, created, ready, restore, verify: verifyPassed, cleanup });
    expect(r).toMatchObject({
      schemaVersion: 1,
      workflow: 'recovery-test',
      source: 'prod',
      status: 'SUCCEEDED',
      failureReasons: [],
      executionName: 'weekly-2024-05-05',
      durationSeconds: 1200,
      dataAgeSeconds: 10801,
      rpoSeconds: 93600,
      scratch: { identifier: created.identifier, resource: 'instance', secretName: created.secretName, endpoint: ready.endpoint },
      cleanup: { status: 'done', results: [`database ${created.identifier}: gone`, `secret ${created.secretName}: gone`] },
    });
    expect(r.failedStep).toBeUndefined();
    expect(r.checks.map((c) => [c.name, c.passed])).toEqual([
      ['table "public"."t"', true],
      ['query q', true],
      ['data age within RPO', true],
      ['cleanup', true],
    ]);
    // 480.5 s to available + 120.25 s restore + 3.5 s verify
    expect(r.timings).toEqual({ provisionSeconds: 480.5, restoreSeconds: 120.25, verifySeconds: 3.5, rtoSeconds: 604.25 });
    expect(r.emulated).toBeUndefined();
  });

  it('fails with the step, the error and its message when a step was caught, even if the cleanup worked', () => {
    const error = { Error: 'ChecksumMismatch', Cause: JSON.stringify({ errorType: 'ChecksumMismatch', errorMessage: 's3://b/k: sha256 is 00 but the manifest says 11', trace: ['x'] }) };
    const r = report({ backup, created, ready, error, cleanup });
    expect(r.status).toBe('FAILED');
    expect(r.failedStep).toBe('restore');
    expect(r.failureReasons).toEqual(['restore failed with ChecksumMismatch: s3://b/k: sha256 is 00 but the manifest says 11']);
    expect(r.error).toEqual({ error: 'ChecksumMismatch', cause: error.Cause });
    expect(r.timings).toEqual({ provisionSeconds: 480.5 });
  });

  it('names the step a run stopped at from what it collected', () => {
    expect(failedStep('dump', {})).toBe('pick');
    expect(failedStep('dump', { backup })).toBe('create');
    expect(failedStep('dump', { backup, created })).toBe('wait');
    expect(failedStep('dump', { backup, created, ready })).toBe('restore');
    expect(failedStep('snapshot', { backup, created, ready })).toBe('verify');
    expect(failedStep('dump', { backup, created, ready, restore })).toBe('verify');
  });

  it('fails on a failed check, listing it, and keeps the measured RTO in the report and its RTO metric only', () => {
    const verify = { ...verifyPassed, passed: false, checks: [{ name: 'table "public"."t"', passed: false, expected: 3, actual: 4, detail: 'row count differs from the manifest by 1' }] };
    const r = report({ backup, created, ready, restore, verify, cleanup });
    expect(r.status).toBe('FAILED');
    expect(r.failureReasons).toEqual(['verification failed 1 of 1 checks: table "public"."t" (row count differs from the manifest by 1)']);
    expect(r.timings.rtoSeconds).toBe(604.25);
    expect(recoveryTestMetrics(r)).toEqual([
      { name: 'RecoveryTestSucceeded', unit: 'Count', value: 0 },
      { name: 'BackupAgeSeconds', unit: 'Seconds', value: 10801 },
      { name: 'RecoveryTestRtoSeconds', unit: 'Seconds', value: 604.25 },
    ]);
  });

  it('fails data older than the RPO', () => {
    const r = report({ backup: { ...backup, ageSeconds: 100_000, withinRpo: false }, created, ready, restore, verify: verifyPassed, cleanup });
    expect(r.status).toBe('FAILED');
    expect(r.failureReasons).toEqual(['data age 100000 s exceeds the RPO of 93600 s']);
    expect(r.checks.find((c) => c.name === 'data age within RPO')).toMatchObject({ passed: false, actual: 100000 });
  });

  it('fails a cleanup that failed, whether the Parallel was caught or a branch recorded its failure', () => {
    const caught = report({ backup, created, ready, restore, verify: verifyPassed, cleanupError: { Error: 'States.Runtime', Cause: 'boom' } });
    expect(caught.status).toBe('FAILED');
    expect(caught.cleanup).toMatchObject({ status: 'failed', error: { error: 'States.Runtime', cause: 'boom' } });
    const branch = report({
      backup,
      created,
      ready,
      restore,
      verify: verifyPassed,
      cleanup: [cleanup[0], { what: 'secret', status: 'failed', error: { Error: 'InternalServiceError', Cause: 'unreachable' } }],
    });
    expect(branch.status).toBe('FAILED');
    expect(branch.cleanup).toEqual({
      status: 'failed',
      results: [`database ${created.identifier}: gone`, 'secret: failed'],
      error: { error: 'InternalServiceError', cause: 'secret cleanup: unreachable' },
    });
    expect(branch.failureReasons).toEqual([expect.stringMatching(/^cleanup failed with InternalServiceError: scratch resources may remain/)]);
    const missing = report({ backup, created, ready, restore, verify: verifyPassed });
    expect(missing.cleanup.error?.error).toBe('CleanupDidNotRun');
  });

  it('fails a run that reached the report without verifying and without an error', () => {
    expect(report({ backup, created, ready, restore, cleanup }).failureReasons).toEqual(['the verification did not run']);
  });

  it('truncates long causes and keeps what was emulated', () => {
    const r = report({ error: { Error: 'X', Cause: 'c'.repeat(10_000) }, cleanup }, { emulated: ['moto has no server'] });
    expect(r.error?.cause).toHaveLength(8192 + '… (truncated)'.length);
    expect(r.emulated).toEqual(['moto has no server']);
    expect(r.failureReasons[0]).toHaveLength('pick failed with X: '.length + 501);
  });
});

describe('parseRecoveryReportEvent', () => {
  it.each<[Record<string, unknown>, RegExp]>([
    [{ workflow: 'backup' }, /workflow must be one of 'recovery-test'/],
    [{ kind: 'tape' }, /kind must be one of 'dump', 'snapshot'/],
    [{ state: [] }, /state must be an object/],
    [{ state: { cleanup: {} } }, /state.cleanup must be the array the cleanup Parallel returns/],
    [{ state: { error: { Cause: 'x' } } }, /state.error.Error must be a non-empty string/],
    [{ emulated: 'yes' }, /emulated must be an array of strings/],
    [{ startedAt: 'yesterday' }, /startedAt must be an ISO-8601 timestamp/],
  ])('refuses %j', (override, message) => {
    expect(() => parseRecoveryReportEvent({ ...event({}), ...override })).toThrow(InvalidInput);
    expect(() => parseRecoveryReportEvent({ ...event({}), ...override })).toThrow(message);
  });
});

describe('report key, metrics and notification', () => {
  const r = report({ selection: { latest: true }, backup, created, ready, restore, verify: verifyPassed, cleanup });

  it('dates the key by the run start and keeps it key-safe', () => {
    expect(recoveryReportKey(r)).toBe('reports/recovery-test/2024/05/05/20240505T050000.000Z-weekly-2024-05-05.json');
    expect(recoveryReportKey({ startedAt: r.startedAt, executionName: 'a b/c' })).toBe('reports/recovery-test/2024/05/05/20240505T050000.000Z-a-b-c.json');
  });

  it('publishes success, data age and the measured RTO for a passed test', () => {
    expect(recoveryTestMetrics(r)).toEqual([
      { name: 'RecoveryTestSucceeded', unit: 'Count', value: 1 },
      { name: 'BackupAgeSeconds', unit: 'Seconds', value: 10801 },
      { name: 'RestoreDurationSeconds', unit: 'Seconds', value: 604.25 },
      { name: 'RecoveryTestRtoSeconds', unit: 'Seconds', value: 604.25 },
    ]);
  });

  it('publishes only the failure when no backup was picked', () => {
    const failed = report({ error: { Error: 'BackupNotFound', Cause: 'none' }, cleanup });
    expect(recoveryTestMetrics(failed)).toEqual([{ name: 'RecoveryTestSucceeded', unit: 'Count', value: 0 }]);
  });

  it('writes a short ASCII subject and a JSON message with the outcome and where the report is', () => {
    const n = recoveryNotification(r, 'reports/recovery-test/k.json', 'bucket-1');
    expect(n.subject).toBe('cdk-backup-dr SUCCEEDED: recovery test of prod in us-east-1');
    expect(notificationJson(n)).toEqual({
      workflow: 'recovery-test',
      status: 'SUCCEEDED',
      what: 'recovery test',
      source: 'prod',
      region: 'us-east-1',
      account: expect.stringMatching(/^\d{12}$/),
      executionId: EXECUTION,
      console: expect.stringContaining('https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/'),
      report: 's3://bucket-1/reports/recovery-test/k.json',
      nextStep: expect.stringContaining('Nothing to do'),
      backup: backup.id,
      dataAsOf: backup.dataAsOf,
      dataAgeSeconds: 10801,
      rtoSeconds: 604.25,
      checks: { total: 4, failed: 0 },
      cleanup: 'done',
    });
    const long = recoveryNotification({ ...r, source: `ünïcode-${'x'.repeat(200)}` }, 'k', 'b');
    expect(long.subject).toHaveLength(99);
    expect(long.subject).toMatch(/\.\.\. in us-east-1$/);
    expect(long.subject).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe('causeMessage and measureTimings', () => {
  it('takes a Lambda error\'s message, or the cause as it is', () => {
    expect(causeMessage(JSON.stringify({ errorType: 'E', errorMessage: 'the reason' }))).toBe('the reason');
    expect(causeMessage('States.Timeout: the state timed out')).toBe('States.Timeout: the state timed out');
    expect(causeMessage(undefined)).toBeUndefined();
  });
  it('measures snapshot runs without a restore step', () => {
    expect(measureTimings('snapshot', { created, ready, verify: verifyPassed })).toEqual({ provisionSeconds: 480.5, verifySeconds: 3.5, rtoSeconds: 484 });
    expect(measureTimings('dump', { created, ready, verify: verifyPassed })).toEqual({ provisionSeconds: 480.5, verifySeconds: 3.5 });
  });
});
