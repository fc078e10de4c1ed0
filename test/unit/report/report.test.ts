import { InvalidInput } from '../../../lambda/common/errors';
import {
  BackupReport,
  backupReportKey,
  backupRunMetrics,
  buildBackupReport,
  parseBackupReportEvent,
} from '../../../lambda/reporting/backup-report';
import { MAX_CAUSE_LENGTH, executionNameFromId } from '../../../lambda/reporting/run-report';

const EXECUTION_ID = 'arn:aws:states:us-east-1:123456789012:execution:BackupWorkflow:run-42';
const STARTED = '2024-01-31T02:00:00.000Z';
const FINISHED = new Date('2024-01-31T02:12:30.500Z');

const SNAPSHOT = {
  kind: 'instance',
  snapshotId: 'cdkbdr-db1-20240131020000',
  snapshotArn: 'arn:aws:rds:us-east-1:123456789012:snapshot:cdkbdr-db1-20240131020000',
  region: 'us-east-1',
  status: 'creating',
};
const DR_COPY = { ...SNAPSHOT, region: 'us-west-2', snapshotArn: SNAPSHOT.snapshotArn.replace('us-east-1', 'us-west-2') };

/** What the BackupWorkflow's "Report success" task sends: the Parallel output in `results`. */
const PARALLEL_EVENT = {
  workflow: 'backup',
  status: 'SUCCEEDED',
  executionId: EXECUTION_ID,
  executionName: 'run-42',
  startedAt: STARTED,
  tiers: ['weekly', 'daily'],
  results: [
    {
      dumps: [
        { database: 'app', manifestKey: 'postgres/src/app/2024/01/31/x.manifest.json', bytes: 1000 },
        { database: 'crm', manifestKey: 'postgres/src/crm/2024/01/31/x.manifest.json', manifest: { bytes: 234 } },
      ],
      verification: [{ manifestKey: 'postgres/src/app/2024/01/31/x.manifest.json', ok: true }],
    },
    { snapshot: SNAPSHOT, drCopy: DR_COPY },
  ],
};

function invalid(event: unknown): string {
  try {
    parseBackupReportEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInput);
    return (error as Error).message;
  }
  throw new Error('expected the event to be rejected');
}

describe('parseBackupReportEvent', () => {
  test('merges the Parallel branch outputs into dumps, verification, snapshot and drCopy', () => {
    const summary = parseBackupReportEvent(PARALLEL_EVENT);
    expect(summary.tiers).toEqual(['daily', 'weekly']);
    expect(summary.dumps.map((d) => d.database)).toEqual(['app', 'crm']);
    expect(summary.verification).toHaveLength(1);
    expect(summary.snapshot?.snapshotId).toBe(SNAPSHOT.snapshotId);
    expect(summary.drCopy?.region).toBe('us-west-2');
    expect(summary.error).toBeUndefined();
  });

  test('accepts the same data as top-level fields, and derives executionName from the ARN', () => {
    const summary = parseBackupReportEvent({
      workflow: 'backup',
      status: 'SUCCEEDED',
      executionId: EXECUTION_ID,
      startedAt: STARTED,
      tiers: ['daily'],
      snapshot: SNAPSHOT,
    });
    expect(summary.executionName).toBe('run-42');
    expect(summary.dumps).toEqual([]);
    expect(summary.snapshot).toEqual(SNAPSHOT);
  });

  test('a FAILED run carries the caught error', () => {
    const summary = parseBackupReportEvent({
      workflow: 'backup',
      status: 'FAILED',
      executionId: EXECUTION_ID,
      startedAt: STARTED,
      tiers: ['daily'],
      error: { Error: 'SnapshotFailed', Cause: '{"errorMessage":"snapshot is failed"}' },
    });
    expect(summary.error).toEqual({ Error: 'SnapshotFailed', Cause: '{"errorMessage":"snapshot is failed"}' });
  });

  test.each([
    { event: { ...PARALLEL_EVENT, workflow: 'restore' }, message: "workflow must be one of 'backup'" },
    { event: { ...PARALLEL_EVENT, status: 'DONE' }, message: "status must be one of 'SUCCEEDED', 'FAILED'" },
    { event: { ...PARALLEL_EVENT, executionId: '' }, message: 'executionId must be a non-empty string' },
    { event: { ...PARALLEL_EVENT, startedAt: 'now' }, message: 'startedAt must be an ISO-8601 timestamp' },
    { event: { ...PARALLEL_EVENT, tiers: ['hourly'] }, message: "tiers[0] must be one of 'daily'" },
    { event: { ...PARALLEL_EVENT, results: {} }, message: 'results must be an array of objects' },
    { event: { ...PARALLEL_EVENT, results: [{ dumps: [{ bytes: -5 }] }] }, message: 'results[0].dumps[0].bytes must be at least 0' },
    { event: { ...PARALLEL_EVENT, results: [{ snapshot: { kind: 'instance' } }] }, message: 'results[0].snapshot.snapshotId must be a non-empty string' },
    { event: { ...PARALLEL_EVENT, status: 'FAILED' }, message: 'error must be given for a FAILED run' },
    { event: { ...PARALLEL_EVENT, status: 'FAILED', error: { Cause: 'x' } }, message: 'error.Error must be a non-empty string' },
  ])('rejects with: $message', ({ event, message }) => {
    expect(invalid(event)).toContain(message);
  });
});

/** What the BackupWorkflow's Map sends: each database's outcome, one of them failed. */
const PER_DATABASE_EVENT = {
  ...PARALLEL_EVENT,
  results: [
    {
      databases: [
        {
          database: 'app',
          status: 'SUCCEEDED',
          dump: { database: 'app', manifestKey: 'postgres/src/app/2024/01/31/x.manifest.json', bytes: 1000 },
          verification: { manifestKey: 'postgres/src/app/2024/01/31/x.manifest.json', status: 'verified' },
        },
        { database: 'crm', status: 'FAILED', error: { Error: 'DumpFailed', Cause: 'cannot connect: database "crm" does not exist' } },
      ],
    },
    { snapshot: SNAPSHOT },
  ],
};

describe('per-database outcomes', () => {
  test('the report lists each database; one failed database fails the run, naming it and the one that was backed up', () => {
    const report = buildBackupReport(parseBackupReportEvent(PER_DATABASE_EVENT), { source: 'orders-db', finishedAt: FINISHED });
    expect(report.databases).toEqual([
      { database: 'app', status: 'SUCCEEDED', manifestKey: 'postgres/src/app/2024/01/31/x.manifest.json', bytes: 1000, verification: 'verified' },
      { database: 'crm', status: 'FAILED', error: { error: 'DumpFailed', cause: 'cannot connect: database "crm" does not exist' } },
    ]);
    expect(report.status).toBe('FAILED');
    expect(report.error).toEqual({
      error: 'DumpFailed',
      cause: '1 of 2 database(s) failed (crm: DumpFailed: cannot connect: database "crm" does not exist); backed up: app',
    });
    expect(report.totals).toEqual({ dumps: 1, dumpBytes: 1000, snapshots: 1, databasesFailed: 1 });
    expect(report.dumps.map((d) => d.database)).toEqual(['app']);
    expect(report.verification).toEqual([{ manifestKey: 'postgres/src/app/2024/01/31/x.manifest.json', status: 'verified' }]);
    expect(backupRunMetrics(report)).toContainEqual({ name: 'BackupSucceeded', unit: 'Count', value: 0 });
  });

  test('every database backed up: SUCCEEDED, no error', () => {
    const [first] = PER_DATABASE_EVENT.results[0].databases ?? [];
    const report = buildBackupReport(parseBackupReportEvent({ ...PER_DATABASE_EVENT, results: [{ databases: [first] }] }), { source: 'db', finishedAt: FINISHED });
    expect(report.status).toBe('SUCCEEDED');
    expect(report.error).toBeUndefined();
    expect(report.totals.databasesFailed).toBe(0);
  });

  test('a failed snapshot (caught in its branch, so the dumps ran on) fails the run; the databases all backed up', () => {
    const [first] = PER_DATABASE_EVENT.results[0].databases ?? [];
    const snapshotError = { Error: 'DBInstanceNotFound', Cause: 'DBInstance orders-db not found.' };
    const report = buildBackupReport(parseBackupReportEvent({ ...PER_DATABASE_EVENT, results: [{ databases: [first] }, { snapshotError }] }), {
      source: 'orders-db',
      finishedAt: FINISHED,
    });
    expect(report.status).toBe('FAILED');
    expect(report.error).toEqual({ error: 'DBInstanceNotFound', cause: 'snapshot failed: DBInstanceNotFound: DBInstance orders-db not found.; every database was backed up' });
    expect(report.snapshotError).toEqual({ error: 'DBInstanceNotFound', cause: 'DBInstance orders-db not found.' });
    expect(report.totals).toEqual({ dumps: 1, dumpBytes: 1000, snapshots: 0, databasesFailed: 0 });
  });

  test('a failed snapshot and a failed database: the error is the database\'s, the cause names both', () => {
    const snapshotError = { Error: 'NotReady', Cause: 'snapshot x is still creating' };
    const report = buildBackupReport(parseBackupReportEvent({ ...PER_DATABASE_EVENT, results: [PER_DATABASE_EVENT.results[0], { snapshotError }] }), {
      source: 'orders-db',
      finishedAt: FINISHED,
    });
    expect(report.error?.error).toBe('DumpFailed');
    expect(report.error?.cause).toMatch(/^1 of 2 database\(s\) failed \(crm: .*\); backed up: app; snapshot failed: NotReady: snapshot x is still creating$/);
  });

  test('a snapshot-only run whose snapshot failed names only the snapshot', () => {
    const report = buildBackupReport(parseBackupReportEvent({ ...PARALLEL_EVENT, results: [{ snapshotError: { Error: 'SnapshotFailed' } }] }), {
      source: 'orders-db',
      finishedAt: FINISHED,
    });
    expect(report.error).toEqual({ error: 'SnapshotFailed', cause: 'snapshot failed: SnapshotFailed' });
  });

  test('rejects a snapshotError that is not a Catch result', () => {
    expect(invalid({ ...PARALLEL_EVENT, results: [{ snapshotError: 'broken' }] })).toContain('results[0].snapshotError');
  });

  test.each([
    [{ database: 'crm', status: 'FAILED' }, 'results[0].databases[0].error must be given for a FAILED database'],
    [{ database: 'crm', status: 'DONE' }, "results[0].databases[0].status must be one of 'SUCCEEDED', 'FAILED'"],
    [{ database: 'app', status: 'SUCCEEDED', verification: {} }, 'results[0].databases[0].dump must be an object'],
  ])('rejects a malformed database result %j', (item, message) => {
    expect(invalid({ ...PARALLEL_EVENT, results: [{ databases: [item] }] })).toContain(message);
  });
});

describe('buildBackupReport', () => {
  test('records the run with totals and duration', () => {
    const report = buildBackupReport(parseBackupReportEvent(PARALLEL_EVENT), { source: 'orders-db', finishedAt: FINISHED });
    expect(report).toMatchObject({
      schemaVersion: 1,
      workflow: 'backup',
      source: 'orders-db',
      status: 'SUCCEEDED',
      executionId: EXECUTION_ID,
      executionName: 'run-42',
      tiers: ['daily', 'weekly'],
      startedAt: STARTED,
      finishedAt: '2024-01-31T02:12:30.500Z',
      durationSeconds: 750.5,
      totals: { dumps: 2, dumpBytes: 1234, snapshots: 2 },
    });
    expect(report.snapshot).toEqual(SNAPSHOT);
    expect(report.drCopy).toEqual(DR_COPY);
    expect(report.error).toBeUndefined();
  });

  test('keeps the error of a failed run, truncating a huge cause', () => {
    const cause = 'x'.repeat(MAX_CAUSE_LENGTH + 100);
    const report = buildBackupReport(
      parseBackupReportEvent({ ...PARALLEL_EVENT, results: undefined, status: 'FAILED', error: { Error: 'States.Timeout', Cause: cause } }),
      { source: 'orders-db', finishedAt: FINISHED },
    );
    expect(report.status).toBe('FAILED');
    expect(report.error?.error).toBe('States.Timeout');
    expect(report.error?.cause).toHaveLength(MAX_CAUSE_LENGTH + '… (truncated)'.length);
    expect(report.totals).toEqual({ dumps: 0, dumpBytes: 0, snapshots: 0, databasesFailed: 0 });
  });
});

describe('backupReportKey', () => {
  test('is reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json, dated by the start (UTC)', () => {
    expect(backupReportKey({ startedAt: '2024-01-31T23:59:59.123Z', executionName: 'run-42' })).toBe(
      'reports/backup/2024/01/31/20240131T235959.123Z-run-42.json',
    );
  });

  test('makes any execution name safe for a key', () => {
    expect(backupReportKey({ startedAt: STARTED, executionName: 'manual run/1 ü' })).toBe(
      'reports/backup/2024/01/31/20240131T020000.000Z-manual-run-1.json',
    );
  });

  test('executionNameFromId handles standard and express ARNs and plain names', () => {
    expect(executionNameFromId(EXECUTION_ID)).toBe('run-42');
    expect(executionNameFromId('arn:aws:states:us-east-1:123456789012:express:M:run-7:7f1c')).toBe('run-7');
    expect(executionNameFromId('local-execution')).toBe('local-execution');
  });
});

describe('backupRunMetrics', () => {
  const base = (overrides: Partial<BackupReport>): BackupReport => ({
    ...buildBackupReport(parseBackupReportEvent(PARALLEL_EVENT), { source: 'orders-db', finishedAt: FINISHED }),
    ...overrides,
  });

  test('a successful run with dumps publishes all four metrics', () => {
    expect(backupRunMetrics(base({}))).toEqual([
      { name: 'BackupSucceeded', unit: 'Count', value: 1 },
      { name: 'BackupDurationSeconds', unit: 'Seconds', value: 750.5 },
      { name: 'BackupBytes', unit: 'Bytes', value: 1234 },
      { name: 'LastSuccessTimestamp', unit: 'None', value: Math.floor(FINISHED.getTime() / 1000) },
    ]);
  });

  test('a failed run publishes BackupSucceeded 0 and no LastSuccessTimestamp', () => {
    const names = backupRunMetrics(base({ status: 'FAILED' }));
    expect(names).toContainEqual({ name: 'BackupSucceeded', unit: 'Count', value: 0 });
    expect(names.map((m) => m.name)).not.toContain('LastSuccessTimestamp');
  });

  test('a snapshot-only run publishes no BackupBytes', () => {
    const names = backupRunMetrics(base({ totals: { dumps: 0, dumpBytes: 0, snapshots: 1, databasesFailed: 0 } })).map((m) => m.name);
    expect(names).toEqual(['BackupSucceeded', 'BackupDurationSeconds', 'LastSuccessTimestamp']);
  });
});
