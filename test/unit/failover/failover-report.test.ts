import {
  FailoverReportEvent,
  FailoverRunState,
  buildFailoverReport,
  failedFailoverStep,
  failoverMetrics,
  failoverNotification,
  failoverReportKey,
  measureFailoverTimings,
  parseFailoverReportEvent,
} from '../../../lambda/reporting/failover-report';
import { notificationJson } from '../../../lambda/reporting/notification';

const EXECUTION = 'arn:aws:states:us-west-2:111111111111:execution:Failover:drill-7';
const STARTED = '2024-05-01T12:00:00.000Z';
const FINISHED = new Date('2024-05-01T12:30:00.000Z');
const NAMES = { resource: 'instance', identifier: 'cdkbdr-fo-drill-7-1a2b3c4d', instanceIdentifier: 'cdkbdr-fo-drill-7-1a2b3c4d', secretName: 'cdk-backup-dr/failover/cdkbdr-fo-drill-7-1a2b3c4d' };
const POINT = { kind: 'snapshot', id: 'cdkbdr-orders-20240501030000', dataAsOf: '2024-05-01T03:00:00.000Z', ageSeconds: 32400, rpoSeconds: 86400, withinRpo: true, detail: 'd' };
const ENDPOINT = { host: 'cdkbdr-fo-drill-7-1a2b3c4d.abc.us-west-2.rds.amazonaws.com', port: 5432 };

function event(state: FailoverRunState, overrides: Partial<FailoverReportEvent> = {}): FailoverReportEvent {
  return { workflow: 'failover', executionId: EXECUTION, startedAt: STARTED, repointConfigured: true, state, ...overrides };
}

function restored(dryRun: boolean): FailoverRunState {
  return {
    input: { strategy: 'restore-snapshot', dryRun, reason: 'drill' },
    request: { strategy: 'restore-snapshot', dryRun, acceptDataLoss: false, reason: 'drill' },
    plan: { strategy: 'restore-snapshot', dryRun, acceptDataLoss: false, names: NAMES, recoveryPoint: POINT },
    created: { ...NAMES, secretArn: 'arn:aws:secretsmanager:us-west-2:111111111111:secret:x', startedAt: '2024-05-01T12:01:00.000Z' },
    password: { identifier: NAMES.identifier, status: 'resetting-master-credentials', at: '2024-05-01T12:11:00.000Z' },
    database: { identifier: NAMES.identifier, kind: 'instance', endpoint: ENDPOINT, secretArn: 'arn:s', status: 'available', availableAt: '2024-05-01T12:15:00.000Z' },
    verify: { passed: true, checks: [{ name: 'tables present', passed: true, actual: 6 }, { name: 'query orders', passed: true }], durationSeconds: 2.5 },
  };
}

function report(state: FailoverRunState, overrides: Partial<FailoverReportEvent> = {}) {
  return buildFailoverReport(parseFailoverReportEvent(event(state, overrides)), { source: 'orders-db', finishedAt: FINISHED });
}

describe('failover report: outcome', () => {
  it('a rehearsal that restored, verified and cleaned up SUCCEEDED, with the measured RTO and data-loss window', () => {
    const r = report({
      ...restored(true),
      cleanup: [
        { what: 'database', names: [NAMES.identifier], status: 'gone' },
        { what: 'secret', names: [NAMES.secretName], status: 'gone' },
      ],
    });
    expect(r).toMatchObject({
      status: 'SUCCEEDED',
      mode: 'rehearsal',
      failureReasons: [],
      executionName: 'drill-7',
      dataLossWindowSeconds: 32400,
      cleanup: { status: 'done', results: [`database ${NAMES.identifier}: gone`, `secret ${NAMES.secretName}: gone`] },
      database: { identifier: NAMES.identifier, endpoint: ENDPOINT },
      durationSeconds: 1800,
    });
    // 12:00 start -> 12:15 available (900 s) + 2.5 s verify; provisioning 12:01 -> 12:15.
    expect(r.timings).toEqual({ provisionSeconds: 840, verifySeconds: 2.5, rtoSeconds: 902.5 });
    expect(r.checks.map((c) => [c.name, c.passed])).toEqual([
      ['tables present', true],
      ['query orders', true],
      ['data age within RPO', true],
      ['cleanup', true],
    ]);
    expect(r.resourcesKept).toBeUndefined();
    expect(r.failback).toBeUndefined();
    expect(failoverMetrics(r)).toEqual([
      { name: 'FailoverSucceeded', unit: 'Count', value: 1 },
      { name: 'DataLossWindowSeconds', unit: 'Seconds', value: 32400 },
      { name: 'FailoverDurationSeconds', unit: 'Seconds', value: 902.5 },
      { name: 'FailoverRtoSeconds', unit: 'Seconds', value: 902.5 },
    ]);
  });

  it('a real failover that repointed SUCCEEDED; it lists what it keeps and how to go back', () => {
    const r = report({
      ...restored(false),
      repoint: {
        at: '2024-05-01T12:16:00.000Z',
        durationSeconds: 1.5,
        changes: [
          { type: 'ssm-parameter', name: '/app/db', previous: 'old.example.com:5432', current: `${ENDPOINT.host}:5432`, action: 'updated' },
          { type: 'cname', name: 'db.example.internal.', previous: null, current: `${ENDPOINT.host} (TTL 60)`, action: 'created' },
        ],
      },
    });
    expect(r).toMatchObject({ status: 'SUCCEEDED', mode: 'failover', repoint: { at: '2024-05-01T12:16:00.000Z' } });
    expect(r.timings.rtoSeconds).toBe(904);
    expect(r.cleanup).toBeUndefined();
    expect(r.resourcesKept).toEqual([`instance ${NAMES.identifier} (deletion protection on)`, `secret ${NAMES.secretName} (its master credentials)`]);
    expect(r.failback).toEqual(
      expect.arrayContaining(['ssm-parameter /app/db: set back to old.example.com:5432', 'cname db.example.internal.: set back to (did not exist: delete it)']),
    );
  });

  describe('a real failover that did every step but took longer than its RTO', () => {
    const REPOINT = {
      at: '2024-05-01T12:16:00.000Z',
      durationSeconds: 1.5,
      changes: [{ type: 'ssm-parameter', name: '/app/db', previous: 'old.example.com:5432', current: `${ENDPOINT.host}:5432`, action: 'updated' }],
    };
    const overRto = (state: FailoverRunState, overrides: Partial<FailoverReportEvent> = {}) =>
      buildFailoverReport(parseFailoverReportEvent(event(state, overrides)), { source: 'orders-db', finishedAt: FINISHED }, { seconds: 600, enforced: true });

    it('FAILED with a subject that says the DB is up, and a next step that says not to fail over again', () => {
      const r = overRto({ ...restored(false), repoint: REPOINT });
      expect(r.status).toBe('FAILED');
      expect(r.failureReasons).toEqual([expect.stringMatching(/measured RTO of 904 s exceeds the target of 600 s/)]);
      const n = failoverNotification(r, 'reports/failover/k.json', 'bucket');
      expect(n.subject).toBe('cdk-backup-dr FAILED: FAILOVER (DB up, over RTO) of orders-db in us-west-2');
      expect(n.subject.length).toBeLessThan(100);
      const next = notificationJson(n).nextStep as string;
      expect(next).toMatch(new RegExp(`^The DR database is up \\(${NAMES.identifier}\\) and the application was repointed to it\\. Do NOT run the failover again`));
      expect(next).not.toMatch(/start it again/);
    });

    it('without a repoint configured, the next step says to point the application at it', () => {
      const r = overRto(restored(false), { repointConfigured: false });
      const n = failoverNotification(r, 'reports/failover/k.json', 'bucket');
      expect(n.subject).toMatch(/^cdk-backup-dr FAILED: FAILOVER \(DB up, over RTO\) of orders-db/);
      expect(notificationJson(n).nextStep).toMatch(/nothing was repointed \(no repoint configured\): point the application at it now\. Do NOT run the failover again/);
    });

    it('is a plain FAILOVER failure when something else failed too (the repoint did not run), or when within the RTO', () => {
      const alsoUnrepointed = failoverNotification(overRto(restored(false)), 'k', 'b');
      expect(alsoUnrepointed.subject).toBe('cdk-backup-dr FAILED: FAILOVER of orders-db in us-west-2');
      const within = buildFailoverReport(parseFailoverReportEvent(event({ ...restored(false), repoint: REPOINT })), { source: 'orders-db', finishedAt: FINISHED }, { seconds: 3600, enforced: true });
      expect(within.status).toBe('SUCCEEDED');
      expect(failoverNotification(within, 'k', 'b').subject).toBe('cdk-backup-dr SUCCEEDED: FAILOVER of orders-db in us-west-2');
    });

    it('a real failover whose repoint failed says the DB is up and not to fail over again', () => {
      const failed = report({
        ...restored(false),
        error: { Error: 'RepointFailed', Cause: JSON.stringify({ errorType: 'RepointFailed', errorMessage: 'ssm:PutParameter AccessDenied', trace: [] }) },
      });
      expect(failed).toMatchObject({ status: 'FAILED', failedStep: 'repoint' });
      const n = failoverNotification(failed, 'reports/failover/k.json', 'bucket');
      expect(n.subject).toBe('cdk-backup-dr FAILED: FAILOVER (DB up) of orders-db in us-west-2 at repoint');
      expect(n.subject.length).toBeLessThan(100);
      const next = notificationJson(n).nextStep as string;
      expect(next).toMatch(new RegExp(`^The DR database is up and verified \\(${NAMES.identifier}\\), but the repoint failed part-way`));
      expect(next).toMatch(/Do NOT run the failover again/);
      expect(next).toMatch(/Stop writes to the old primary/);
      expect(next).not.toMatch(/start it again/);
      // Failing earlier (verify) is still a plain failure: the database is not known to be good.
      const earlier = report({ ...restored(false), verify: undefined, error: { Error: 'VerificationFailed', Cause: 'x' } });
      expect(earlier.failedStep).toBe('verify');
      expect(failoverNotification(earlier, 'k', 'b').subject).toBe('cdk-backup-dr FAILED: FAILOVER of orders-db in us-west-2 at verify');
      expect(notificationJson(failoverNotification(earlier, 'k', 'b')).nextStep).toMatch(/start it again/);
    });

    it('a rehearsal over its RTO keeps the rehearsal wording', () => {
      const r = overRto({ ...restored(true), cleanup: [{ what: 'database', names: [NAMES.identifier], status: 'gone' }, { what: 'secret', names: [NAMES.secretName], status: 'gone' }] });
      const n = failoverNotification(r, 'k', 'b');
      expect(n.subject).toBe('cdk-backup-dr FAILED: failover rehearsal of orders-db in us-west-2');
      expect(notificationJson(n).nextStep).toMatch(/^The rehearsal took longer than the RTO/);
    });
  });

  it('a real failover that verified but did not repoint FAILED: the application still points at the old endpoint', () => {
    const r = report(restored(false));
    expect(r.status).toBe('FAILED');
    expect(r.failureReasons).toEqual(['the repoint did not run: the application still points at the old endpoint']);
    expect(report(restored(false), { repointConfigured: false }).status).toBe('SUCCEEDED');
  });

  it('a failed check fails the run and names the check; no duration metric is published', () => {
    const state = { ...restored(true), verify: { passed: false, checks: [{ name: 'query orders', passed: false, detail: 'returned false' }], durationSeconds: 1 }, cleanup: [] };
    const r = report(state);
    expect(r.status).toBe('FAILED');
    expect(r.failureReasons).toEqual(['verification failed 1 of 1 checks: query orders (returned false)']);
    expect(failoverMetrics(r).map((m) => m.name)).toEqual(['FailoverSucceeded', 'DataLossWindowSeconds', 'FailoverRtoSeconds']);
    expect(failoverMetrics(r)[0].value).toBe(0);
  });

  it('a rehearsal whose cleanup failed or did not run FAILED, saying what may remain', () => {
    const failed = report({ ...restored(true), cleanupError: { Error: 'FailoverResourceNotOwned', Cause: JSON.stringify({ errorType: 'FailoverResourceNotOwned', errorMessage: 'left alone' }) } });
    expect(failed.status).toBe('FAILED');
    expect(failed.cleanup).toMatchObject({ status: 'failed', error: { error: 'FailoverResourceNotOwned' } });
    expect(failed.failureReasons).toEqual([
      'cleanup failed with FailoverResourceNotOwned: rehearsal resources may remain (names start with cdkbdr-fo- and cdk-backup-dr/failover/)',
    ]);
    expect(failed.checks.find((c) => c.name === 'cleanup')).toEqual({ name: 'cleanup', passed: false, detail: 'FailoverResourceNotOwned: left alone' });
    expect(report(restored(true)).cleanup).toMatchObject({ status: 'failed', error: { error: 'CleanupDidNotRun' } });
  });

  it('a rehearsal whose cleanup branch gave up FAILED, with that branch error and every branch result', () => {
    const gaveUp = report({
      ...restored(true),
      cleanup: [
        { what: 'database', names: ['cdkbdr-fo-x'], status: 'gone' },
        { what: 'secret', status: 'failed', error: { Error: 'InternalServiceError', Cause: 'unreachable' } },
      ],
    });
    expect(gaveUp.status).toBe('FAILED');
    expect(gaveUp.cleanup).toEqual({
      status: 'failed',
      results: ['database cdkbdr-fo-x: gone', 'secret: failed'],
      error: { error: 'InternalServiceError', cause: 'secret cleanup: unreachable' },
    });
    expect(gaveUp.failureReasons).toEqual([expect.stringMatching(/^cleanup failed with InternalServiceError: rehearsal resources may remain/)]);
  });

  it('a caught error names the step it stopped at and the Lambda error message', () => {
    const state: FailoverRunState = {
      ...restored(true),
      database: undefined,
      password: undefined,
      verify: undefined,
      error: { Error: 'NotReady', Cause: JSON.stringify({ errorType: 'NotReady', errorMessage: 'instance x is "creating"', trace: [] }) },
      cleanup: [{ what: 'database', names: ['x'], status: 'gone' }],
    };
    const r = report(state);
    expect(r).toMatchObject({ status: 'FAILED', failedStep: 'wait', failureReasons: ['wait failed with NotReady: instance x is "creating"'] });
    expect(r.error).toEqual({ error: 'NotReady', cause: state.error?.Cause });
    expect(r.timings).toEqual({});
  });

  it('an invalid input is recorded as given, has no mode and publishes no metric', () => {
    const r = report({ input: { strategy: 'restore-snapshot', dryrun: true }, error: { Error: 'InvalidInput', Cause: '{"errorType":"InvalidInput","errorMessage":"invalid failover input: dryRun must be given explicitly"}' } });
    expect(r).toMatchObject({ status: 'FAILED', failedStep: 'validate', input: { strategy: 'restore-snapshot', dryrun: true } });
    expect(r.mode).toBeUndefined();
    expect(failoverMetrics(r)).toEqual([]);
    const note = failoverNotification(r, 'reports/failover/k.json', 'bucket');
    expect(note.subject).toBe('cdk-backup-dr FAILED: failover (invalid input) of orders-db in us-west-2 at validate');
    expect(notificationJson(note)).toMatchObject({ status: 'FAILED', report: 's3://bucket/reports/failover/k.json', failureReasons: ['validate failed with InvalidInput: invalid failover input: dryRun must be given explicitly'] });
  });

  it('records a replica rehearsal with the measured lag as its data-loss window and nothing to clean up', () => {
    const r = report({
      request: { strategy: 'promote-replica', dryRun: true, acceptDataLoss: true, reason: 'drill' },
      plan: { strategy: 'promote-replica', dryRun: true, acceptDataLoss: true, recoveryPoint: { kind: 'replica', id: 'orders-dr', rpoSeconds: 3600, detail: 'measured next' } },
      lag: { lagSeconds: 7200, inRecovery: true, measuredAt: '2024-05-01T12:00:05.000Z', recoveryPoint: { kind: 'replica', id: 'orders-dr', ageSeconds: 7200, rpoSeconds: 3600, withinRpo: false, detail: 'lag 2 h' } },
      database: { identifier: 'orders-dr', endpoint: ENDPOINT, availableAt: '2024-05-01T12:00:05.000Z' },
      verify: { passed: true, checks: [], durationSeconds: 1 },
    });
    expect(r).toMatchObject({ status: 'SUCCEEDED', dataLossWindowSeconds: 7200, cleanup: { status: 'not-needed' } });
    expect(r.checks).toEqual([
      { name: 'data age within RPO', passed: true, expected: '<= 3600 s', actual: 7200, detail: "the recovery point's data is 7200 s old, more than the RPO; accepted with acceptDataLoss" },
    ]);
  });
});

describe('failover report: steps, timings, key, parsing', () => {
  it('infers the failed step from what the run collected', () => {
    expect(failedFailoverStep({})).toBe('validate');
    expect(failedFailoverStep({ request: {} })).toBe('preflight');
    const promote = { request: {}, plan: { strategy: 'promote-replica', dryRun: false } };
    expect(failedFailoverStep(promote)).toBe('replica-lag');
    expect(failedFailoverStep({ ...promote, lag: {} })).toBe('promote');
    expect(failedFailoverStep({ ...promote, lag: {}, promotion: {} })).toBe('wait');
    expect(failedFailoverStep({ ...promote, lag: {}, promotion: {}, database: {} })).toBe('confirm-writable');
    expect(failedFailoverStep({ ...promote, lag: {}, promotion: {}, database: {}, writable: {} })).toBe('verify');
    const dump = { request: {}, plan: { strategy: 'restore-dump', dryRun: true } };
    expect(failedFailoverStep(dump)).toBe('create');
    expect(failedFailoverStep({ ...dump, created: {} })).toBe('wait');
    expect(failedFailoverStep({ ...dump, created: {}, database: {} })).toBe('restore');
    expect(failedFailoverStep({ ...dump, created: {}, database: {}, restore: {} })).toBe('verify');
    const pit = { request: {}, plan: { strategy: 'point-in-time', dryRun: false }, created: {} };
    expect(failedFailoverStep({ ...pit, database: {} })).toBe('set-password');
    expect(failedFailoverStep({ ...pit, database: {}, password: {}, verify: {} })).toBe('repoint');
  });

  it('counts the restore into the RTO of a dump, and needs it', () => {
    const state = { plan: { strategy: 'restore-dump' }, created: { startedAt: '2024-05-01T12:01:00Z' }, database: { availableAt: '2024-05-01T12:11:00Z' }, verify: { durationSeconds: 5 } };
    expect(measureFailoverTimings(state, STARTED, true).rtoSeconds).toBeUndefined();
    expect(measureFailoverTimings({ ...state, restore: { durationSeconds: 300 } }, STARTED, true)).toEqual({ provisionSeconds: 600, restoreSeconds: 300, verifySeconds: 5, rtoSeconds: 965 });
  });

  it('keys reports by the run start, with a safe execution name', () => {
    expect(failoverReportKey({ startedAt: STARTED, executionName: 'region outage/2024' })).toBe('reports/failover/2024/05/01/20240501T120000.000Z-region-outage-2024.json');
  });

  it('refuses a malformed event, naming the field', () => {
    expect(() => parseFailoverReportEvent({ ...event({}), workflow: 'backup' })).toThrow(/workflow must be one of 'failover'/);
    expect(() => parseFailoverReportEvent({ ...event({}), repointConfigured: undefined })).toThrow(/repointConfigured must be true or false/);
    expect(() => parseFailoverReportEvent(event({ cleanup: {} as never }))).toThrow(/state.cleanup must be the array/);
    expect(() => parseFailoverReportEvent(event({ plan: 'x' as never }))).toThrow(/state.plan must be an object/);
    expect(() => parseFailoverReportEvent({ ...event({}), emulated: [1] })).toThrow(/emulated must be an array of strings/);
  });

  it('truncates a huge cause in the report', () => {
    const r = report({ error: { Error: 'Boom', Cause: 'x'.repeat(10_000) } });
    expect(r.error?.cause?.endsWith('… (truncated)')).toBe(true);
    expect(r.error?.cause?.length).toBeLessThan(8300);
  });
});
