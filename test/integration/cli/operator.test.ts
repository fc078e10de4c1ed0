/**
 * The operator CLI against the harness' PostgreSQL and moto: list, verify (primary and replica), restore of a schema
 * or a table with the password from a password file, and the stack commands (status, drill) against a stack created
 * in moto from a small template shaped like the constructs' output (moto's CloudFormation cannot run the real
 * synthesized template: it creates no Lambda from an asset).
 *
 * What moto cannot emulate, and so is not covered here: Step Functions executions do not run (an execution stays
 * RUNNING until the test stops it, so `drill --stack` is followed to ABORTED, not to a report of a real run); alarms
 * are not created from a template (the test puts one named as CloudFormation names them); S3 does not replicate (the
 * test copies the object to the replica itself); RDS has no snapshot quota (status reports it unknown).
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CopyObjectCommand, DeleteObjectCommand, PutBucketReplicationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { main } from '../../../cli/main';
import type { CliIo } from '../../../cli/io';
import { runDump, type DumpResult } from '../../../lambda/backup/dump-core';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../../support/postgres';
import { seedSource } from '../dump/support';

const s3 = new S3Client({});
const cfn = new CloudFormationClient({});
const sfn = new SFNClient({});
const cloudWatch = new CloudWatchClient({});
let db: TestDatabase;
let bucket: string;
let older: DumpResult;
let newer: DumpResult;
const stackName = `cli-stack-${Date.now()}`;
const created: string[] = [];

function capture(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { env, stdout: (t) => (out += t), stderr: (t) => (err += t), out: () => out, err: () => err };
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const io = capture(env);
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** A template with what `--stack` reads: a backup bucket (and its access-logs bucket), a recovery test, a failover. */
function stackTemplate(): string {
  const machine = (comment: string) => ({
    Type: 'AWS::StepFunctions::StateMachine',
    Properties: {
      RoleArn: 'arn:aws:iam::123456789012:role/cli-test',
      DefinitionString: JSON.stringify({ Comment: comment, StartAt: 'Pick', States: { Pick: { Type: 'Pass', End: true } } }),
    },
  });
  return JSON.stringify({
    Resources: {
      BackupsBucket83908E77: { Type: 'AWS::S3::Bucket', Properties: { VersioningConfiguration: { Status: 'Enabled' } } },
      BackupsAccessLogsBucket5E5AF4A4: { Type: 'AWS::S3::Bucket' },
      DbRecoveryTestStateMachineD2B5C9A1: machine('cdk-backup-dr recovery test (dump): pick, restore into scratch, verify, always clean up, report'),
      DrFailoverStateMachine1F2C4B7E: machine('cdk-backup-dr failover (restore-dump): validate, preflight, act in the DR region, verify, repoint or clean up, report'),
    },
  });
}

beforeAll(async () => {
  db = await createTestDatabase('cli_operator');
  await seedSource(db.name);
  await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: stackTemplate() }));
  const resource = await cfn.send(new DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: 'BackupsBucket83908E77' }));
  bucket = resource.StackResourceDetail!.PhysicalResourceId!;
  const { pg } = harnessEnv();
  const target = { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, sslMode: 'disable' as const };
  older = await runDump({ target, bucket, source: 'cli-ops', tiers: ['daily'], s3 });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  newer = await runDump({ target, bucket, source: 'cli-ops', tiers: ['daily', 'weekly'], s3 });
  // A backup run's report naming the older dump as verified (what the BackupWorkflow writes).
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `reports/backup/${older.manifest.startedAt.slice(0, 10).replace(/-/g, '/')}/20260101T000000.000Z-run.json`,
      Body: JSON.stringify({ workflow: 'backup', databases: [{ database: db.name, manifestKey: older.manifestKey, verification: 'verified' }] }),
    }),
  );
}, 180_000);

afterAll(async () => {
  for (const name of created) await dropTestDatabase(name);
  await dropTestDatabase(db.name);
  for (const client of [s3, cfn, sfn, cloudWatch]) client.destroy();
});

describe('list', () => {
  it('lists the backups of the bucket’s only source, newest first, with size, tiers, class, lock and verification', async () => {
    const result = await run(['list', '--bucket', bucket, '--json']);
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.out) as { source: string; backups: Record<string, unknown>[] };
    expect(listed.source).toBe('cli-ops');
    expect(listed.backups).toEqual([
      expect.objectContaining({ manifestKey: newer.manifestKey, bytes: newer.manifest.bytes, tiers: ['daily', 'weekly'], storageClass: 'STANDARD', lock: 'none', verified: 'unknown' }),
      expect.objectContaining({ manifestKey: older.manifestKey, bytes: older.manifest.bytes, tiers: ['daily'], storageClass: 'STANDARD', lock: 'none', verified: 'verified' }),
    ]);
    const text = await run(['list', '--stack', stackName, '--limit', '1']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/started \(UTC\) +age +database +size +tiers +class +lock +verified +manifest/);
    expect(text.out).toContain(newer.manifestKey);
    expect(text.out).not.toContain(older.manifestKey);
  });

  it('exits 3 for a bucket or source that does not exist', async () => {
    expect((await run(['list', '--bucket', `missing-${Date.now()}`])).code).toBe(3);
    const noSource = await run(['list', '--bucket', bucket, '--source', 'nobody']);
    expect(noSource.code).toBe(3);
    expect(noSource.err).toMatch(/no backups of nobody in s3:\/\//);
  });
});

describe('verify', () => {
  it('re-hashes the latest backup against its manifest: exit 0', async () => {
    const result = await run(['verify', '--bucket', bucket, '--latest', '--quiet']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(new RegExp(`^OK: ${newer.manifestKey.replace(/[.]/g, '\\.')}: verified`));
    expect(result.out).toContain('replica: none (the bucket does not replicate)');
  });

  it('checks the replica the bucket replicates to: pending until the copy is there, then verified', async () => {
    const source = await createTestBucket({ prefix: 'cli-verify-src', versioned: true });
    const replica = await createTestBucket({ prefix: 'cli-verify-dr', versioned: true, region: 'us-west-2' });
    await s3.send(
      new PutBucketReplicationCommand({
        Bucket: source,
        ReplicationConfiguration: {
          Role: 'arn:aws:iam::123456789012:role/replication',
          Rules: [{ ID: 'all', Status: 'Enabled', Priority: 1, Filter: { Prefix: '' }, DeleteMarkerReplication: { Status: 'Disabled' }, Destination: { Bucket: `arn:aws:s3:::${replica}` } }],
        },
      }),
    );
    const { pg } = harnessEnv();
    const dump = await runDump({
      target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, sslMode: 'disable' },
      bucket: source,
      source: 'cli-rep',
      tiers: ['daily'],
      s3,
    });
    const pending = await run(['verify', '--bucket', source, '--manifest-key', dump.manifestKey, '--json']);
    expect(pending.code).toBe(1);
    expect(JSON.parse(pending.out)).toMatchObject({ verdict: 'not-ready', status: 'verified', replica: { bucket: replica, region: 'us-west-2', status: 'pending' } });

    // moto does not replicate: copy the dump into the replica as S3 replication would.
    const west = new S3Client({ region: 'us-west-2' });
    try {
      await west.send(new CopyObjectCommand({ Bucket: replica, Key: dump.manifest.s3.key, CopySource: `${source}/${dump.manifest.s3.key}` }));
    } finally {
      west.destroy();
    }
    const verified = await run(['verify', '--bucket', source, '--manifest-key', dump.manifestKey]);
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/^OK: /);
    expect(verified.out).toContain(`replica s3://${replica} in us-west-2: verified`);
  });

  it('fails (exit 1) when the dump version is gone, and exits 3 for a manifest that does not exist', async () => {
    const source = await createTestBucket({ prefix: 'cli-verify-gone', versioned: true });
    const { pg } = harnessEnv();
    const dump = await runDump({
      target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, sslMode: 'disable' },
      bucket: source,
      source: 'cli-gone',
      tiers: ['daily'],
      s3,
    });
    await s3.send(new DeleteObjectCommand({ Bucket: source, Key: dump.manifest.s3.key, VersionId: dump.manifest.s3.versionId ?? undefined }));
    const gone = await run(['verify', '--bucket', source, '--manifest-key', dump.manifestKey, '--quiet']);
    expect(gone.code).toBe(1);
    expect(gone.out).toMatch(/^FAILED: .*missing-object/);
    const missing = await run(['verify', '--bucket', source, '--manifest-key', `postgres/cli-gone/${db.name}/2001/01/01/20010101T000000.000Z.manifest.json`, '--quiet']);
    expect(missing.code).toBe(3);
  });
});

describe('restore', () => {
  it('restores one schema, with the password from a password file and none on the command line, counting only its tables', async () => {
    const { pg } = harnessEnv();
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-pgpass-'));
    const passfile = path.join(dir, 'pgpass');
    writeFileSync(passfile, `${pg.host}:${pg.port}:*:${pg.user}:${pg.password.replace(/\\/g, '\\\\').replace(/:/g, '\\:')}\n`);
    chmodSync(passfile, 0o600);
    const database = `cli_partial_${Date.now()}`;
    created.push(database);
    const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGDATABASE: database, PGSSLMODE: 'disable', PGPASSFILE: passfile };

    const result = await run(['restore', '--bucket', bucket, '--manifest-key', newer.manifestKey, '--create-database', '--schema', 'MixedCase', '--json'], env);

    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).not.toContain(pg.password);
    expect(JSON.parse(result.out)).toMatchObject({ database, tablesRestored: ['MixedCase.Order Items'], rowCheck: { passed: true, tables: 1 } });
    const tables = await withPgClient(database, async (client) =>
      (await client.query<{ t: string }>(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)).rows.map((r) => r.t),
    );
    expect(tables).toEqual(['MixedCase.Order Items']);
  });

  it('fails (exit 1) for a schema whose foreign key points outside the selection, and drops the database it created', async () => {
    const { pg } = harnessEnv();
    const database = `cli_fk_${Date.now()}`;
    const url = `postgres://${encodeURIComponent(pg.user)}@${pg.host}:${pg.port}/${database}?sslmode=disable`;
    const result = await run(['restore', '--bucket', bucket, '--manifest-key', newer.manifestKey, '--database-url', url, '--create-database', '--schema', 'sales'], {
      PGPASSWORD: pg.password,
    });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^error: pg_restore exited with code 1: .*relation "public\.customers" does not exist/);
    const exists = await withPgClient('postgres', async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount);
    expect(exists).toBe(0);
  });

  it('restores one mixed-case table into an existing database that holds other tables; the check ignores those', async () => {
    const { pg } = harnessEnv();
    const database = `cli_table_${Date.now()}`;
    created.push(database);
    await withPgClient('postgres', (client) => client.query(`CREATE DATABASE ${database}`));
    await withPgClient(database, (client) => client.query('CREATE TABLE unrelated (id int); INSERT INTO unrelated VALUES (1)'));
    const url = `postgres://${encodeURIComponent(pg.user)}@${pg.host}:${pg.port}/${database}?sslmode=disable`;

    const result = await run(['restore', '--bucket', bucket, '--manifest-key', newer.manifestKey, '--database-url', url, '--table', '"MixedCase"."Order Items"'], {
      PGPASSWORD: pg.password,
    });

    expect(result.code).toBe(0);
    expect(result.out).toContain('tables restored: MixedCase.Order Items');
    expect(result.out).toContain('row counts: all 1 tables match the manifest');
    const rows = await withPgClient(database, async (client) => (await client.query('SELECT count(*)::int AS n FROM "MixedCase"."Order Items"')).rows[0].n);
    expect(rows).toBe(300);
  });

  it('refuses a table the backup does not have, with exit 2 and nothing created', async () => {
    const { pg } = harnessEnv();
    const database = `cli_none_${Date.now()}`;
    const url = `postgres://${encodeURIComponent(pg.user)}@${pg.host}:${pg.port}/${database}?sslmode=disable`;
    const result = await run(['restore', '--bucket', bucket, '--manifest-key', newer.manifestKey, '--database-url', url, '--create-database', '--table', 'sales.Orders'], {
      PGPASSWORD: pg.password,
    });
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^error: table sales\.Orders is not in the backup \(names are case-sensitive\)/);
    const exists = await withPgClient('postgres', async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount);
    expect(exists).toBe(0);
  });
});

describe('against a stack', () => {
  it('status: the newest backup age against the RPO, the last recovery test, alarms in ALARM', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'reports/recovery-test/2026/01/02/20260102T030000.000Z-weekly.json',
        Body: JSON.stringify({ workflow: 'recovery-test', status: 'SUCCEEDED', finishedAt: '2026-01-02T03:20:00.000Z', timings: { rtoSeconds: 840 }, dataAgeSeconds: 3600, rpoSeconds: 93_600 }),
      }),
    );
    const healthy = await run(['status', '--stack', stackName, '--json']);
    expect(healthy.code).toBe(0);
    const status = JSON.parse(healthy.out) as Record<string, unknown>;
    expect(status).toMatchObject({
      bucket,
      rpoSeconds: 93_600,
      databases: [{ source: 'cli-ops', database: db.name, manifestKey: newer.manifestKey, withinRpo: true, replication: 'none' }],
      lastRecoveryTest: { status: 'SUCCEEDED', rtoSeconds: 840 },
      alarmsInAlarm: [],
      attention: [],
    });
    expect(status.snapshotQuota).toMatchObject({ region: 'us-east-1' });

    // An alarm named as CloudFormation names one of the stack's, in ALARM; and an RPO the backup misses.
    const alarm = `${stackName}-BackupAgeAlarm-1A2B3C`;
    await cloudWatch.send(
      new PutMetricAlarmCommand({ AlarmName: alarm, MetricName: 'DataAge', Namespace: 'CdkBackupDr', Statistic: 'Maximum', Period: 300, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' }),
    );
    await cloudWatch.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'test' }));
    const unhealthy = await run(['status', '--stack', stackName, '--rpo', '1s']);
    expect(unhealthy.code).toBe(1);
    expect(unhealthy.out).toMatch(/^ATTENTION: stack /);
    expect(unhealthy.out).toContain(`! alarm in ALARM: ${alarm}`);
    expect(unhealthy.out).toMatch(/! cli-ops\/\S+: newest backup is .* old, over the RPO/);
    expect(unhealthy.out).toContain('last recovery test: SUCCEEDED at 2026-01-02T03:20:00.000Z, RTO 14 min, data age 60 min');
  });

  it('drill: starts the recovery test, follows the execution until it ends (stopped here: moto runs no machine), exit 1', async () => {
    const io = capture();
    const drill = main(['drill', '--stack', stackName, '--poll', '1', '--json'], io);
    let executionArn: string | undefined;
    for (let i = 0; i < 50 && !executionArn; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      executionArn = /^started (\S+)$/m.exec(io.err())?.[1];
    }
    expect(executionArn).toMatch(/:execution:.*:cli-drill-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const machineArn = executionArn!.replace(':execution:', ':stateMachine:').replace(/:cli-drill-[^:]+$/, '');
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }));
    expect(running.executions?.map((e) => e.status)).toEqual(['RUNNING']);
    await sfn.send(new StopExecutionCommand({ executionArn }));

    expect(await drill).toBe(1);
    const out = JSON.parse(io.out()) as { execution: { status: string; executionArn: string }; reportKey: string; report: unknown };
    expect(out.execution).toMatchObject({ status: 'ABORTED', executionArn });
    expect(out.reportKey).toMatch(/^reports\/recovery-test\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}\.\d{3}Z-cli-drill-/);
    expect(out.report).toBeNull();
  });

  it('failover: refuses a strategy the stack did not configure (exit 2), before starting anything', async () => {
    const result = await run(['failover', '--stack', stackName, '--strategy', 'promote-replica', '--reason', 'rehearsal', '--dry-run']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/strategy "promote-replica" is not configured for this Failover \(configured: "restore-dump"\)/);
  });

  it('exits 3 for a stack that does not exist or lacks the workflow', async () => {
    const missing = await run(['status', '--stack', 'no-such-stack']);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^error: stack no-such-stack does not exist in us-east-1/);
    const noCleanup = await run(['cleanup', '--stack', stackName, '--dry-run']);
    expect(noCleanup.code).toBe(3);
    expect(noCleanup.err).toMatch(/has no cleanup state machine/);
  });
});
