/**
 * The synthesized Failover state machine, run locally (local/'s runner) with the real handlers against moto and
 * the harness' PostgreSQL, for every strategy, rehearsed (dryRun) and for real, and for every failure path. What the
 * emulator cannot do — a server behind an RDS instance, cross-region automated backups, a database that is slow to
 * come up — is mapped in ./failover-support and listed in the report's `emulated`.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CopyDBSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { Duration } from 'aws-cdk-lib';
import { failoverNames } from '../../lambda/failover/request';
import type { FailoverReport } from '../../lambda/reporting/failover-report';
import { runDump } from '../../lambda/backup/dump-core';
import type { BackupManifest } from '../../lambda/backup/manifest';
import { describeDbInstance } from '../../lambda/rds/instances';
import { snapshotIdentifier, snapshotTags } from '../../lambda/rds/snapshot';
import { FAILOVER_STATES as S } from '../../lib/failover/failover-workflow';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic, subscribeSnsInbox, type SnsInbox } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';
import { type JsonValue, LocalWorkflow, type LocalWorkflowOptions, type LocalWorkflowResult } from '../support/workflow-harness';
import { dropRoles, emulateReplicatedBackups, FailoverEmulation, failoverHandlers, failoverStack, PRIMARY_REGION, type ActiveRun, type FailoverFaults } from './failover-support';

const region = harnessEnv().awsRegion;
const suffix = randomBytes(3).toString('hex');
const SOURCE_ID = `fo-src-${suffix}`;
const SOURCE_NAME = `fo-local-${suffix}`;
const REPLICA_ID = `fo-rep-${suffix}`;
const SOURCE_MASTER = `fosrc_${suffix}`;
const REPLICA_USER = `forep_${suffix}`;
const DUMP_MASTER = `fodump_${suffix}`;
const ZONE = `fo${suffix}.internal`;
const RECORD = `db.${ZONE}.`;
const PARAMETER = `/fo-${suffix}/database/endpoint`;
const OLD_HOST = 'old-primary.example.com';
const HOUR = 3_600_000;

const s3 = new S3Client({});
const rdsDr = new RDSClient({ region });
const rdsPrimary = new RDSClient({ region: PRIMARY_REGION });
const secrets = new SecretsManagerClient({});
const ssm = new SSMClient({});
const route53 = new Route53Client({});

let source: TestDatabase;
let bucket: string;
let kmsKeyArn: string;
let inbox: SnsInbox;
let zoneId: string;
let appSecretArn: string;
let replicaSecretArn: string;
let dump: { manifestKey: string; manifest: BackupManifest; body: Uint8Array };
let stack: ReturnType<typeof failoverStack>;
let workflow: LocalWorkflow;
let workflowOptions: LocalWorkflowOptions;
let backupNotes: string[] = [];
const emulations: FailoverEmulation[] = [];
const createdIdentifiers: string[] = [];

/** What one run needs to know for its handlers. */
let current: ActiveRun | undefined;

async function secretValue(arn: string): Promise<Record<string, unknown>> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
  return JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>;
}

async function secretExists(name: string): Promise<boolean> {
  try {
    const out = await secrets.send(new DescribeSecretCommand({ SecretId: name }));
    return out.DeletedDate === undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

async function cnameValue(): Promise<string | undefined> {
  const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: RECORD, StartRecordType: 'CNAME', MaxItems: 1 }));
  const record = out.ResourceRecordSets?.find((r) => r.Name === RECORD && r.Type === 'CNAME');
  return record?.ResourceRecords?.[0]?.Value;
}

async function parameterValue(): Promise<string | undefined> {
  return (await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Value;
}

beforeAll(async () => {
  source = await createTestDatabase('fo_src');
  await seedSource(source.name);
  await withPgClient(source.name, (c) => c.query('CREATE SCHEMA ops; CREATE TABLE ops.heartbeat (at timestamptz NOT NULL); INSERT INTO ops.heartbeat VALUES (now())'));

  // The primary region: the source instance and a snapshot of it, copied to the DR region as the backup workflow does.
  const primary = await rdsPrimary.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: SOURCE_ID,
      Engine: 'postgres',
      EngineVersion: '15.8',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: SOURCE_MASTER,
      MasterUserPassword: randomBytes(12).toString('hex'),
      BackupRetentionPeriod: 7,
    }),
  );
  const snapshotId = snapshotIdentifier('instance', SOURCE_ID, new Date(Date.now() - 2 * HOUR));
  const snapshot = await rdsPrimary.send(
    new CreateDBSnapshotCommand({ DBInstanceIdentifier: SOURCE_ID, DBSnapshotIdentifier: snapshotId, Tags: snapshotTags({ sourceIdentifier: SOURCE_ID, tiers: ['daily'] }) }),
  );
  await rdsDr.send(
    new CopyDBSnapshotCommand({
      SourceDBSnapshotIdentifier: snapshot.DBSnapshot?.DBSnapshotArn,
      TargetDBSnapshotIdentifier: snapshotId,
      Tags: snapshotTags({ sourceIdentifier: SOURCE_ID, tiers: ['daily'], copiedFrom: snapshot.DBSnapshot?.DBSnapshotArn }),
    }),
  );
  // The DR region: a cross-region read replica, and the stand-in for the source's replicated automated backups.
  await rdsDr.send(
    new CreateDBInstanceReadReplicaCommand({
      DBInstanceIdentifier: REPLICA_ID,
      SourceDBInstanceIdentifier: primary.DBInstance?.DBInstanceArn,
      DBInstanceClass: 'db.t4g.micro',
    }),
  );
  await rdsDr.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: SOURCE_ID,
      Engine: 'postgres',
      EngineVersion: '15.8',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: SOURCE_MASTER,
      MasterUserPassword: randomBytes(12).toString('hex'),
      BackupRetentionPeriod: 7,
    }),
  );
  backupNotes = [];
  emulateReplicatedBackups(region, SOURCE_ID, () => new Date(Date.now() - 5 * 60_000), backupNotes);

  replicaSecretArn =
    (await secrets.send(
      new CreateSecretCommand({
        Name: `fo-replica-${suffix}`,
        SecretString: JSON.stringify({ engine: 'postgres', username: REPLICA_USER, password: randomBytes(12).toString('hex'), port: 5432 }),
      }),
    )).ARN ?? '';
  appSecretArn =
    (await secrets.send(
      new CreateSecretCommand({
        Name: `fo-app-${suffix}`,
        SecretString: JSON.stringify({ engine: 'postgres', username: 'app', password: 'app-password-never-in-reports', host: OLD_HOST, port: 5432, dbname: 'app' }),
      }),
    )).ARN ?? '';
  await ssm.send(new PutParameterCommand({ Name: PARAMETER, Value: `${OLD_HOST}:5432`, Type: 'String' }));
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: ZONE, CallerReference: `fo-${suffix}` }));
  zoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: RECORD, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: OLD_HOST }] } }] },
    }),
  );

  // The replica bucket in the DR region, with a dump of the source (unversioned: a test overwrites the dump object).
  bucket = await createTestBucket({ prefix: 'failover' });
  kmsKeyArn = (await createKmsKey('failover test backups')).arn;
  const { pg } = harnessEnv();
  const result = await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: source.name, sslMode: 'disable' },
    bucket,
    kmsKeyId: kmsKeyArn,
    source: SOURCE_NAME,
    tiers: ['daily'],
    s3,
    now: () => new Date(Date.now() - HOUR),
  });
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: result.manifest.s3.key }));
  dump = { manifestKey: result.manifestKey, manifest: result.manifest, body: await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray() };

  const topicArn = await createTopic();
  inbox = await subscribeSnsInbox(topicArn);
  const network = await createScratchNetwork(`fo-${suffix}`);

  stack = failoverStack({
    sourceIdentifier: SOURCE_ID,
    sourceName: SOURCE_NAME,
    database: source.name,
    replicaIdentifier: REPLICA_ID,
    replicaSecretArn,
    appSecretArn,
    hostedZoneId: zoneId,
    zoneName: ZONE,
    parameterName: PARAMETER,
    masterUsername: DUMP_MASTER,
    lagQuery: 'SELECT extract(epoch FROM now() - max(at)) FROM ops.heartbeat',
    validationQueries: [
      { name: 'orders-present', sql: 'SELECT count(*) > 0 FROM sales.orders' },
      { name: 'no-poison', sql: "SELECT NOT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'poison')" },
    ],
    rpo: Duration.hours(24),
    waitTimeout: Duration.minutes(3),
  });
  const keyId = kmsKeyArn.slice(kmsKeyArn.lastIndexOf('/') + 1);
  const handlers = failoverHandlers(stack.ids, active, () => backupNotes);
  workflow = new LocalWorkflow((workflowOptions = {
    template: stack.template,
    stateMachine: stack.ids.machine,
    region,
    handlers,
    resources: {
      [stack.ids.bucket]: bucket,
      [stack.ids.key]: { ref: keyId, attributes: { Arn: kmsKeyArn } },
      [stack.ids.topic]: topicArn,
      [stack.ids.subnetGroup]: network.subnetGroupName,
      [stack.ids.databaseSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
    },
  }));
}, 300_000);

function active(): ActiveRun {
  if (!current) throw new Error('no run in progress');
  return current;
}

afterAll(async () => {
  for (const emulation of emulations) await emulation.destroy();
  await dropRoles(emulations.flatMap((e) => [...e.roles]));
  await dropTestDatabase(source.name);
  for (const id of createdIdentifiers) {
    if (!(await describeDbInstance(region, id))) continue;
    await rdsDr.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, DeletionProtection: false, ApplyImmediately: true }));
    await rdsDr.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
  }
  for (const client of [s3, rdsDr, rdsPrimary, secrets, ssm, route53]) client.destroy();
});

interface Run {
  readonly result: LocalWorkflowResult;
  readonly emulation: FailoverEmulation;
  readonly names: ReturnType<typeof failoverNames>;
  readonly report?: FailoverReport;
  /** EMF metrics the report handler printed. */
  readonly metrics: Record<string, number>;
}

let runs = 0;

async function run(
  input: Record<string, unknown>,
  options: { faults?: FailoverFaults; before?: (e: FailoverEmulation, replicaDatabase: string) => Promise<void>; workflow?: LocalWorkflow } = {},
): Promise<Run> {
  runs += 1;
  const executionName = `failover-${runs}-${suffix}`;
  const emulation = new FailoverEmulation(source.name);
  emulations.push(emulation);
  const replica = await describeDbInstance(region, REPLICA_ID);
  if (!replica?.endpoint) throw new Error('the moto replica has no endpoint');
  const mapped = await emulation.register(region, REPLICA_ID, replica.endpoint.host, replica.endpoint.port, replicaSecretArn, 'copy');
  await options.before?.(emulation, mapped.localDatabase);
  current = { emulation, faults: options.faults ?? {} };

  // Collect the EMF lines the report handler prints.
  const metrics: Record<string, number> = {};
  const write = process.stdout.write.bind(process.stdout);
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.includes('"_aws"')) continue;
      const emf = JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> } };
      for (const m of emf._aws.CloudWatchMetrics.flatMap((d) => d.Metrics)) metrics[m.Name] = emf[m.Name] as number;
      if (emf.Mode !== undefined) metrics.__mode = emf.Mode === 'rehearsal' ? 0 : 1;
      return true;
    }
    return write(chunk as string, ...(rest as []));
  }) as typeof process.stdout.write);
  let result: LocalWorkflowResult;
  try {
    result = await (options.workflow ?? workflow).run(input as JsonValue, { executionName });
  } finally {
    spy.mockRestore();
    current = undefined;
  }
  const names = failoverNames({ executionId: result.executionArn, executionName }, 'instance');
  createdIdentifiers.push(names.identifier);
  const reportCall = result.calls.find((c) => c.state === S.report && c.output !== undefined);
  const reportKey = (reportCall?.output as { reportKey?: string } | undefined)?.reportKey;
  let report: FailoverReport | undefined;
  if (reportKey) {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
    report = JSON.parse((await object.Body?.transformToString()) ?? '') as FailoverReport;
  }
  return { result, emulation, names, report, metrics };
}

/** The SNS message published for this execution. */
async function messageFor(r: Run): Promise<{ subject?: string; body: Record<string, unknown> }> {
  const messages = await inbox.messages();
  const found = messages
    .map((m) => ({ subject: m.subject, body: JSON.parse(m.message) as Record<string, unknown> }))
    .find((m) => m.body.executionId === r.result.executionArn);
  if (!found) throw new Error(`no SNS message for ${r.result.executionArn} among ${messages.length}`);
  return found;
}

/** A dry run's database, secret and stand-in database are gone. */
async function expectCleanedUp(r: Run): Promise<void> {
  expect(await describeDbInstance(region, r.names.identifier)).toBeUndefined();
  expect(await secretExists(r.names.secretName)).toBe(false);
  const mapped = r.emulation.byIdentifier(r.names.identifier);
  if (mapped) {
    const exists = await withPgClient('postgres', (c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [mapped.localDatabase]));
    expect(exists.rowCount).toBe(0);
  }
  expect(r.result.visited).toEqual(expect.arrayContaining([S.cleanup, S.deleteDatabase, S.deleteSecret]));
  expect(r.report?.cleanup?.status).toBe('done');
}

/** Nothing was repointed: the application still points at the old primary. */
async function expectNotRepointed(r: Run): Promise<void> {
  expect(r.result.visited).not.toContain(S.repoint);
  expect(await parameterValue()).toBe(`${OLD_HOST}:5432`);
  expect((await secretValue(appSecretArn)).host).toBe(OLD_HOST);
  expect(await cnameValue()).toBe(OLD_HOST);
}

function fail(message: string): never {
  throw new Error(message);
}

function rehearsal(strategy: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { strategy, dryRun: true, reason: `rehearsal of ${strategy}`, ...extra };
}

const targetTime = () => new Date(Date.now() - 30 * 60_000).toISOString();

describe('Failover rehearsals (dryRun): everything but promotion and repoint, then everything created is deleted', () => {
  it('restore-snapshot: restores the newest DR snapshot copy, verifies, deletes it, reports the measured RTO', async () => {
    const r = await run(rehearsal('restore-snapshot'));

    expect(r.result.status).toBe('SUCCEEDED');
    expect(r.result.visited).toEqual([
      S.start, S.validate, S.preflight, S.strategy, S.create, S.wait, S.dumpOrPassword, S.setPassword, S.waitPassword, S.verify,
      S.checksPassed, S.repointOrRehearsal, S.cleanupChoice, S.cleanup, S.deleteDatabase, S.deleteSecret, S.report, S.notify, S.outcome, S.succeeded,
    ]);
    await expectCleanedUp(r);
    await expectNotRepointed(r);
    const report = r.report as FailoverReport;
    expect(report).toMatchObject({ workflow: 'failover', status: 'SUCCEEDED', mode: 'rehearsal', source: SOURCE_NAME, failureReasons: [] });
    expect(report.recoveryPoint).toMatchObject({ kind: 'snapshot', id: expect.stringMatching(new RegExp(`^cdkbdr-${SOURCE_ID}-\\d{14}$`)), withinRpo: true });
    // The copy's data is from its identifier's time (two hours ago), not from when moto made the copy.
    expect(report.dataLossWindowSeconds).toBeGreaterThanOrEqual(2 * 3600);
    expect(report.dataLossWindowSeconds).toBeLessThan(3 * 3600);
    expect(report.timings.rtoSeconds).toEqual(expect.any(Number));
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([
      ['tables present', true],
      ['query orders-present', true],
      ['query no-poison', true],
      ['data age within RPO', true],
      ['cleanup', true],
    ]);
    expect(report.emulated?.join('\n')).toContain('has no PostgreSQL server');
    expect(report.database?.identifier).toBe(r.names.identifier);
    // The restored instance was tagged as a dry run and got the failover secret's password (the role proves it).
    const created = r.result.calls.find((c) => c.state === S.create)?.output as { masterUsername: string; secretName: string };
    expect(created).toMatchObject({ masterUsername: SOURCE_MASTER, secretName: `cdk-backup-dr/failover/${r.names.identifier}` });
    expect(r.metrics).toMatchObject({ FailoverSucceeded: 1, DataLossWindowSeconds: report.dataLossWindowSeconds, FailoverDurationSeconds: report.timings.rtoSeconds, __mode: 0 });
    const message = await messageFor(r);
    expect(message.subject).toMatch(new RegExp(`^cdk-backup-dr SUCCEEDED: failover rehearsal of ${SOURCE_NAME} in [a-z0-9-]+$`));
    expect(message.body).toMatchObject({ status: 'SUCCEEDED', mode: 'rehearsal', strategy: 'restore-snapshot', cleanup: 'done', emulated: true });
  });

  it('restore-dump: creates an instance, pg_restores the newest dump, checks row counts against the manifest, cleans up', async () => {
    const r = await run(rehearsal('restore-dump'));

    expect(r.result.status).toBe('SUCCEEDED');
    expect(r.result.visited).toEqual(expect.arrayContaining([S.create, S.wait, S.dumpOrPassword, S.restore, S.verifyDump, S.cleanup]));
    expect(r.result.visited).not.toContain(S.setPassword);
    await expectCleanedUp(r);
    await expectNotRepointed(r);
    const report = r.report as FailoverReport;
    expect(report.recoveryPoint).toMatchObject({ kind: 'dump', id: dump.manifestKey, dataAsOf: dump.manifest.startedAt });
    const tableChecks = report.checks.filter((c) => c.name.startsWith('table '));
    expect(tableChecks.length).toBe(dump.manifest.tables.length);
    expect(tableChecks.every((c) => c.passed)).toBe(true);
    expect(report.timings).toMatchObject({ restoreSeconds: expect.any(Number), verifySeconds: expect.any(Number), rtoSeconds: expect.any(Number) });
    const created = r.result.calls.find((c) => c.state === S.create)?.output as { masterUsername: string };
    expect(created.masterUsername).toBe(DUMP_MASTER);
  });

  it('point-in-time: restores the replicated automated backups to targetTime, verifies, cleans up', async () => {
    const when = targetTime();
    const r = await run(rehearsal('point-in-time', { targetTime: when }));

    expect(r.result.status).toBe('SUCCEEDED');
    await expectCleanedUp(r);
    const report = r.report as FailoverReport;
    expect(report.recoveryPoint).toMatchObject({ kind: 'point-in-time', dataAsOf: when, id: expect.stringContaining(':auto-backup:') });
    expect(report.dataLossWindowSeconds).toBeGreaterThanOrEqual(30 * 60);
    expect(report.plan).toMatchObject({ pointInTime: { restoreTime: when } });
    expect(report.emulated?.join('\n')).toContain('moto has no cross-region automated backup replication');
  });

  it('promote-replica: measures the replica lag, runs the checks read-only on the replica, never promotes', async () => {
    const r = await run(rehearsal('promote-replica'));

    expect(r.result.status).toBe('SUCCEEDED');
    expect(r.result.visited).toEqual([
      S.start, S.validate, S.preflight, S.strategy, S.lag, S.promoteOrCheck, S.useReplica, S.verify, S.checksPassed, S.repointOrRehearsal,
      S.cleanupChoice, S.report, S.notify, S.outcome, S.succeeded,
    ]);
    expect(r.result.calls.map((c) => (c.input as { action?: string }).action)).not.toContain('promote');
    const replica = await rdsDr.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: REPLICA_ID }));
    expect(replica.DBInstances?.[0].ReadReplicaSourceDBInstanceIdentifier).toContain(SOURCE_ID);
    const report = r.report as FailoverReport;
    expect(report.recoveryPoint).toMatchObject({ kind: 'replica', id: REPLICA_ID, withinRpo: true });
    expect(report.dataLossWindowSeconds).toBeLessThan(600);
    expect(report.cleanup).toEqual({ status: 'not-needed', results: ['the rehearsal created nothing'] });
    await expectNotRepointed(r);
  });
});

describe('Failover failure paths: each ends FAILED after cleaning up what it created, with a report and an SNS message', () => {
  it('refuses an invalid input before touching anything, saying what to change', async () => {
    const r = await run({ strategy: 'restore-snapshot', dryrun: true, reason: '' });

    expect(r.result.status).toBe('FAILED');
    expect(r.result.error).toBe('FailoverFailed');
    expect(r.result.visited).toEqual([S.start, S.validate, S.report, S.notify, S.outcome, S.failed]);
    const cause = r.result.cause ?? '';
    expect(cause).toContain('validate failed with InvalidInput');
    expect(cause).toContain('unknown field(s) "dryrun"');
    expect(cause).toContain('dryRun must be given explicitly');
    expect(cause).toContain('reason must be a non-empty string');
    expect(r.report).toMatchObject({ status: 'FAILED', failedStep: 'validate', input: { strategy: 'restore-snapshot', dryrun: true, reason: '' } });
    expect(r.report?.mode).toBeUndefined();
    expect(await describeDbInstance(region, r.names.identifier)).toBeUndefined();
    expect(r.metrics).toEqual({});
    expect((await messageFor(r)).subject).toMatch(new RegExp(`^cdk-backup-dr FAILED: failover \\(invalid input\\) of ${SOURCE_NAME} in [a-z0-9-]+ at validate$`));
  });

  it('refuses a replica lagging beyond the RPO unless acceptDataLoss, and then reports the data-loss window', async () => {
    const stale = async (e: FailoverEmulation, database: string) => {
      await e.withClient(database, (c) => c.query("UPDATE ops.heartbeat SET at = now() - interval '30 hours'"));
    };
    const refused = await run(rehearsal('promote-replica'), { before: stale });

    expect(refused.result.status).toBe('FAILED');
    expect(refused.report?.failedStep).toBe('replica-lag');
    expect(refused.result.cause).toMatch(/replica-lag failed with RecoveryPointTooOld: .*is 1 d 6 h( \d+ s)? old, more than the RPO of 1 d; pass acceptDataLoss: true/);
    expect(refused.result.visited).not.toContain(S.verify);
    expect((await messageFor(refused)).body).toMatchObject({ status: 'FAILED', mode: 'rehearsal' });

    const accepted = await run(rehearsal('promote-replica', { acceptDataLoss: true }), { before: stale });
    expect(accepted.result.status).toBe('SUCCEEDED');
    expect(accepted.report?.dataLossWindowSeconds).toBeGreaterThanOrEqual(30 * 3600);
    expect(accepted.report?.checks.find((c) => c.name === 'data age within RPO')).toMatchObject({ passed: true, detail: expect.stringContaining('accepted with acceptDataLoss') });
    expect(accepted.metrics.DataLossWindowSeconds).toBeGreaterThanOrEqual(30 * 3600);
  });

  it('fails when a check fails on the restored database, and still deletes it', async () => {
    await withPgClient(source.name, (c) => c.query('CREATE TABLE public.poison (x int)'));
    let r: Run;
    try {
      r = await run(rehearsal('restore-snapshot'));
    } finally {
      await withPgClient(source.name, (c) => c.query('DROP TABLE public.poison'));
    }

    expect(r.result.status).toBe('FAILED');
    expect(r.result.visited).toEqual(expect.arrayContaining([S.verify, S.checksPassed, S.cleanupChoice, S.cleanup, S.report, S.failed]));
    expect(r.result.cause).toContain('verification failed 1 of 3 checks: query no-poison (returned false)');
    await expectCleanedUp(r);
    expect(r.metrics).toMatchObject({ FailoverSucceeded: 0 });
    expect(r.metrics.FailoverDurationSeconds).toBeUndefined();
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED', failureReasons: [expect.stringContaining('no-poison')] });
  });

  it('fails when the restore fails (a corrupted dump), after deleting the instance it created', async () => {
    const corrupted = Uint8Array.from(dump.body);
    corrupted[Math.floor(corrupted.length / 2)] ^= 0xff;
    const put = (body: Uint8Array) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.manifest.s3.key, Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyArn }));
    await put(corrupted);
    let r: Run;
    try {
      r = await run(rehearsal('restore-dump'));
    } finally {
      await put(dump.body);
    }

    expect(r.result.status).toBe('FAILED');
    expect(r.report?.failedStep).toBe('restore');
    expect(r.result.cause).toMatch(/restore failed with ChecksumMismatch/);
    await expectCleanedUp(r);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED', cleanup: 'done' });
  });

  it('fails when the cleanup fails, after retrying the failing branch and still deleting the database', async () => {
    const broken = Object.assign(new Error('secretsmanager is unreachable (injected by the test)'), { name: 'InternalServiceError' });
    const r = await run(rehearsal('restore-snapshot'), { faults: { deleteSecretFails: broken } });

    expect(r.result.status).toBe('FAILED');
    expect(r.result.retries[S.deleteSecret]).toBe(5);
    expect(r.result.visited).toEqual(expect.arrayContaining([S.deleteSecretFailed, S.report, S.failed]));
    expect(r.report).toMatchObject({ status: 'FAILED', cleanup: { status: 'failed', error: { error: 'InternalServiceError' } } });
    expect(r.report?.failureReasons).toEqual([expect.stringMatching(/^cleanup failed with InternalServiceError: rehearsal resources may remain/)]);
    // The database branch was not cancelled by the failing secret branch: the rehearsal database is gone.
    expect(await describeDbInstance(region, r.names.identifier)).toBeUndefined();
    expect(r.report?.cleanup?.results).toEqual([`database ${r.names.identifier}: gone`, 'secret: failed']);
    expect(await secretExists(r.names.secretName)).toBe(true);
    expect((await messageFor(r)).body).toMatchObject({ status: 'FAILED', cleanup: 'failed' });
  });

  it('fails when the database never becomes available (NotReady until the Retry gives up), after deleting it', async () => {
    const r = await run(rehearsal('restore-snapshot'), { faults: { waitNeverReady: true } });

    expect(r.result.status).toBe('FAILED');
    // waitTimeout 3 min / 30 s polls: 1 call + 6 retries.
    expect(r.result.retries[S.wait]).toBe(6);
    expect(r.result.calls.filter((c) => c.state === S.wait).map((c) => c.error)).toEqual(Array(7).fill('NotReady'));
    expect(r.report?.failedStep).toBe('wait');
    expect(r.result.cause).toContain('wait failed with NotReady');
    await expectCleanedUp(r);
    expect((await messageFor(r)).subject).toMatch(new RegExp(`^cdk-backup-dr FAILED: failover rehearsal of ${SOURCE_NAME} in [a-z0-9-]+`));
  });
});

describe('real failovers: the new database is kept (deletion protection, backups) and the application repointed', () => {
  async function expectRepointedTo(r: Run, host: string, previous: { parameter: string; secretHost: string; cname: string }): Promise<void> {
    expect(r.result.visited).toContain(S.repoint);
    expect(r.result.visited).not.toContain(S.cleanup);
    expect(await parameterValue()).toBe(`${host}:5432`);
    const secret = await secretValue(appSecretArn);
    expect(secret).toMatchObject({ host, port: 5432, username: 'app', password: 'app-password-never-in-reports', dbname: 'app' });
    expect(await cnameValue()).toBe(host);
    const changes = r.report?.repoint?.changes ?? [];
    expect(changes).toEqual([
      { type: 'ssm-parameter', name: PARAMETER, previous: previous.parameter, current: `${host}:5432`, action: 'updated' },
      { type: 'secret', name: appSecretArn, previous: JSON.stringify({ host: previous.secretHost, port: 5432 }), current: JSON.stringify({ host, port: 5432 }), action: 'updated' },
      { type: 'cname', name: RECORD, previous: `${previous.cname} (TTL ${previous.cname === OLD_HOST ? 300 : 30})`, current: `${host} (TTL 30)`, action: 'updated' },
    ]);
    expect(JSON.stringify(r.report)).not.toContain('app-password-never-in-reports');
    expect(r.report?.failback?.join('\n')).toContain(`ssm-parameter ${PARAMETER}: set back to ${previous.parameter}`);
  }

  async function currentTargets(): Promise<{ parameter: string; secretHost: string; cname: string }> {
    return { parameter: (await parameterValue()) ?? '', secretHost: String((await secretValue(appSecretArn)).host), cname: (await cnameValue()) ?? '' };
  }

  it('restore-snapshot: keeps the restored instance and its secret, repoints SSM, the secret and the CNAME', async () => {
    const before = await currentTargets();
    const r = await run({ strategy: 'restore-snapshot', dryRun: false, reason: 'us-west-2 is down' });

    expect(r.result.status).toBe('SUCCEEDED');
    const instance = await rdsDr.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: r.names.identifier }));
    const db = instance.DBInstances?.[0];
    expect(db).toMatchObject({ DeletionProtection: true, BackupRetentionPeriod: 7 });
    expect(db?.TagList).toEqual(expect.arrayContaining([{ Key: 'cdk-backup-dr:dry-run', Value: 'false' }, { Key: 'cdk-backup-dr:purpose', Value: 'failover' }]));
    expect(await secretExists(r.names.secretName)).toBe(true);
    await expectRepointedTo(r, db?.Endpoint?.Address ?? '', before);
    expect(r.report).toMatchObject({ mode: 'failover', resourcesKept: [`instance ${r.names.identifier} (deletion protection on)`, `secret ${r.names.secretName} (its master credentials)`] });
    expect(r.metrics).toMatchObject({ FailoverSucceeded: 1, FailoverDurationSeconds: r.report?.timings.rtoSeconds, __mode: 1 });
    expect((await messageFor(r)).subject).toMatch(new RegExp(`^cdk-backup-dr SUCCEEDED: FAILOVER of ${SOURCE_NAME} in [a-z0-9-]+$`));
  });

  it('restore-snapshot over its RTO: the database serves and the application is repointed; the message says so and not to fail over again', async () => {
    const before = await currentTargets();
    // The local engine recovers in seconds, under any rto the construct accepts: the report function's target is lowered.
    const overRto = new LocalWorkflow({ ...workflowOptions, extraEnv: { RTO_SECONDS: '0.001' } });
    const r = await run({ strategy: 'restore-snapshot', dryRun: false, reason: 'us-west-2 is down' }, { workflow: overRto });

    expect(r.result.status).toBe('FAILED');
    expect(r.report?.failureReasons).toEqual([expect.stringMatching(/measured RTO of .+ s exceeds the target of 0\.001 s/)]);
    const db = (await describeDbInstance(region, r.names.identifier)) ?? fail('the restored instance is gone');
    await expectRepointedTo(r, db.endpoint?.host ?? '', before);
    const message = await messageFor(r);
    expect(message.subject).toMatch(new RegExp(`^cdk-backup-dr FAILED: FAILOVER \\(DB up, over RTO\\) of ${SOURCE_NAME} in [a-z0-9-]+$`));
    expect(message.subject?.length).toBeLessThan(100);
    expect(message.body.nextStep).toMatch(new RegExp(`^The DR database is up \\(${r.names.identifier}\\) and the application was repointed to it\\. Do NOT run the failover again`));
  });

  it('restore-dump: keeps the instance with the restored dump and repoints to it', async () => {
    const before = await currentTargets();
    const r = await run({ strategy: 'restore-dump', dryRun: false, reason: 'snapshots unusable' });

    expect(r.result.status).toBe('SUCCEEDED');
    const db = (await describeDbInstance(region, r.names.identifier)) ?? fail('the restored instance is gone');
    await expectRepointedTo(r, db.endpoint?.host ?? '', before);
    const mapped = r.emulation.byIdentifier(r.names.identifier);
    const orders = await r.emulation.withClient(mapped?.localDatabase ?? '', (c) => c.query<{ n: string }>('SELECT count(*)::text AS n FROM sales.orders'));
    expect(orders.rows[0].n).toBe('7000');
  });

  it('point-in-time: keeps the instance restored to targetTime and repoints to it', async () => {
    const before = await currentTargets();
    const r = await run({ strategy: 'point-in-time', dryRun: false, reason: 'bad migration at 12:05', targetTime: targetTime() });

    expect(r.result.status).toBe('SUCCEEDED');
    const db = (await describeDbInstance(region, r.names.identifier)) ?? fail('the restored instance is gone');
    expect(db.tags['cdk-backup-dr:strategy']).toBe('point-in-time');
    await expectRepointedTo(r, db.endpoint?.host ?? '', before);
  });

  it('promote-replica: promotes the read replica, confirms it accepts writes, repoints to it', async () => {
    const before = await currentTargets();
    const r = await run({ strategy: 'promote-replica', dryRun: false, reason: 'us-west-2 is down' });

    expect(r.result.status).toBe('SUCCEEDED');
    expect(r.result.visited).toEqual([
      S.start, S.validate, S.preflight, S.strategy, S.lag, S.promoteOrCheck, S.promote, S.waitPromoted, S.confirmWritable, S.verify,
      S.checksPassed, S.repointOrRehearsal, S.repoint, S.report, S.notify, S.outcome, S.succeeded,
    ]);
    expect(r.result.calls.find((c) => c.state === S.promote)?.output).toMatchObject({ identifier: REPLICA_ID, kind: 'instance', outcome: 'promoting' });
    const replica = (await describeDbInstance(region, REPLICA_ID)) ?? fail('the replica is gone');
    await expectRepointedTo(r, replica.endpoint?.host ?? '', before);
    expect(r.report).toMatchObject({ mode: 'failover', promotion: { identifier: REPLICA_ID, outcome: 'promoting' } });
    expect(r.report?.resourcesKept).toBeUndefined();
  });
});
