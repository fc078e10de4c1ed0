/**
 * The synthesized RecoveryTest state machine, run locally (local/'s runner) with the real handlers against moto
 * and the harness' PostgreSQL: real dumps of a seeded database (made by the dump core into moto) are picked,
 * restored with pg_restore and verified against their manifests. What moto cannot do — a server behind the scratch
 * RDS instance — is mapped explicitly in ./recovery-test-support and reported in the run's `emulated` list and in
 * the report written to the bucket.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Duration } from 'aws-cdk-lib';
import { runDump } from '../../lambda/backup/dump-core';
import type { BackupManifest } from '../../lambda/backup/manifest';
import { describeDbInstance, scratchIdentifier } from '../../lambda/rds/instances';
import type { RecoveryTestReport } from '../../lambda/reporting/recovery-report';
import { scratchSecretName } from '../../lambda/aws/secrets';
import { handler as unreportedEndHandler } from '../../lambda/reporting/unreported-end.handler';
import { RECOVERY_TEST_STATES as S } from '../../lib';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic, snsMessages, subscribeSnsInbox, type SnsInbox } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';
import { type JsonValue, LocalWorkflow, type LocalWorkflowResult } from '../support/workflow-harness';
import {
  recoveryHandlers,
  recoveryTestStack,
  ScratchEndpointMapping,
  secretExists,
  tableContents,
  type ScratchFaults,
  type TableContent,
} from './recovery-test-support';

const SOURCE = 'rt-local';
const HOUR = 3_600_000;
const s3 = new S3Client({});

interface Backup {
  readonly manifestKey: string;
  readonly manifest: BackupManifest;
}

let good: TestDatabase;
let poisoned: TestDatabase;
let goodFingerprint: TableContent[];
let bucket: string;
let kmsKeyArn: string;
let topicArn: string;
let inbox: SnsInbox;
let stack: ReturnType<typeof recoveryTestStack>;
let resources: Record<string, string | { ref: string; attributes: Record<string, string> }>;
const backups: Record<'fresh' | 'old' | 'shaTampered' | 'countTampered' | 'poisoned', Backup> = {} as never;
const mappings: ScratchEndpointMapping[] = [];

async function dump(database: string, at: Date): Promise<Backup> {
  const { pg } = harnessEnv();
  const result = await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, sslMode: 'disable' },
    bucket,
    kmsKeyId: kmsKeyArn,
    source: SOURCE,
    tiers: ['daily'],
    s3,
    now: () => at,
  });
  return { manifestKey: result.manifestKey, manifest: result.manifest };
}

/** Overwrites a manifest with an altered copy (a new version of the manifest object). */
async function tamper(backup: Backup, change: (m: BackupManifest) => BackupManifest): Promise<void> {
  const altered = change(backup.manifest);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: backup.manifestKey, Body: JSON.stringify(altered), ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyArn }),
  );
}

beforeAll(async () => {
  good = await createTestDatabase('rt_good');
  poisoned = await createTestDatabase('rt_poisoned');
  await seedSource(good.name);
  await seedSource(poisoned.name);
  await withPgClient(poisoned.name, (c) => c.query("INSERT INTO public.customers (name, joined) VALUES ('poison pill', now())"));
  goodFingerprint = await withPgClient(good.name, tableContents);

  bucket = await createTestBucket({ prefix: 'recovery-test', versioned: true });
  kmsKeyArn = (await createKmsKey('recovery test backups')).arn;
  topicArn = await createTopic();
  inbox = await subscribeSnsInbox(topicArn);
  const network = await createScratchNetwork(`rt-${Date.now().toString(36)}`);

  const now = Date.now();
  backups.old = await dump(good.name, new Date(now - 72 * HOUR));
  backups.shaTampered = await dump(good.name, new Date(now - 2 * HOUR));
  backups.countTampered = await dump(good.name, new Date(now - 1 * HOUR));
  backups.poisoned = await dump(poisoned.name, new Date(now - 0.5 * HOUR));
  backups.fresh = await dump(good.name, new Date(now - 60_000));
  await tamper(backups.shaTampered, (m) => ({ ...m, sha256: m.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
  await tamper(backups.countTampered, (m) => ({
    ...m,
    tables: m.tables.map((t) => (t.schema === 'sales' && t.name === 'orders' ? { ...t, rows: t.rows + 1 } : t)),
  }));

  stack = recoveryTestStack({
    sourceName: SOURCE,
    database: good.name,
    rpo: Duration.hours(24),
    // The roles saved beside each dump are replayed first (the scratch server has them all: the harness' own).
    restoreRoles: true,
    validationQueries: [
      { name: 'orders-present', sql: 'SELECT count(*) > 0 FROM sales.orders' },
      { name: 'no-poisoned-customers', sql: "SELECT NOT EXISTS (SELECT 1 FROM public.customers WHERE name LIKE 'poison%')" },
    ],
  });
  const key = kmsKeyArn.slice(kmsKeyArn.lastIndexOf('/') + 1);
  resources = {
    [stack.ids.bucket]: bucket,
    [stack.ids.key]: { ref: key, attributes: { Arn: kmsKeyArn } },
    [stack.ids.topic]: topicArn,
    [stack.ids.subnetGroup]: network.subnetGroupName,
    [stack.ids.scratchSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
  };
}, 300_000);

afterAll(async () => {
  for (const mapping of mappings) await mapping.destroy();
  await dropTestDatabase(good.name);
  await dropTestDatabase(poisoned.name);
});

interface Run {
  readonly result: LocalWorkflowResult;
  readonly mapping: ScratchEndpointMapping;
  readonly scratchId: string;
  readonly report?: RecoveryTestReport;
  readonly restoredFingerprint?: TableContent[];
}

let runs = 0;
/** The workflow of the latest run (its template and bindings). */
let lastWorkflow: LocalWorkflow | undefined;

async function run(input: Record<string, unknown>, faults: ScratchFaults = {}, synthesized: typeof stack = stack): Promise<Run> {
  runs += 1;
  const executionName = `recovery-${runs}-${Date.now().toString(36)}`;
  const mapping = new ScratchEndpointMapping();
  mappings.push(mapping);
  let restoredFingerprint: TableContent[] | undefined;
  const workflow = new LocalWorkflow({
    template: synthesized.template,
    stateMachine: synthesized.ids.machine,
    region: harnessEnv().awsRegion,
    handlers: {
      ...recoveryHandlers(synthesized.ids, mapping, faults, {
        afterVerify: async (database, m) => {
          restoredFingerprint = await m.withClient(database, tableContents);
        },
      }),
      [synthesized.ids.unreportedEnd]: unreportedEndHandler,
    },
    resources,
  });
  const result = await workflow.run(input as JsonValue, { executionName });
  lastWorkflow = workflow;
  const scratchId = scratchIdentifier(result.executionArn, executionName);
  const reportCall = result.calls.find((c) => c.state === S.report && c.output !== undefined);
  const reportKey = (reportCall?.output as { reportKey?: string } | undefined)?.reportKey;
  let report: RecoveryTestReport | undefined;
  if (reportKey) {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
    report = JSON.parse((await object.Body?.transformToString()) ?? '') as RecoveryTestReport;
  }
  return { result, mapping, scratchId, report, restoredFingerprint };
}

/** The scratch instance, its secret and the stand-in database are gone. */
async function expectCleanedUp(r: Run): Promise<void> {
  expect(await describeDbInstance(harnessEnv().awsRegion, r.scratchId)).toBeUndefined();
  expect(await secretExists(scratchSecretName(r.scratchId))).toBe(false);
  for (const entry of r.mapping.mapped.values()) {
    const exists = await withPgClient('postgres', (c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [entry.localDatabase]));
    expect(exists.rowCount).toBe(0);
  }
  expect(r.result.visited).toEqual(expect.arrayContaining([S.cleanup, S.deleteDatabase, S.deleteSecret]));
  expect(r.report?.cleanup.status).toBe('done');
}

/**
 * The SNS message published for this execution: its subject, the body a queue receives (the facts as JSON), its
 * message attributes, and the text body email subscribers read (from the published document moto keeps).
 */
async function messageFor(r: Run): Promise<{ subject?: string; body: Record<string, unknown>; attributes: Record<string, unknown>; text: string }> {
  const messages = await inbox.messages();
  const found = messages
    .map((m) => ({ id: m.messageId, subject: m.subject, attributes: m.attributes, body: JSON.parse(m.message) as Record<string, unknown> }))
    .find((m) => m.body.executionId === r.result.executionArn);
  if (!found) throw new Error(`no SNS message for ${r.result.executionArn} among ${messages.length}`);
  const published = (await snsMessages(topicArn)).find((m) => m.messageId === found.id);
  if (!published) throw new Error(`moto kept no published document for message ${found.id}`);
  const text = (JSON.parse(published.message) as { default: string }).default;
  return { subject: found.subject, body: found.body, attributes: found.attributes, text };
}

function actions(r: Run): string[] {
  return r.result.calls.map((c) => `${c.state}:${(c.input as { action?: string }).action ?? ''}`);
}

describe('RecoveryTest state machine, locally against moto and PostgreSQL', () => {
  it('restores the newest dump into a scratch database, verifies it, cleans up, reports and succeeds', async () => {
    const r = await run({ selection: { latest: true } });

    expect(r.result.status).toBe('SUCCEEDED');
    expect(r.result.visited).toEqual([
      'Selection given?',
      'Start run',
      S.pick,
      S.create,
      S.wait,
      S.restore,
      S.verify,
      S.cleanup,
      S.deleteDatabase,
      S.deleteSecret,
      S.report,
      S.notify,
      'Outcome?',
      S.passed,
    ]);
    // The restored database holds exactly the source's rows, table by table.
    expect(r.restoredFingerprint).toEqual(goodFingerprint);
    // The roles were read (checked against their SHA-256) and replayed before the restore: all exist on this server.
    const restoreCall = r.result.calls.find((c) => c.state === S.restore);
    expect(restoreCall?.input).toMatchObject({ restoreRoles: true });
    expect((restoreCall?.output as { roles?: unknown }).roles).toEqual({
      created: [],
      existing: [harnessEnv().pg.user],
      attributesNotRestored: [],
      failed: [],
      temporaryMemberships: [],
      omitted: 0,
    });

    const report = r.report!;
    expect(report).toMatchObject({
      workflow: 'recovery-test',
      status: 'SUCCEEDED',
      source: SOURCE,
      kind: 'dump',
      failureReasons: [],
      backup: { kind: 'dump', selection: 'latest', id: backups.fresh.manifestKey, withinRpo: true, rpoSeconds: 86_400 },
      scratch: { identifier: r.scratchId, resource: 'instance', secretName: scratchSecretName(r.scratchId) },
      cleanup: { status: 'done' },
    });
    expect(report.dataAgeSeconds).toBeGreaterThanOrEqual(60);
    expect(report.dataAgeSeconds).toBeLessThan(3600);
    for (const table of backups.fresh.manifest.tables) {
      expect(report.checks).toContainEqual(expect.objectContaining({ passed: true, expected: table.rows, actual: table.rows }));
    }
    expect(report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['query orders-present', 'query no-poisoned-customers', 'data age within RPO', 'cleanup']),
    );
    expect(report.checks.every((c) => c.passed)).toBe(true);
    const t = report.timings;
    expect(t.rtoSeconds).toBeCloseTo((t.provisionSeconds ?? NaN) + (t.restoreSeconds ?? NaN) + (t.verifySeconds ?? NaN), 2);
    // The run says what was emulated, in the runner's result and in the report in the bucket.
    expect(report.emulated?.[0]).toMatch(new RegExp(`^scratch instance ${r.scratchId} \\(moto endpoint .+\\) has no PostgreSQL server`));
    expect(r.result.emulated.length).toBeGreaterThan(0);

    await expectCleanedUp(r);
    const message = await messageFor(r);
    expect(message.subject).toMatch(new RegExp(`^cdk-backup-dr SUCCEEDED: recovery test of ${SOURCE} in [a-z0-9-]+$`));
    expect(message.body).toMatchObject({ status: 'SUCCEEDED', backup: backups.fresh.manifestKey, cleanup: 'done', emulated: true });

    // The scratch password was generated, stored in the scratch secret, and never passed through the state machine.
    const [mapped] = r.mapping.mapped.values();
    expect(mapped.scratchPassword).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(JSON.stringify(r.result.events)).not.toContain(mapped.scratchPassword);
    expect(JSON.stringify(r.result.calls)).not.toContain(mapped.scratchPassword);
  });

  it('tests the newest backup when started without a selection (as a schedule without input would)', async () => {
    const r = await run({});
    expect(r.result.status).toBe('SUCCEEDED');
    expect(r.result.visited.slice(0, 3)).toEqual(['Selection given?', 'Default selection', 'Start run']);
    expect(r.report?.backup).toMatchObject({ id: backups.fresh.manifestKey, selection: 'latest' });
  });

  it('fails an unknown backup with BackupNotFound before creating anything, and still reports and notifies', async () => {
    const unknown = `postgres/${SOURCE}/${good.name}/2020/01/01/20200101T000000.000Z.manifest.json`;
    const r = await run({ selection: { manifestKey: unknown } });

    expect(r.result.status).toBe('FAILED');
    expect(r.result.error).toBe('RecoveryTestFailed');
    expect(r.result.cause).toMatch(/^pick failed with BackupNotFound: there is no manifest/);
    // Nothing was created: no create call; the cleanup found nothing to delete.
    expect(actions(r)).not.toContain(`${S.create}:create`);
    expect(r.result.visited).not.toContain(S.create);
    expect(r.report).toMatchObject({ status: 'FAILED', failedStep: 'pick', error: { error: 'BackupNotFound' } });
    expect(r.report?.backup).toBeUndefined();
    expect(r.report?.scratch).toBeUndefined();
    expect(r.mapping.mapped.size).toBe(0);
    await expectCleanedUp(r);
    const message = await messageFor(r);
    expect(message.subject).toMatch(new RegExp(`^cdk-backup-dr FAILED: recovery test of ${SOURCE} in [a-z0-9-]+ at pick$`));
    expect(message.subject?.length).toBeLessThan(100);
    expect(message.body.failureReasons).toEqual([expect.stringMatching(/^pick failed with BackupNotFound/)]);
    // What a person reads at 3 a.m.: what failed, why, the report, the execution's console page, what to do.
    const region = harnessEnv().awsRegion;
    expect(message.text).toMatch(new RegExp(`^FAILED: recovery test of ${SOURCE} in ${region} \\(account \\d{12}\\)$`, 'm'));
    expect(message.text).toContain('What failed: pick');
    expect(message.text).toMatch(/^Cause: pick failed with BackupNotFound/m);
    const reportKey = (r.result.calls.find((c) => c.state === S.report && c.output !== undefined)?.output as { reportKey?: string } | undefined)?.reportKey;
    expect(reportKey).toMatch(/^reports\/recovery-test\//);
    expect(message.text).toContain(`Report: s3://${bucket}/${reportKey}`);
    expect(message.text).toContain(`Execution: https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(r.result.executionArn)}`);
    expect(message.text).toMatch(/^Next step: No usable backup of .+ was found/m);
    expect(message.attributes).toMatchObject({
      workflow: { Type: 'String', Value: 'recovery-test' },
      status: { Type: 'String', Value: 'FAILED' },
      failedAt: { Type: 'String', Value: 'pick' },
    });
  });

  it('fails a test whose measured RTO exceeds the target (after restoring, verifying and cleaning up) and says so', async () => {
    const rtoStack = recoveryTestStack({
      sourceName: SOURCE,
      database: good.name,
      rpo: Duration.hours(24),
      rto: Duration.minutes(1),
      // The local engine recovers in seconds: a target of 1 ms is exceeded by any real run.
      reportRtoSecondsOverride: 0.001,
    });
    const r = await run({ selection: { manifestKey: backups.fresh.manifestKey } }, {}, rtoStack);
    expect(r.result.status).toBe('FAILED');
    expect(r.result.error).toBe('RecoveryTestFailed');
    expect(r.report).toMatchObject({ status: 'FAILED', rtoTargetSeconds: 0.001 });
    expect(r.report?.failedStep).toBeUndefined();
    const measured = r.report?.timings.rtoSeconds ?? NaN;
    expect(r.report?.failureReasons).toEqual([`the measured RTO of ${measured} s exceeds the target of 0.001 s`]);
    expect(r.report?.checks).toContainEqual(expect.objectContaining({ name: 'RTO within target', passed: false, actual: measured }));
    await expectCleanedUp(r);
    const message = await messageFor(r);
    expect(message.subject).toMatch(new RegExp(`^cdk-backup-dr FAILED: recovery test of ${SOURCE} in [a-z0-9-]+$`));
    expect(message.body).toMatchObject({ status: 'FAILED', rtoSeconds: measured, rtoTargetSeconds: 0.001, checks: { failed: 1 } });
    expect(message.text).toContain(`Cause: the measured RTO of ${measured} s exceeds the target of 0.001 s`);
    expect(message.text).toMatch(/^Next step: Recovery took longer than the RTO/m);
  });

  it('fails when the restore fails (the dump does not match its manifest), after cleaning up', async () => {
    const r = await run({ selection: { manifestKey: backups.shaTampered.manifestKey } });

    expect(r.result.status).toBe('FAILED');
    expect(r.result.cause).toMatch(/^restore failed with ChecksumMismatch: .*sha256 is [0-9a-f]{64} but the manifest says/);
    expect(r.result.visited).not.toContain(S.verify);
    expect(r.report).toMatchObject({ status: 'FAILED', failedStep: 'restore', backup: { id: backups.shaTampered.manifestKey } });
    // The scratch database existed (the restore ran against it) and is gone again.
    expect(r.mapping.mapped.size).toBe(1);
    await expectCleanedUp(r);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED', backup: backups.shaTampered.manifestKey });
  });

  it('fails when the restored row counts differ from the manifest, listing the failing table', async () => {
    const r = await run({ selection: { manifestKey: backups.countTampered.manifestKey } });

    expect(r.result.status).toBe('FAILED');
    expect(r.result.visited).toEqual(expect.arrayContaining([S.restore, S.verify, S.report, S.failed]));
    const orders = r.report?.checks.find((c) => c.name === 'table "sales"."orders"');
    expect(orders).toMatchObject({ passed: false, detail: 'row count differs from the manifest by -1' });
    expect(r.report?.failureReasons).toEqual([expect.stringMatching(/^verification failed 1 of \d+ checks: table "sales"."orders"/)]);
    expect(r.report?.timings.rtoSeconds).toEqual(expect.any(Number));
    await expectCleanedUp(r);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED', checks: { failed: 1 } });
  });

  it('fails when a validation query returns false', async () => {
    const r = await run({ selection: { manifestKey: backups.poisoned.manifestKey } });

    expect(r.result.status).toBe('FAILED');
    expect(r.report?.checks.find((c) => c.name === 'query no-poisoned-customers')).toMatchObject({ passed: false, actual: false, detail: 'returned false' });
    expect(r.report?.checks.find((c) => c.name === 'query orders-present')).toMatchObject({ passed: true });
    expect(r.report?.failureReasons).toEqual([expect.stringContaining('query no-poisoned-customers (returned false)')]);
    await expectCleanedUp(r);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED' });
  });

  it('fails when the scratch database never becomes available (NotReady until the retries run out)', async () => {
    const r = await run({ selection: { latest: true } }, { waitNeverReady: true });

    expect(r.result.status).toBe('FAILED');
    // One hour of 30-second polls: the first attempt and 120 retries (MaxAttempts counts retries).
    expect(r.result.retries[S.wait]).toBe(120);
    expect(r.result.cause).toMatch(/^wait failed with NotReady: scratch instance is "creating"/);
    expect(r.result.visited).not.toContain(S.restore);
    expect(r.report).toMatchObject({ failedStep: 'wait', cleanup: { status: 'done' } });
    await expectCleanedUp(r);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED' });
  });

  it('fails a backup older than the RPO even though it restores and verifies', async () => {
    const r = await run({ selection: { manifestKey: backups.old.manifestKey } });

    expect(r.result.status).toBe('FAILED');
    expect(r.report?.backup).toMatchObject({ withinRpo: false, rpoSeconds: 86_400 });
    expect(r.report?.dataAgeSeconds).toBeGreaterThanOrEqual(72 * 3600);
    expect(r.report?.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['data age within RPO']);
    expect(r.report?.failureReasons).toEqual([expect.stringMatching(/^data age \d+ s exceeds the RPO of 86400 s$/)]);
    await expectCleanedUp(r);
  });

  it('fails the run when the cleanup fails, after retrying the failing branch and still deleting the database', async () => {
    const broken = Object.assign(new Error('secretsmanager is unreachable (injected by the test)'), { name: 'InternalServiceError' });
    const r = await run({ selection: { latest: true } }, { deleteSecretFails: broken });

    expect(r.result.status).toBe('FAILED');
    expect(r.result.retries[S.deleteSecret]).toBe(5);
    expect(r.report).toMatchObject({ status: 'FAILED', cleanup: { status: 'failed', error: { error: 'InternalServiceError' } } });
    expect(r.report?.failureReasons).toEqual([expect.stringMatching(/^cleanup failed with InternalServiceError: scratch resources may remain/)]);
    // The database branch did its work; the secret stays behind, as the report says.
    expect(await describeDbInstance(harnessEnv().awsRegion, r.scratchId)).toBeUndefined();
    expect(await secretExists(scratchSecretName(r.scratchId))).toBe(true);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED', cleanup: 'failed' });
  });

  it('tells the topic, formatted, when a run times out: the EventBridge rule invokes the notifier, which publishes as its role', async () => {
    if (!lastWorkflow) await run({});
    const executionName = `timed-out-${Date.now().toString(36)}`;
    const stopDate = Date.now();
    const delivered = await lastWorkflow!.deliverStatusChange({ status: 'TIMED_OUT', executionName, startDate: stopDate - 4 * HOUR, stopDate, error: 'States.Timeout' });
    const region = harnessEnv().awsRegion;
    expect(delivered.input).toMatchObject({ topicArn, facts: { workflow: 'recovery-test', what: 'recovery test', source: SOURCE }, detail: { status: 'TIMED_OUT' } });
    expect(delivered.payload).toMatchObject({ subject: `cdk-backup-dr TIMED_OUT: recovery test of ${SOURCE} in ${region}` });
    const message = (await inbox.messages())
      .map((m) => ({ subject: m.subject, attributes: m.attributes, body: JSON.parse(m.message) as Record<string, unknown> }))
      .find((m) => typeof m.body.executionId === 'string' && m.body.executionId.endsWith(`:${executionName}`));
    expect(message?.subject).toBe(`cdk-backup-dr TIMED_OUT: recovery test of ${SOURCE} in ${region}`);
    expect(message?.body).toMatchObject({ workflow: 'recovery-test', status: 'TIMED_OUT', cause: 'States.Timeout', durationSeconds: 4 * 3600, nextStep: expect.stringContaining('cdkbdr-rt-') });
    expect(message?.attributes).toMatchObject({ workflow: { Type: 'String', Value: 'recovery-test' }, status: { Type: 'String', Value: 'TIMED_OUT' } });
  });
});
