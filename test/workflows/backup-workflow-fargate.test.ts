/**
 * The BackupWorkflow of a PostgresBackup on the Fargate runner (BackupRunner.fargate), run end to end by the local
 * runner: each dump is the synthesized ecs:runTask.waitForTaskToken state, its container a child process running the
 * task entrypoint (lambda/runner/task-entrypoint.ts) with the task definition's environment and the state's overrides,
 * answering through a loopback Step Functions endpoint. Real PostgreSQL 15 (an endpoint source with the harness CA),
 * S3, KMS, Secrets Manager and SNS in moto. The child's SDK calls are recorded as the task role's for the IAM contract.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { BackupRunner, BackupSource, PostgresBackup } from '../../lib';
import { BackupBucket } from '../../lib/storage';
import { handler as reportHandler } from '../../lambda/reporting/backup-report.handler';
import { logger } from '../../lambda/common/logger';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic } from '../support/moto';
import { createTestDatabase, dropTestDatabase, harnessCaSecretArn, withPgClient, type TestDatabase } from '../support/postgres';
import { type JsonValue, LocalWorkflow, logicalIdOf } from '../support/workflow-harness';

type Json = Record<string, JsonValue>;
const asObject = (value: JsonValue | undefined): Json => (value ?? {}) as Json;

const env = harnessEnv();
const region = env.awsRegion;
const sourceName = `fgt-${randomBytes(3).toString('hex')}`;
let databases: TestDatabase[];
let workflow: LocalWorkflow;
let secretArn: string;
let bucket: string;
let ids: { machine: string; task: string; verifyTask: string };
const s3 = new S3Client({ region });
const secrets = new SecretsManagerClient({ region });
const goodSecret = JSON.stringify({ engine: 'postgres', username: env.pg.user, password: env.pg.password });

beforeAll(async () => {
  logger.setLogLevel('ERROR');
  databases = [await createTestDatabase('fg_orders'), await createTestDatabase('fg_billing')];
  for (const [index, db] of databases.entries()) {
    await withPgClient(db.name, (client) =>
      client.query(`CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, ${50 * (index + 1)}) g`),
    );
  }
  bucket = await createTestBucket({ prefix: 'backup-fargate', versioned: true });
  const bucketKey = await createKmsKey('backup fargate test: bucket key');
  const topicArn = await createTopic(`backup-fargate-${randomBytes(4).toString('hex')}`);
  secretArn = (await secrets.send(new CreateSecretCommand({ Name: `${sourceName}-credentials`, SecretString: goodSecret }))).ARN as string;
  const caSecretArn = await harnessCaSecretArn(region);

  const app = new App();
  const stack = new Stack(app, 'BackupFargateTest', { env: { account: '123456789012', region } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const backups = new BackupBucket(stack, 'Backups');
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'DbSecret', secretArn);
  const caCertificate = new secretsmanager.Secret(stack, 'ServerCa', { description: 'PEM of the CA of the PostgreSQL server' });
  const backup = new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromEndpoint({ host: env.pg.host, port: env.pg.port, name: sourceName, secret, caCertificate }),
    databases: databases.map((d) => d.name),
    vpc,
    bucket: backups,
    postgresVersion: 15,
    runner: BackupRunner.fargate({ cpu: 1024, memoryLimitMiB: 2048, timeout: Duration.hours(2) }),
  });
  const template = Template.fromStack(stack).toJSON();
  expect(backup.verifyFunction).toBeUndefined();
  ids = { machine: logicalIdOf(backup.stateMachine), task: logicalIdOf(backup.dumpTask!.taskDefinition), verifyTask: logicalIdOf(backup.verifyTask!.taskDefinition) };
  const familyOf = (id: string) => (template.Resources[id] as { Properties: { Family: string } }).Properties.Family;
  workflow = new LocalWorkflow({
    template,
    stateMachine: ids.machine,
    region,
    handlers: { [logicalIdOf(backup.reportFunction)]: reportHandler },
    tasks: { [ids.task]: { entrypoint: 'lambda/runner/task-entrypoint.ts' }, [ids.verifyTask]: { entrypoint: 'lambda/runner/task-entrypoint.ts' } },
    resources: {
      [logicalIdOf(backups.bucket)]: bucket,
      [logicalIdOf(backups.encryptionKey)]: bucketKey.keyId,
      [logicalIdOf(backup.notificationTopic)]: topicArn,
      [logicalIdOf(caCertificate)]: caSecretArn,
      [ids.task]: `arn:aws:ecs:${region}:123456789012:task-definition/${familyOf(ids.task)}:1`,
      [ids.verifyTask]: `arn:aws:ecs:${region}:123456789012:task-definition/${familyOf(ids.verifyTask)}:1`,
    },
    // The image's /usr/bin/pg_dump 15 is the host's pg_dump 15 here (the container runs as a child process); a
    // heartbeat every 0.2 s instead of 60 s, so the short test dumps send some.
    extraEnv: { PG_DUMP_PATH: 'pg_dump', PG_DUMPALL_PATH: 'pg_dumpall', POWERTOOLS_LOG_LEVEL: 'ERROR', RUNNER_HEARTBEAT_SECONDS: '0.2' },
  });
}, 300_000);

afterAll(async () => {
  await secrets.send(new DeleteSecretCommand({ SecretId: secretArn, ForceDeleteWithoutRecovery: true }));
  await Promise.all(databases.map((d) => dropTestDatabase(d.name)));
  s3.destroy();
  secrets.destroy();
});

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return (page.Versions ?? []).map((v) => String(v.Key));
}

describe('BackupWorkflow on the Fargate runner', () => {
  it('dumps each database in a task (child process), verifies it in another, and reports SUCCEEDED, with the same output shape as the Lambda', async () => {
    const executionName = `fargate-ok-${randomBytes(3).toString('hex')}`;
    const result = await workflow.run({ tiers: ['daily'] }, { executionName });
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED' });
    const dumps = result.calls.filter((call) => call.state === 'Dump');
    expect(dumps.map((call) => call.target)).toEqual([`ecs:${ids.task}`, `ecs:${ids.task}`]);
    // The RunTask request carries the token and the handler's event as the container overrides.
    for (const call of dumps) {
      const environment = (asObject(asObject(call.input).Overrides).ContainerOverrides as Json[])[0].Environment as Json[];
      expect(environment.map((e) => e.Name)).toEqual(['TASK_TOKEN', 'TASK_INPUT']);
      const event = JSON.parse(String(environment[1].Value)) as Json;
      expect(event).toMatchObject({ target: { host: env.pg.host, port: String(env.pg.port), secretArn }, tiers: ['daily'] });
      expect(JSON.stringify(event)).not.toContain(env.pg.password);
      // SendTaskSuccess's output is what the Lambda returned: { backup: { manifestKey, sha256, ... } }.
      expect(asObject(asObject(call.output).backup)).toMatchObject({ database: event.database, manifestKey: expect.stringMatching(/\.manifest\.json$/) });
    }
    // Verification runs on the same runner: a task per dump, answering with the verify handler's output.
    const verifies = result.calls.filter((call) => call.state === 'Verify');
    expect(verifies.map((call) => call.target)).toEqual([`ecs:${ids.verifyTask}`, `ecs:${ids.verifyTask}`]);
    expect(verifies.map((call) => asObject(call.output).status)).toEqual(['verified', 'verified']);
    for (const db of databases) expect((await keysUnder(`postgres/${sourceName}/${db.name}/`)).filter((k) => k.endsWith('.manifest.json'))).toHaveLength(1);
    const reportKey = (await keysUnder('reports/backup/')).find((key) => key.endsWith(`-${executionName}.json`));
    const report = JSON.parse(String(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }))).Body?.transformToString())) as Json;
    expect((report.databases as Json[]).map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(result.emulated.join('\n')).toMatch(new RegExp(`task ${ids.task}: the container ran as a child process`));
  });

  it('a failed dump fails the state with the handler\'s error name (DumpFailed, retried once, then caught into the database\'s result), as with the Lambda', async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify({ ...JSON.parse(goodSecret), password: wrong }) }));
    try {
      const result = await workflow.run({ tiers: ['daily'] }, { executionName: `fargate-fail-${randomBytes(3).toString('hex')}` });
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('BackupFailed');
      expect(result.cause).toMatch(/DumpFailed/);
      expect(result.cause).toMatch(/password authentication failed/);
      expect(result.cause).not.toContain(wrong);
      const dumps = result.calls.filter((call) => call.state === 'Dump');
      // Two databases, each tried twice (Retry on DumpFailed), every attempt failed with the Lambda's error and cause shape.
      expect(dumps).toHaveLength(4);
      for (const call of dumps) {
        expect(call.error).toBe('DumpFailed');
        expect(JSON.parse(String(call.cause))).toMatchObject({ errorType: 'DumpFailed', errorMessage: expect.stringMatching(/password authentication failed/), trace: expect.any(Array) });
      }
      expect(result.retries.Dump).toBe(2);
      expect(result.visited.filter((state) => state === 'Database failed')).toHaveLength(2);
      expect(result.visited).not.toContain('Verify');
    } finally {
      await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: goodSecret }));
    }
  });
});
