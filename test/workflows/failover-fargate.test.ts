/**
 * A restore-dump Failover whose restore runs on the Fargate runner (BackupRunner.fargate), run by the local runner:
 * the Restore dump state starts the task entrypoint as a child process that pg_restores with the host's client tools
 * and answers through the runner's loopback Step Functions endpoint. The database the failover creates in moto is
 * mapped to a database on the harness server as for the Lambda (./failover-support: the act step's `wait` registers
 * it; the task's event is mapped before the task starts, with the same mapping).
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { runDump } from '../../lambda/backup/dump-core';
import type { BackupManifest } from '../../lambda/backup/manifest';
import { failoverNames } from '../../lambda/failover/request';
import { describeDbInstance } from '../../lambda/rds/instances';
import type { FailoverReport } from '../../lambda/reporting/failover-report';
import type { TargetInput } from '../../local/database-mapping';
import { BackupRunner } from '../../lib';
import { Failover } from '../../lib/failover/failover';
import { FailoverSource, FailoverStrategy } from '../../lib/failover/failover-strategy';
import { FAILOVER_STATES as S } from '../../lib/failover/failover-workflow';
import { BackupBucket } from '../../lib/storage';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';
import { type JsonValue, type LocalLambdaHandler, LocalWorkflow, type LocalWorkflowResult, logicalIdOf } from '../support/workflow-harness';
import { threeTierVpc } from '../support/vpc';
import { type ActiveRun, commonFailoverIds, dropRoles, FailoverEmulation, failoverHandlers, LOCAL_ACCOUNT, secretExists, writtenReport, PRIMARY_REGION } from './failover-support';
import { tableContents, type TableContent } from './recovery-test-support';

const region = harnessEnv().awsRegion;
const suffix = randomBytes(3).toString('hex');
const SOURCE_ID = `fof-src-${suffix}`;
const SOURCE_NAME = `fof-local-${suffix}`;
const DUMP_MASTER = `fofdump_${suffix}`;

const asObject = (value: JsonValue | undefined): Record<string, JsonValue> => (value ?? {}) as Record<string, JsonValue>;
const s3 = new S3Client({});
const secrets = new SecretsManagerClient({});

let source: TestDatabase;
let fingerprint: TableContent[];
let bucket: string;
let kmsKeyArn: string;
let dump: { manifestKey: string; manifest: BackupManifest; body: Uint8Array };
let stack: ReturnType<typeof fargateFailoverStack>;
let workflow: LocalWorkflow;
const emulations: FailoverEmulation[] = [];

/** The run in progress: its emulation, and the restored database's content as the dump verify saw it. */
let current: (ActiveRun & { restored?: TableContent[] }) | undefined;

function active(): ActiveRun & { restored?: TableContent[] } {
  if (!current) throw new Error('no run in progress');
  return current;
}

/** A DR-region stack with a Failover whose only strategy is restore-dump on the Fargate runner, synthesized. */
function fargateFailoverStack(database: string) {
  const app = new App();
  const stack = new Stack(app, 'FailoverFargateLocal', { env: { account: LOCAL_ACCOUNT, region } });
  const vpc = threeTierVpc(stack);
  const backups = new BackupBucket(stack, 'ReplicaBackups');
  const failover = new Failover(stack, 'Failover', {
    source: FailoverSource.instance(SOURCE_ID),
    primaryRegion: PRIMARY_REGION,
    sourceName: SOURCE_NAME,
    database,
    rpo: Duration.hours(24),
    bucket: backups,
    vpc,
    strategies: [
      FailoverStrategy.restoreDump({
        engineVersion: rds.PostgresEngineVersion.VER_15,
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
        masterUsername: DUMP_MASTER,
        runner: BackupRunner.fargate({ timeout: Duration.hours(1) }),
      }),
    ],
    // No repoint targets: the "Repoint or rehearsal?" Choice still has its rule (a real failover goes to its report).
    validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM sales.orders' }],
    waitTimeout: Duration.minutes(3),
  });
  if (failover.restoreTask === undefined || failover.dumpVerifyFunction === undefined || failover.databaseSubnetGroup === undefined) {
    throw new Error('the test Failover has no restore task, dump verify function or subnet group');
  }
  return {
    failover,
    template: Template.fromStack(stack).toJSON(),
    ids: {
      ...commonFailoverIds(failover, backups),
      restoreTask: logicalIdOf(failover.restoreTask.taskDefinition),
      dumpVerify: logicalIdOf(failover.dumpVerifyFunction),
    },
  };
}

beforeAll(async () => {
  source = await createTestDatabase('fof_src');
  await seedSource(source.name);
  fingerprint = await withPgClient(source.name, tableContents);
  // The replica bucket in the DR region, with a dump of the source (unversioned: the failure case overwrites the dump).
  bucket = await createTestBucket({ prefix: 'failover-fargate' });
  kmsKeyArn = (await createKmsKey('failover fargate test backups')).arn;
  const { pg } = harnessEnv();
  const result = await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: source.name, sslMode: 'disable' },
    bucket,
    kmsKeyId: kmsKeyArn,
    source: SOURCE_NAME,
    tiers: ['daily'],
    s3,
  });
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: result.manifest.s3.key }));
  dump = { manifestKey: result.manifestKey, manifest: result.manifest, body: await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray() };
  const topicArn = await createTopic();
  const network = await createScratchNetwork(`fof-${suffix}`);

  stack = fargateFailoverStack(source.name);
  const { ids } = stack;
  expect(stack.failover.restoreFunction).toBeUndefined();
  // Only restore-dump is configured: no restore Lambda and no verify function, whose handlers are left out.
  const resources = stack.template.Resources as Record<string, { Properties: Record<string, unknown> }>;
  const handlers: Record<string, LocalLambdaHandler> = Object.fromEntries(
    Object.entries(
      failoverHandlers(
        { preflight: ids.preflight, act: ids.act, restore: '-', dumpVerify: ids.dumpVerify, verify: '-', repoint: '-', report: ids.report },
        active,
        () => [],
      ),
    ).filter(([id]) => id in resources),
  );
  // The restored database is dropped by the rehearsal's cleanup: read its content right after the dump verify.
  const dumpVerify = handlers[ids.dumpVerify];
  handlers[ids.dumpVerify] = async (event: never, context) => {
    const output = await dumpVerify(event, context);
    const run = active();
    const target = run.emulation.map((event as { target: TargetInput }).target);
    run.restored = await run.emulation.withClient(target.database, tableContents);
    return output;
  };
  const family = resources[ids.restoreTask].Properties.Family as string;
  const keyId = kmsKeyArn.slice(kmsKeyArn.lastIndexOf('/') + 1);
  workflow = new LocalWorkflow({
    template: stack.template,
    stateMachine: ids.machine,
    region,
    handlers,
    tasks: {
      [ids.restoreTask]: {
        entrypoint: 'lambda/runner/task-entrypoint.ts',
        // The same mapping as the restore Lambda's wrapper: the new database in moto -> a database on the harness server.
        prepareOverrides: async (overrides) => {
          const event = JSON.parse(overrides.TASK_INPUT) as { target: TargetInput };
          return { ...overrides, TASK_INPUT: JSON.stringify({ ...event, target: active().emulation.map(event.target) }) };
        },
      },
    },
    resources: {
      [ids.bucket]: bucket,
      [ids.key]: { ref: keyId, attributes: { Arn: kmsKeyArn } },
      [ids.topic]: topicArn,
      [ids.subnetGroup]: network.subnetGroupName,
      [ids.databaseSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
      [ids.restoreTask]: `arn:aws:ecs:${region}:${LOCAL_ACCOUNT}:task-definition/${family}:1`,
    },
    extraEnv: { PG_RESTORE_PATH: 'pg_restore', POWERTOOLS_LOG_LEVEL: 'ERROR', RUNNER_HEARTBEAT_SECONDS: '0.2' },
  });
}, 300_000);

afterAll(async () => {
  for (const emulation of emulations) await emulation.destroy();
  await dropRoles(emulations.flatMap((e) => [...e.roles]));
  await dropTestDatabase(source.name);
  s3.destroy();
  secrets.destroy();
});

interface Run {
  readonly result: LocalWorkflowResult;
  readonly emulation: FailoverEmulation;
  readonly names: ReturnType<typeof failoverNames>;
  readonly restored?: TableContent[];
  readonly report?: FailoverReport;
}

let runs = 0;

async function rehearse(): Promise<Run> {
  runs += 1;
  const executionName = `failover-fargate-${runs}-${suffix}`;
  const emulation = new FailoverEmulation(source.name);
  emulations.push(emulation);
  const run: ActiveRun & { restored?: TableContent[] } = { emulation, faults: {} };
  current = run;
  let result: LocalWorkflowResult;
  try {
    result = await workflow.run({ strategy: 'restore-dump', dryRun: true, reason: 'rehearsal of restore-dump on Fargate' }, { executionName });
  } finally {
    current = undefined;
  }
  const report = await writtenReport(s3, bucket, result);
  return { result, emulation, names: failoverNames({ executionId: result.executionArn, executionName }, 'instance'), restored: run.restored, report };
}


/** The rehearsal's database (in moto and its stand-in on the server) and secret are gone. */
async function expectCleanedUp(r: Run): Promise<void> {
  expect(r.result.visited).toEqual(expect.arrayContaining([S.cleanup, S.deleteDatabase, S.deleteSecret]));
  expect(await describeDbInstance(region, r.names.identifier)).toBeUndefined();
  expect(await secretExists(secrets, r.names.secretName)).toBe(false);
  const mapped = r.emulation.byIdentifier(r.names.identifier) ?? fail(`${r.names.identifier} was never mapped`);
  const exists = await withPgClient('postgres', (c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [mapped.localDatabase]));
  expect(exists.rowCount).toBe(0);
  expect(r.report?.cleanup?.status).toBe('done');
}

function fail(message: string): never {
  throw new Error(message);
}

it('rehearses restore-dump with the restore in a Fargate task (child process): restores the newest dump, verifies it against the manifest, cleans up, reports SUCCEEDED', async () => {
  const r = await rehearse();

  expect({ status: r.result.status, error: r.result.error, cause: r.result.cause }).toEqual({ status: 'SUCCEEDED' });
  expect(r.result.visited).toEqual(expect.arrayContaining([S.create, S.wait, `${S.restore} input`, S.restore, S.verifyDump, S.report, S.notify, S.succeeded]));
  const restoreCalls = r.result.calls.filter((call) => call.state === S.restore);
  expect(restoreCalls.map((call) => call.target)).toEqual([`ecs:${stack.ids.restoreTask}`]);
  // SendTaskSuccess's output is the restore handler's, as the Lambda returns it.
  expect(restoreCalls[0].output).toMatchObject({ mode: 'stream', restoredBytes: expect.any(Number) });
  const environment = (asObject(asObject(restoreCalls[0].input).Overrides).ContainerOverrides as Array<{ Environment: Array<{ Name: string; Value: string }> }>)[0].Environment;
  const taskInput = JSON.parse(environment.find((e) => e.Name === 'TASK_INPUT')?.Value ?? 'null') as { manifestKey: string; createDatabase: boolean; target: TargetInput };
  expect(taskInput).toMatchObject({ manifestKey: dump.manifestKey, createDatabase: true, target: { host: expect.stringContaining(r.names.identifier) } });
  expect(r.restored).toEqual(fingerprint);
  await expectCleanedUp(r);

  const report = r.report ?? fail('no report was written');
  expect(report).toMatchObject({ workflow: 'failover', status: 'SUCCEEDED', mode: 'rehearsal', source: SOURCE_NAME, failureReasons: [] });
  expect(report.recoveryPoint).toMatchObject({ kind: 'dump', id: dump.manifestKey, dataAsOf: dump.manifest.startedAt, withinRpo: true });
  const tableChecks = report.checks.filter((c) => c.name.startsWith('table '));
  expect(tableChecks.length).toBe(dump.manifest.tables.length);
  expect(tableChecks.every((c) => c.passed)).toBe(true);
  expect(report.timings).toMatchObject({ restoreSeconds: expect.any(Number), verifySeconds: expect.any(Number), rtoSeconds: expect.any(Number) });
  expect(r.result.emulated.join('\n')).toMatch(/the container ran as a child process/);
});

it('fails when the task\'s restore fails (a corrupted dump) with the handler\'s error name, after deleting the database it created', async () => {
  const corrupted = Uint8Array.from(dump.body);
  corrupted[Math.floor(corrupted.length / 2)] ^= 0xff;
  const put = (body: Uint8Array) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.manifest.s3.key, Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyArn }));
  await put(corrupted);
  let r: Run;
  try {
    r = await rehearse();
  } finally {
    await put(dump.body);
  }

  expect(r.result.status).toBe('FAILED');
  const restoreCalls = r.result.calls.filter((call) => call.state === S.restore);
  expect(restoreCalls.map((call) => [call.target, call.error])).toEqual([[`ecs:${stack.ids.restoreTask}`, 'ChecksumMismatch']]);
  expect(r.result.cause).toMatch(/restore failed with ChecksumMismatch/);
  expect(r.result.visited).not.toContain(S.verifyDump);
  await expectCleanedUp(r);
  expect(r.report).toMatchObject({ status: 'FAILED', failedStep: 'restore' });
});
