/**
 * The BackupWorkflow state machine of a synthesized PostgresBackup (RDS instance source: dump and snapshot branches,
 * snapshot copy to us-west-2), run by the local runner with the real dump, verify, snapshot and report handlers
 * in-process, against the harness' PostgreSQL and moto. See ./support/backup-fixture.ts for what is mapped.
 *
 * The success path, a manual run without tiers, and every failure path: each failure ends FAILED with the error
 * BackupFailed, after an SNS message that a queue subscribed to the topic in moto receives, and (unless the report
 * itself fails) a FAILED report in the bucket.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { harnessEnv } from '../support/env';
import type { JsonValue } from '../support/workflow-harness';
import { DR_REGION, createBackupWorkflowFixture, type BackupRun, type BackupWorkflowFixture } from './support/backup-fixture';

/** The dump branch of two databases backed up; the Map's items interleave, so branches are compared as multisets. */
const DUMP_STATES = ['Databases', 'Back up each database', 'Dump', 'Verify', 'Database backed up', 'Database failed', 'Dump result'];
const DUMP_BRANCH = ['Databases', 'Back up each database', 'Dump', 'Verify', 'Database backed up', 'Dump', 'Verify', 'Database backed up', 'Dump result'];
const SUCCEEDED_END = ['Report success', 'Report outcome', 'Backup succeeded'];
/** The end of a run whose branches completed but a database failed: the report says FAILED. */
const DATABASE_FAILED_END = ['Report success', 'Report outcome', 'Databases failed', 'Notify failure', 'Backup failed'];
const SNAPSHOT_BRANCH = ['Create snapshot', 'Wait for snapshot', 'Copy snapshot to DR region', 'Wait for DR copy', 'Snapshot result'];
/** Where the snapshot branch ends when any of its steps failed. */
const SNAPSHOT_FAILED = 'Snapshot failed';
/** Where it ends when its input is invalid: that stops the whole run. */
const SNAPSHOT_INPUT_INVALID = 'Snapshot input invalid';
const SNAPSHOT_STATES = [...SNAPSHOT_BRANCH, SNAPSHOT_FAILED, SNAPSHOT_INPUT_INVALID];
/** The subject of a run that could not write its report (the state's own message). */
const NO_REPORT_SUBJECT = 'cdk-backup-dr FAILED: backup (no report was written)';
/** The notification state when no report was written. */
const NOTIFY_NO_REPORT = 'Notify failure (no report)';

let fixture: BackupWorkflowFixture;

beforeAll(async () => {
  fixture = await createBackupWorkflowFixture();
}, 600_000);

afterEach(async () => {
  await fixture.reset();
});

afterAll(async () => {
  await fixture?.dispose();
});

type Json = Record<string, JsonValue>;

function asObject(value: JsonValue | undefined): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * The states visited: exactly `start`, then the two Parallel branches interleaved (each in its own order, each a
 * prefix of its branch: the whole branch unless `partial`), then exactly `end`.
 */
function expectVisited(
  run: BackupRun,
  expected: {
    readonly start: readonly string[];
    readonly dump: readonly string[] | 'partial';
    readonly snapshot: readonly string[] | 'partial';
    readonly end: readonly string[];
  },
): void {
  const { visited } = run.result;
  expect(visited.slice(0, expected.start.length)).toEqual(expected.start);
  expect(visited.slice(visited.length - expected.end.length)).toEqual(expected.end);
  const middle = visited.slice(expected.start.length, visited.length - expected.end.length);
  const dump = middle.filter((state) => DUMP_STATES.includes(state));
  if (expected.dump === 'partial') {
    expect(dump.every((state) => DUMP_STATES.includes(state))).toBe(true);
  } else {
    expect([...dump].sort()).toEqual([...expected.dump].sort());
  }
  const snapshot = middle.filter((state) => SNAPSHOT_STATES.includes(state));
  if (expected.snapshot === 'partial') {
    expect(snapshot).toEqual(SNAPSHOT_BRANCH.slice(0, snapshot.length));
  } else {
    expect(snapshot).toEqual(expected.snapshot);
  }
  expect(middle.filter((state) => !DUMP_STATES.includes(state) && !SNAPSHOT_STATES.includes(state))).toEqual([]);
}

/**
 * The run's new dump, globals and manifest objects by database:
 * `{ db: { dump: key@version, globals: key@version, manifest: key@version } }`.
 */
function backupsByDatabase(run: BackupRun): Record<string, { dump?: string; globals?: string; manifest?: string }> {
  const out: Record<string, { dump?: string; globals?: string; manifest?: string }> = {};
  for (const version of run.newVersions) {
    const [, , database] = version.split('/');
    const entry = (out[database] ??= {});
    if (/\.dump@/.test(version)) entry.dump = version;
    else if (/\.globals\.sql@/.test(version)) entry.globals = version;
    else if (/\.manifest\.json@/.test(version)) entry.manifest = version;
    else throw new Error(`unexpected object under the source prefix: ${version}`);
  }
  return out;
}

function splitVersion(version: string): { key: string; versionId: string } {
  const at = version.lastIndexOf('@');
  return { key: version.slice(0, at), versionId: version.slice(at + 1) };
}

async function readJson(key: string, versionId?: string): Promise<Json> {
  const object = await fixture.s3.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: key, VersionId: versionId }));
  return JSON.parse((await object.Body?.transformToString()) ?? '') as Json;
}

/**
 * The single failure notification of a run, parsed (what machines read: the `sqs` body), after checking its subject,
 * shape and attributes; with a report, its text body (what a person reads) too.
 */
function failureMessage(run: BackupRun): Json {
  expect(run.messages).toHaveLength(1);
  const [message] = run.messages;
  expect(message.topicArn).toBe(fixture.topicArn);
  const body = JSON.parse(message.message) as Json;
  if (run.report === undefined) {
    expect(message.subject).toBe(NO_REPORT_SUBJECT);
    expect(body).toEqual({
      workflow: 'backup',
      status: 'FAILED',
      execution: run.result.executionArn,
      tiers: expect.any(Array),
      error: expect.any(String),
      cause: expect.any(String),
      nextStep: expect.stringContaining('No report was written'),
    });
    return body;
  }
  const region = harnessEnv().awsRegion;
  expect(message.subject).toMatch(new RegExp(`^cdk-backup-dr FAILED: backup of ${fixture.instanceId} in ${region}( at .+)?$`));
  expect(message.subject?.length).toBeLessThan(100);
  expect(body).toMatchObject({
    workflow: 'backup',
    status: 'FAILED',
    source: fixture.instanceId,
    region,
    executionId: run.result.executionArn,
    execution: run.result.executionArn,
    console: expect.stringContaining(`https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/`),
    report: `s3://${fixture.bucket}/${run.report.key}`,
    tiers: expect.any(Array),
    error: expect.any(String),
    cause: expect.any(String),
    nextStep: expect.stringContaining('start a backup by hand'),
  });
  expect(message.attributes).toMatchObject({
    workflow: { Type: 'String', Value: 'backup' },
    status: { Type: 'String', Value: 'FAILED' },
    source: { Type: 'String', Value: fixture.instanceId },
    reportKey: { Type: 'String', Value: run.report.key },
  });
  // What a person reads: every fact in the text body (moto keeps the published document).
  const text = publishedText(run);
  expect(text).toContain(`Report: s3://${fixture.bucket}/${run.report.key}`);
  expect(text).toContain(`Execution: https://${region}.console.aws.amazon.com/`);
  expect(text).toMatch(/^Cause: .+/m);
  expect(text).toMatch(/^Next step: .+/m);
  return body;
}

/** The text body (`default`) of the run's single published message: what email subscribers read. */
function publishedText(run: BackupRun): string {
  expect(run.published).toHaveLength(1);
  return (JSON.parse(run.published[0].message) as { default: string }).default;
}

/** FAILED with BackupFailed, the notification naming `error`, and the cause of the Fail state being the step's. */
function expectFailed(run: BackupRun, error: string | RegExp, cause: RegExp): Json {
  expect(run.result.status).toBe('FAILED');
  expect(run.result.error).toBe('BackupFailed');
  expect(run.result.cause).toMatch(cause);
  const message = failureMessage(run);
  expect(message.error).toEqual(typeof error === 'string' ? error : expect.stringMatching(error));
  // The whole cause without a report; with one, the error and the cause, cut within the SNS limits (the report has all).
  if (run.report === undefined) {
    expect(message.cause).toMatch(cause);
    expect(message.cause).toBe(run.result.cause);
  } else {
    expect(String(message.cause)).toMatch(new RegExp(`^${String(message.error)}: `));
    expect(String(message.cause)).toContain(String(run.result.cause).slice(0, 200));
  }
  // No credential in anything a person reads.
  const { password } = harnessEnv().pg;
  expect(JSON.stringify(run.messages)).not.toContain(password);
  expect(run.result.cause).not.toContain(password);
  return message;
}

/** A FAILED report under reports/backup/ naming the same error as the notification. */
function expectFailedReport(run: BackupRun, message: Json, tiers: string[]): Json {
  expect(run.report).toBeDefined();
  const report = run.report?.body ?? {};
  expect(run.report?.key).toMatch(new RegExp(`^reports/backup/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{6}\\.\\d{3}Z-${run.executionName}\\.json$`));
  expect(report).toMatchObject({
    workflow: 'backup',
    source: fixture.instanceId,
    status: 'FAILED',
    executionId: run.result.executionArn,
    executionName: run.executionName,
    tiers,
    error: { error: message.error, cause: expect.any(String) },
  });
  // The notification carries the report's cause (cut within the SNS limits; the report has all of it).
  const reportError = report.error as { cause: string };
  expect(String(message.cause)).toContain(reportError.cause.slice(0, 200));
  expect(JSON.stringify(report)).not.toContain(harnessEnv().pg.password);
  expect(run.metrics.BackupSucceeded).toEqual([0]);
  expect(run.metrics.LastSuccessTimestamp).toBeUndefined();
  return report;
}

/** The failed dump left nothing: no object version, no manifest, no open multipart upload. */
function expectNothingLeftBy(run: BackupRun, database: string): void {
  expect(run.newVersions.filter((version) => version.includes(`/${database}/`))).toEqual([]);
  expect(run.openUploads).toEqual([]);
}

describe('BackupWorkflow of a PostgresBackup (RDS instance, snapshot copy to us-west-2), run locally', () => {
  it('success: dumps both databases, verifies each, snapshots and copies to the DR region, writes a SUCCEEDED report, sends no failure notification', async () => {
    const run = await fixture.run({ tiers: ['daily', 'weekly'] }, 'success');
    const [orders, billing] = fixture.databases;

    expect(run.result.status).toBe('SUCCEEDED');
    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: DUMP_BRANCH,
      snapshot: SNAPSHOT_BRANCH,
      end: SUCCEEDED_END,
    });

    // One dump, one globals object and one manifest per database, nothing else, no upload left open.
    const backups = backupsByDatabase(run);
    expect(Object.keys(backups).sort()).toEqual([orders.name, billing.name].sort());
    expect(run.newVersions).toHaveLength(6);
    expect(run.openUploads).toEqual([]);
    const expectedRows: Record<string, number> = { [orders.name]: 120, [billing.name]: 40 };
    const manifests: Record<string, Json> = {};
    for (const [database, { dump, globals, manifest }] of Object.entries(backups)) {
      if (dump === undefined || manifest === undefined || globals === undefined) throw new Error(`${database}: dump ${dump}, globals ${globals}, manifest ${manifest}`);
      const manifestLocation = splitVersion(manifest);
      const dumpLocation = splitVersion(dump);
      const globalsLocation = splitVersion(globals);
      const body = await readJson(manifestLocation.key, manifestLocation.versionId);
      manifests[database] = body;
      expect(body).toMatchObject({
        schemaVersion: 2,
        source: fixture.instanceId,
        database,
        tiers: ['daily', 'weekly'],
        s3: { bucket: fixture.bucket, key: dumpLocation.key, versionId: dumpLocation.versionId },
        globals: { key: globalsLocation.key, versionId: globalsLocation.versionId },
        // The synthesized dump task passes the default compression through to pg_dump and the manifest.
        compression: 'gzip:3',
      });
      expect(body.tables).toEqual([
        { schema: 'public', name: 'Customers', rows: 25 },
        { schema: 'shop', name: 'orders', rows: expectedRows[database] },
      ]);
      const head = await fixture.s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: dumpLocation.key, VersionId: dumpLocation.versionId }));
      expect(head.ContentLength).toBe(body.bytes);
      expect(head.ServerSideEncryption).toBe('aws:kms');
      expect(head.SSEKMSKeyId).toBe(fixture.bucketKeyArn);
    }

    // Verify ran once per dump, on that dump's manifest, and verified it.
    const verifyCalls = run.result.calls.filter((call) => call.state === 'Verify');
    expect(verifyCalls.map((call) => asObject(call.input).manifestKey).sort()).toEqual(
      Object.values(backups)
        .map((b) => splitVersion(b.manifest ?? '').key)
        .sort(),
    );
    for (const call of verifyCalls) {
      expect(asObject(call.output)).toMatchObject({ status: 'verified', checks: { sha256: { ok: true }, bytes: { ok: true }, versionId: { ok: true } } });
    }

    // The snapshot in us-east-1 and its copy in us-west-2, tagged, the copy under the DR key.
    const [primary] = await fixture.snapshots('primary');
    const [copy] = await fixture.snapshots('dr');
    expect(await fixture.snapshots('primary')).toHaveLength(1);
    expect(await fixture.snapshots('dr')).toHaveLength(1);
    expect(primary.snapshot).toMatchObject({ DBInstanceIdentifier: fixture.instanceId, Status: 'available', SnapshotType: 'manual' });
    expect(primary.tags).toEqual({
      'cdk-backup-dr:creator': 'cdk-backup-dr',
      'cdk-backup-dr:tiers': 'daily+weekly',
      'cdk-backup-dr:source': fixture.instanceId,
    });
    expect(copy.snapshot).toMatchObject({ Status: 'available', Encrypted: true, KmsKeyId: fixture.drKeyArn });
    expect(copy.snapshot.DBSnapshotArn).toMatch(new RegExp(`^arn:aws:rds:${DR_REGION}:`));
    expect(copy.tags).toEqual({ ...primary.tags, 'cdk-backup-dr:copied-from': primary.snapshot.DBSnapshotArn });

    // The report: SUCCEEDED, the tiers, what was dumped, verified and snapshotted.
    expect(run.report).toBeDefined();
    const report = run.report?.body ?? {};
    expect(run.report?.key).toMatch(new RegExp(`^reports/backup/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{6}\\.\\d{3}Z-${run.executionName}\\.json$`));
    expect(asObject(asObject(run.result.output).report)).toMatchObject({ reportKey: run.report?.key, status: 'SUCCEEDED' });
    const totalBytes = Object.values(manifests).reduce((sum, m) => sum + Number(m.bytes), 0);
    expect(report).toMatchObject({
      workflow: 'backup',
      source: fixture.instanceId,
      status: 'SUCCEEDED',
      executionId: run.result.executionArn,
      executionName: run.executionName,
      tiers: ['daily', 'weekly'],
      totals: { dumps: 2, dumpBytes: totalBytes, snapshots: 2, databasesFailed: 0 },
      snapshot: { kind: 'instance', snapshotId: primary.snapshot.DBSnapshotIdentifier, snapshotArn: primary.snapshot.DBSnapshotArn, region: 'us-east-1' },
      drCopy: { kind: 'instance', snapshotId: copy.snapshot.DBSnapshotIdentifier, snapshotArn: copy.snapshot.DBSnapshotArn, region: DR_REGION },
    });
    expect(report.error).toBeUndefined();
    expect((report.dumps as Json[]).map((d) => d.database).sort()).toEqual([orders.name, billing.name].sort());
    expect((report.verification as Json[]).map((v) => v.status)).toEqual(['verified', 'verified']);
    expect((report.databases as Json[]).map((d) => [d.database, d.status, d.verification])).toEqual([
      [orders.name, 'SUCCEEDED', 'verified'],
      [billing.name, 'SUCCEEDED', 'verified'],
    ]);
    const reportHead = await fixture.s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: run.report?.key }));
    expect(reportHead.SSEKMSKeyId).toBe(fixture.bucketKeyArn);
    expect(run.metrics).toMatchObject({ BackupSucceeded: [1], BackupBytes: [totalBytes], LastSuccessTimestamp: [expect.any(Number)] });

    // No failure notification.
    expect(run.messages).toEqual([]);

    // What ran differently from AWS is listed; the bound resources are not stand-ins.
    const emulated = fixture.emulatedOf(run);
    expect(emulated).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`^dump target: the template's target ${fixture.rdsEndpoint.address}:${fixture.rdsEndpoint.port} .* mapped .* to the test PostgreSQL 127\\.0\\.0\\.1:${harnessEnv().pg.port}`),
        ),
        expect.stringMatching(/^pg_dump: the host's pg_dump/),
        expect.stringMatching(/^Lambda BackupDumpFunction.* ran in-process/),
        expect.stringMatching(/^Lambda BackupVerifyFunction.* ran in-process/),
        expect.stringMatching(/^Lambda BackupSnapshotFunction.* ran in-process/),
        expect.stringMatching(/^Lambda BackupReportFunction.* ran in-process/),
        expect.stringMatching(/^IAM is not evaluated/),
      ]),
    );
    expect(emulated.filter((line) => /has no binding in resources/.test(line))).toEqual([]);
  });

  it('a manual run without tiers counts as daily: manifests, snapshot tags and report say ["daily"]', async () => {
    const run = await fixture.run({}, 'manual');

    expect(run.result.status).toBe('SUCCEEDED');
    expectVisited(run, {
      start: ['Tiers given?', 'Default tiers', 'Start run', 'Back up'],
      dump: DUMP_BRANCH,
      snapshot: SNAPSHOT_BRANCH,
      end: SUCCEEDED_END,
    });
    const manifests = Object.values(backupsByDatabase(run)).map((b) => splitVersion(b.manifest ?? ''));
    expect(manifests).toHaveLength(2);
    for (const { key, versionId } of manifests) {
      expect((await readJson(key, versionId)).tiers).toEqual(['daily']);
    }
    expect((await fixture.snapshots('primary')).map((s) => s.tags['cdk-backup-dr:tiers'])).toEqual(['daily']);
    expect((await fixture.snapshots('dr')).map((s) => s.tags['cdk-backup-dr:tiers'])).toEqual(['daily']);
    expect(run.report?.body).toMatchObject({ status: 'SUCCEEDED', tiers: ['daily'] });
    expect(run.messages).toEqual([]);
  });

  it('dump fails (wrong password in the secret): each database fails on its own, the snapshot is still taken; FAILED, notified with DumpFailed, FAILED report, nothing left in the bucket', async () => {
    const wrongPassword = await fixture.breakSecret();
    const run = await fixture.run({ tiers: ['daily'] }, 'wrong-password');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: ['Databases', 'Back up each database', 'Dump', 'Database failed', 'Dump', 'Database failed', 'Dump result'],
      snapshot: SNAPSHOT_BRANCH,
      end: DATABASE_FAILED_END,
    });
    // Each database's dump was tried twice (its Retry), in its own invocations.
    expect(run.result.calls.filter((call) => call.state === 'Dump').map((call) => asObject(call.input).database).sort()).toEqual(
      [...fixture.databases.map((d) => d.name), ...fixture.databases.map((d) => d.name)].sort(),
    );
    const message = expectFailed(run, 'DumpFailed', /password authentication failed/);
    expect(message.tiers).toEqual(['daily']);
    expect(JSON.stringify(run.messages)).not.toContain(wrongPassword);
    const report = expectFailedReport(run, message, ['daily']);
    expect(JSON.stringify(report)).not.toContain(wrongPassword);
    expect(run.newVersions).toEqual([]);
    expectNothingLeftBy(run, fixture.databases[0].name);
    expectNothingLeftBy(run, fixture.databases[1].name);
  });

  it('dump fails (second database missing): the other database is dumped and verified, the report lists both outcomes, the run ends FAILED naming the missing one', async () => {
    const [orders, billing] = fixture.databases;
    await fixture.hideSecondDatabase();
    const run = await fixture.run({ tiers: ['daily'] }, 'missing-database');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: ['Databases', 'Back up each database', 'Dump', 'Verify', 'Database backed up', 'Dump', 'Database failed', 'Dump result'],
      snapshot: SNAPSHOT_BRANCH,
      end: DATABASE_FAILED_END,
    });
    const verifyCalls = run.result.calls.filter((call) => call.state === 'Verify');
    expect(verifyCalls).toHaveLength(1);
    expect(asObject(verifyCalls[0].output)).toMatchObject({ status: 'verified', database: orders.name });
    const message = expectFailed(run, 'DumpFailed', new RegExp(`1 of 2 database\\(s\\) failed \\(${billing.name}: DumpFailed: .*does not exist.*backed up: ${orders.name}$`));
    const report = expectFailedReport(run, message, ['daily']);
    expect((report.databases as Json[]).map((d) => [d.database, d.status])).toEqual([
      [orders.name, 'SUCCEEDED'],
      [billing.name, 'FAILED'],
    ]);
    expect(report.totals).toMatchObject({ dumps: 1, databasesFailed: 1 });
    expectNothingLeftBy(run, billing.name);
    const completed = backupsByDatabase(run)[orders.name];
    expect(completed?.dump).toBeDefined();
    expect(completed?.manifest).toBeDefined();
    expect(completed?.globals).toBeDefined();
    expect(run.newVersions).toHaveLength(3);
  });

  it('manifest write denied after a multipart dump: each completed dump object is deleted again; FAILED naming the manifest step, nothing left', async () => {
    // ~12 MB of random text compresses to more than one 5 MiB part: the first database's dump is a multipart upload.
    await fixture.growFirstDatabase(12);
    await fixture.denyWrites('*.manifest.json');
    const run = await fixture.run({ tiers: ['daily'] }, 'manifest-denied');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: ['Databases', 'Back up each database', 'Dump', 'Database failed', 'Dump', 'Database failed', 'Dump result'],
      snapshot: SNAPSHOT_BRANCH,
      end: DATABASE_FAILED_END,
    });
    const message = expectFailed(run, 'DumpFailed', /writing the manifest s3:\/\/\S+\.manifest\.json failed: .*the dump object was deleted, no manifest was written/);
    expectFailedReport(run, message, ['daily']);
    expect(run.newVersions).toEqual([]);
    expectNothingLeftBy(run, fixture.databases[0].name);
    expectNothingLeftBy(run, fixture.databases[1].name);
  });

  it('dump write denied: the upload fails, nothing is left (no object, no open multipart upload); FAILED naming the upload', async () => {
    await fixture.denyWrites('postgres/*.dump');
    const run = await fixture.run({ tiers: ['daily'] }, 'dump-denied');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: ['Databases', 'Back up each database', 'Dump', 'Database failed', 'Dump', 'Database failed', 'Dump result'],
      snapshot: SNAPSHOT_BRANCH,
      end: DATABASE_FAILED_END,
    });
    const message = expectFailed(run, 'DumpFailed', /uploading s3:\/\/\S+\.dump failed: AccessDenied \(HTTP 403\)/);
    expectFailedReport(run, message, ['daily']);
    expect(run.newVersions).toEqual([]);
    expect(run.openUploads).toEqual([]);
  });

  it('verify fails (the second dump\'s version is deleted and other bytes written in its place): FAILED, notified with VerificationFailed naming it, FAILED report', async () => {
    const [orders, billing] = fixture.databases;
    const tampered: Record<string, string> = {};
    fixture.beforeVerify = async (manifestKey) => {
      const manifest = await readJson(manifestKey);
      const dump = manifest.s3 as { key: string; versionId: string };
      if (manifestKey.includes(`/${billing.name}/`)) {
        // The backup is gone: its version deleted, other bytes at its key.
        await fixture.s3.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: dump.key, VersionId: dump.versionId }));
      }
      // Overwriting alone only adds a newer version: the manifest's version is what verify must check.
      await fixture.s3.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: dump.key, Body: 'not a pg_dump archive' }));
      tampered[manifestKey] = dump.key;
    };
    const run = await fixture.run({ tiers: ['weekly'] }, 'corrupt');

    expect(Object.keys(tampered)).toHaveLength(2);
    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: ['Databases', 'Back up each database', 'Dump', 'Verify', 'Database backed up', 'Dump', 'Verify', 'Database failed', 'Dump result'],
      snapshot: SNAPSHOT_BRANCH,
      end: DATABASE_FAILED_END,
    });
    const verifyCalls = run.result.calls.filter((call) => call.state === 'Verify');
    const ordersCall = verifyCalls.find((call) => JSON.stringify(call.input).includes(`/${orders.name}/`));
    const billingCall = verifyCalls.find((call) => JSON.stringify(call.input).includes(`/${billing.name}/`));
    expect(asObject(ordersCall?.output)).toMatchObject({ status: 'verified', database: orders.name });
    expect(billingCall?.error).toBe('VerificationFailed');
    const billingManifest = Object.keys(tampered).find((key) => key.includes(`/${billing.name}/`)) ?? '';
    const message = expectFailed(run, 'VerificationFailed', new RegExp(`${billingManifest.replace(/\./g, '\\.')}: missing-object`));
    expect(message.cause).not.toContain(`/${orders.name}/`);
    expect(message.tiers).toEqual(['weekly']);
    expectFailedReport(run, message, ['weekly']);
    expect(run.openUploads).toEqual([]);
  });

  it('snapshot fails (the RDS instance is gone from moto): the dumps still complete and are verified; FAILED, notified with the RDS error, FAILED report naming the snapshot', async () => {
    await fixture.removeInstance();
    const run = await fixture.run({ tiers: ['daily'] }, 'no-instance');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      // The snapshot branch catches its failure, so the Parallel does not cancel the databases' Map.
      dump: DUMP_BRANCH,
      snapshot: ['Create snapshot', SNAPSHOT_FAILED],
      end: DATABASE_FAILED_END,
    });
    const message = expectFailed(run, /^DBInstanceNotFound/, new RegExp(`^snapshot failed: DBInstanceNotFound.*${fixture.instanceId}.*; every database was backed up$`));
    const report = expectFailedReport(run, message, ['daily']);
    expect(report.snapshotError).toEqual({ error: expect.stringMatching(/^DBInstanceNotFound/), cause: expect.stringContaining(fixture.instanceId) });
    expect(report.databases).toEqual(fixture.databases.map((d) => expect.objectContaining({ database: d.name, status: 'SUCCEEDED', verification: 'verified' })));
    const backups = backupsByDatabase(run);
    for (const { name } of fixture.databases) expect(backups[name]).toEqual({ dump: expect.any(String), globals: expect.any(String), manifest: expect.any(String) });
    expect(await fixture.snapshots('primary')).toEqual([]);
    expect(await fixture.snapshots('dr')).toEqual([]);
    expect(run.openUploads).toEqual([]);
  });

  it('report fails after a successful backup (bucket policy denies reports): FAILED and notified, though dumps and snapshots were made', async () => {
    await fixture.denyReports();
    const run = await fixture.run({ tiers: ['daily'] }, 'report-denied');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: DUMP_BRANCH,
      snapshot: SNAPSHOT_BRANCH,
      end: ['Report success', NOTIFY_NO_REPORT, 'Backup failed'],
    });
    const reportCall = run.result.calls.find((call) => call.state === 'Report success');
    expect(reportCall?.error).toEqual(expect.any(String));
    const message = expectFailed(run, reportCall?.error ?? '', /./);
    expect(message.cause).toBe(reportCall?.cause);
    expect(message.tiers).toEqual(['daily']);
    expect(run.report).toBeUndefined();
    expect(run.metrics.BackupSucceeded).toBeUndefined();
    expect(run.newVersions).toHaveLength(6);
    expect(await fixture.snapshots('primary')).toHaveLength(1);
    expect(await fixture.snapshots('dr')).toHaveLength(1);
  });

  it('a report that cannot be written is notified as ReportFailed naming the report, not as a bare S3 error', async () => {
    await fixture.denyReports();
    const run = await fixture.run({ tiers: ['daily'] }, 'report-named');

    expect(run.result.status).toBe('FAILED');
    const message = failureMessage(run);
    // moto answers the denied PutObject with an empty 403 (the SDK calls it "Unknown"), AWS with AccessDenied: neither
    // tells the reader that the backups completed and only the report could not be written.
    expect(message.error).toBe('ReportFailed');
    expect(message.cause).toMatch(new RegExp(`reports/backup/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{6}\\.\\d{3}Z-${run.executionName}\\.json`));
  });

  it('invalid tiers (["hourly"]): FAILED, notified with InvalidInput, nothing dumped or snapshotted', async () => {
    const run = await fixture.run({ tiers: ['hourly'] }, 'invalid-tiers');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: 'partial',
      snapshot: ['Create snapshot', SNAPSHOT_INPUT_INVALID],
      end: ['Report failure', NOTIFY_NO_REPORT, 'Backup failed'],
    });
    const message = expectFailed(run, 'InvalidInput', /tiers/);
    expect(message.tiers).toEqual(['hourly']);
    expect(run.newVersions).toEqual([]);
    expect(run.openUploads).toEqual([]);
    expect(await fixture.snapshots('primary')).toEqual([]);
  });

  it('two runs started in the same second (daily and weekly schedules both at 03:00) each get a snapshot and DR copy tagged with their own tiers', async () => {
    const [daily, weekly] = await Promise.all([
      fixture.run({ tiers: ['daily'] }, 'same-second-daily'),
      fixture.run({ tiers: ['daily', 'weekly'] }, 'same-second-weekly'),
    ]);

    expect(daily.result.status).toBe('SUCCEEDED');
    expect(weekly.result.status).toBe('SUCCEEDED');
    const dailyId = asObject(daily.report?.body.snapshot).snapshotId;
    const weeklyId = asObject(weekly.report?.body.snapshot).snapshotId;
    expect(weeklyId).not.toBe(dailyId);
    for (const region of ['primary', 'dr'] as const) {
      const tiersOf = new Map((await fixture.snapshots(region)).map((s) => [s.snapshot.DBSnapshotIdentifier, s.tags['cdk-backup-dr:tiers']]));
      expect(tiersOf.get(String(dailyId))).toBe('daily');
      expect(tiersOf.get(String(weeklyId))).toBe('daily+weekly');
    }
  });

  it('a failure whose report also fails: still FAILED, notified with ReportFailed whose cause carries the original error', async () => {
    await fixture.removeInstance();
    await fixture.denyReports();
    const run = await fixture.run({ tiers: ['monthly'] }, 'double-failure');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: DUMP_BRANCH,
      snapshot: ['Create snapshot', SNAPSHOT_FAILED],
      end: ['Report success', NOTIFY_NO_REPORT, 'Backup failed'],
    });
    const message = expectFailed(
      run,
      'ReportFailed',
      new RegExp(`the FAILED backup report could not be written to s3://.*; the run itself failed: DBInstanceNotFound.*${fixture.instanceId}`),
    );
    expect(message.tiers).toEqual(['monthly']);
    expect(run.report).toBeUndefined();
    expect(run.openUploads).toEqual([]);
  });

  it('a run stopped by a failure whose report also fails: still notified with the original error, still FAILED', async () => {
    await fixture.denyReports();
    const run = await fixture.run({ tiers: ['hourly'] }, 'stopped-no-report');

    expectVisited(run, {
      start: ['Tiers given?', 'Start run', 'Back up'],
      dump: 'partial',
      snapshot: ['Create snapshot', SNAPSHOT_INPUT_INVALID],
      end: ['Report failure', NOTIFY_NO_REPORT, 'Backup failed'],
    });
    expect(run.result.calls.find((call) => call.state === 'Report failure')?.error).toBeDefined();
    const message = expectFailed(run, 'InvalidInput', /tiers/);
    expect(message.tiers).toEqual(['hourly']);
    expect(run.report).toBeUndefined();
  });
});
