/**
 * The preflight and act handlers on their own, against moto and the harness' PostgreSQL: the RPO rule on a stale
 * dump, a DR region answering with an error, replica lag that cannot be measured, a retried create, a promotion of an
 * instance that is no longer a replica, and a cleanup that refuses to delete a real failover's database.
 */
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateDBInstanceCommand, CreateDBParameterGroupCommand, CreateOptionGroupCommand, DeleteDBInstanceCommand, ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { FailoverResourceNotOwned } from '../../../lambda/common/errors';
import { handler as act } from '../../../lambda/failover/failover-act.handler';
import { DrRegionUnavailable, NoRecoveryPoint, RecoveryPointTooOld, handler as preflight } from '../../../lambda/failover/failover-preflight.handler';
import { runDump } from '../../../lambda/backup/dump-core';
import { InvalidInput } from '../../../lambda/common/errors';
import { failoverNames } from '../../../lambda/failover/request';
import type { FailoverPlan } from '../../../lambda/failover/plan';
import { describeDbInstance, findDbInstance } from '../../../lambda/rds/instances';
import { seedSource } from '../dump/support';
import { createScratchNetwork } from '../recovery/network';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, type TestDatabase } from '../../support/postgres';

const { awsRegion: region, pg } = harnessEnv();
const suffix = randomBytes(3).toString('hex');
const SOURCE = `fo-handlers-${suffix}`;
const s3 = new S3Client({});
const rds = new RDSClient({ region });
const secrets = new SecretsManagerClient({});
const DAY = 86_400_000;

let db: TestDatabase;
let bucket: string;
let testSecretArn: string;
const env: Record<string, string> = {};
const created: string[] = [];

function scope(name: string) {
  return { executionId: `arn:aws:states:${region}:123456789012:execution:Failover:${name}`, executionName: name };
}

/** The test server as a handler target, with credentials in a moto secret. */
function localTarget() {
  return { secretArn: testSecretArn, host: pg.host, port: pg.port, database: db.name, sslMode: 'disable' as const };
}

beforeAll(async () => {
  db = await createTestDatabase('fo_handlers');
  await seedSource(db.name);
  bucket = await createTestBucket({ prefix: 'fo-handlers' });
  const key = await createKmsKey('failover handlers');
  // Only a stale dump: three days old, with an RPO of one day.
  await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, sslMode: 'disable' },
    bucket,
    kmsKeyId: key.arn,
    source: SOURCE,
    tiers: ['daily'],
    s3,
    now: () => new Date(Date.now() - 3 * DAY),
  });
  const network = await createScratchNetwork(`fo-handlers-${suffix}`);
  testSecretArn =
    (await secrets.send(new CreateSecretCommand({ Name: `fo-handlers-${suffix}`, SecretString: JSON.stringify({ username: pg.user, password: pg.password }) }))).ARN ?? '';
  Object.assign(env, {
    SOURCE_ID: SOURCE,
    SOURCE_KIND: 'instance',
    SOURCE_IDENTIFIER: `fo-src-${suffix}`,
    PRIMARY_REGION: 'us-west-2',
    RPO_SECONDS: String(DAY / 1000),
    STRATEGIES: 'restore-dump,promote-replica',
    DATABASE: db.name,
    BUCKET_NAME: bucket,
    DB_SUBNET_GROUP: network.subnetGroupName,
    DB_SECURITY_GROUP_IDS: network.securityGroupId,
    NEW_DATABASE_SETTINGS: JSON.stringify({
      'restore-dump': { instanceClass: 'db.t4g.micro', multiAz: true, parameterGroupName: `fo-params-${suffix}`, optionGroupName: `fo-options-${suffix}` },
    }),
    ENGINE_VERSION: '15.8',
    MASTER_USERNAME: 'fo_admin',
    REPLICA_KIND: 'instance',
    REPLICA_IDENTIFIER: `fo-notreplica-${suffix}`,
    REPLICA_SECRET_ARN: testSecretArn,
  });
  Object.assign(process.env, env);
  await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: `fo-params-${suffix}`, DBParameterGroupFamily: 'postgres15', Description: 'failover test' }));
  // moto knows option groups of postgres 10-13 only and does not check them against the instance's version.
  await rds.send(new CreateOptionGroupCommand({ OptionGroupName: `fo-options-${suffix}`, EngineName: 'postgres', MajorEngineVersion: '13', OptionGroupDescription: 'failover test' }));
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: env.REPLICA_IDENTIFIER,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: randomBytes(12).toString('hex'),
    }),
  );
}, 120_000);

afterAll(async () => {
  for (const name of Object.keys(env)) delete process.env[name];
  for (const id of [...created, env.REPLICA_IDENTIFIER]) {
    if (!(await describeDbInstance(region, id))) continue;
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, DeletionProtection: false, ApplyImmediately: true }));
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
  }
  await dropTestDatabase(db.name);
  for (const client of [s3, rds, secrets]) client.destroy();
});

const request = (extra: Record<string, unknown> = {}) => ({ strategy: 'restore-dump', dryRun: true, acceptDataLoss: false, reason: 'test', ...extra });

describe('preflight handler', () => {
  it('validates the input against the configured strategies', async () => {
    await expect(preflight({ action: 'validate', input: { strategy: 'point-in-time', dryRun: true, reason: 'x', targetTime: '2024-01-01T00:00:00Z' } })).rejects.toThrow(
      /strategy "point-in-time" is not configured for this Failover \(configured: "restore-dump", "promote-replica"\)/,
    );
    expect(await preflight({ action: 'validate', input: { strategy: 'restore-dump', dryRun: false, reason: 'x' } })).toEqual({
      strategy: 'restore-dump',
      dryRun: false,
      acceptDataLoss: false,
      reason: 'x',
    });
  });

  it('refuses a dump older than the RPO unless acceptDataLoss, before anything is created', async () => {
    const error = await preflight({ action: 'preflight', ...scope('stale'), request: request() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecoveryPointTooOld);
    expect((error as Error).message).toMatch(/the freshest recovery point \(dump postgres\/fo-handlers-[0-9a-f]+\/.*\.manifest\.json, data as of .*\) is 3 d( \d+ s)? old, more than the RPO of 1 d; pass acceptDataLoss: true/);

    const plan = (await preflight({ action: 'preflight', ...scope('stale-accepted'), request: request({ acceptDataLoss: true }) })) as FailoverPlan;
    expect(plan.recoveryPoint).toMatchObject({ kind: 'dump', withinRpo: false, rpoSeconds: 86400 });
    expect(plan.recoveryPoint.ageSeconds).toBeGreaterThanOrEqual(3 * 86400);
    expect(plan).toMatchObject({ resource: 'instance', names: failoverNames(scope('stale-accepted'), 'instance'), drRegion: region, primaryRegion: 'us-west-2' });
    expect(plan.drRegionCheck.call).toBe(`DescribeDBSubnetGroups(${env.DB_SUBNET_GROUP})`);
    expect(plan.steps[0]).toMatch(/^create instance cdkbdr-fo-stale-accepted-[0-9a-f]{8} and secret cdk-backup-dr\/failover\/.*, then pg_restore postgres\//);
  });

  it('reports a missing recovery point and a DR region that answers with an error, naming what to change', async () => {
    process.env.DATABASE = 'nothing_here';
    try {
      await expect(preflight({ action: 'preflight', ...scope('nothing'), request: request() })).rejects.toThrow(NoRecoveryPoint);
      await expect(preflight({ action: 'preflight', ...scope('nothing'), request: request() })).rejects.toThrow(/no restorable dump of fo-handlers-.*\/nothing_here .*check that the backups replicate/);
    } finally {
      process.env.DATABASE = env.DATABASE;
    }
    process.env.DB_SUBNET_GROUP = `missing-${suffix}`;
    try {
      await expect(preflight({ action: 'preflight', ...scope('region'), request: request() })).rejects.toThrow(DrRegionUnavailable);
      await expect(preflight({ action: 'preflight', ...scope('region'), request: request() })).rejects.toThrow(/the DR region us-east-1 did not answer the preflight's describe call: DBSubnetGroupNotFound/);
    } finally {
      process.env.DB_SUBNET_GROUP = env.DB_SUBNET_GROUP;
    }
  });

  it('cannot measure the lag of a server that is not replaying (the default query) and refuses unless acceptDataLoss', async () => {
    const event = { action: 'replica-lag', target: localTarget(), acceptDataLoss: false, replicaIdentifier: 'orders-dr' };
    await expect(preflight(event)).rejects.toThrow(RecoveryPointTooOld);
    await expect(preflight(event)).rejects.toThrow(/the data age of replica orders-dr cannot be measured \(the replica is not in recovery \(already promoted, or not a replica\)/);
    expect(await preflight({ ...event, acceptDataLoss: true })).toMatchObject({ lagSeconds: null, inRecovery: false, recoveryPoint: { kind: 'replica', id: 'orders-dr' } });
  });

  it('measures the lag with a configured query (e.g. a heartbeat), read-only', async () => {
    process.env.REPLICA_LAG_SQL = "SELECT '12.5'";
    try {
      const result = await preflight({ action: 'replica-lag', target: localTarget(), acceptDataLoss: false, replicaIdentifier: 'orders-dr' });
      expect(result).toMatchObject({ lagSeconds: 12.5, inRecovery: false, recoveryPoint: { ageSeconds: 12, withinRpo: true } });
      process.env.REPLICA_LAG_SQL = 'CREATE TABLE public.lag_probe (x int)';
      await expect(preflight({ action: 'replica-lag', target: localTarget(), acceptDataLoss: true, replicaIdentifier: 'orders-dr' })).rejects.toThrow(
        /measuring the lag of orders-dr failed: cannot execute CREATE TABLE in a read-only transaction/,
      );
    } finally {
      delete process.env.REPLICA_LAG_SQL;
    }
  });
});

describe('act handler', () => {
  it('creates a dump target once: a retried create returns what the first attempt made', async () => {
    const plan = (await preflight({ action: 'preflight', ...scope('retry'), request: request({ acceptDataLoss: true }) })) as FailoverPlan;
    const first = await act({ action: 'create', ...scope('retry'), plan });
    const again = await act({ action: 'create', ...scope('retry'), plan });
    const names = failoverNames(scope('retry'), 'instance');
    created.push(names.identifier);
    expect(first).toMatchObject({ identifier: names.identifier, secretName: names.secretName, masterUsername: 'fo_admin', created: true });
    expect(again).toMatchObject({ identifier: names.identifier, created: false });
    expect((await describeDbInstance(region, names.identifier))?.tags).toMatchObject({ 'cdk-backup-dr:dry-run': 'true', 'cdk-backup-dr:purpose': 'failover', 'cdk-backup-dr:strategy': 'restore-dump' });
    // Another execution's plan cannot create under this execution's names.
    await expect(act({ action: 'create', ...scope('other'), plan })).rejects.toThrow(InvalidInput);
  });

  it('never deletes a real failover\'s database, even with this execution\'s name', async () => {
    const plan = (await preflight({ action: 'preflight', ...scope('real'), request: request({ dryRun: false, acceptDataLoss: true }) })) as FailoverPlan;
    await act({ action: 'create', ...scope('real'), plan });
    const names = failoverNames(scope('real'), 'instance');
    created.push(names.identifier);
    const error = await act({ action: 'delete-database', ...scope('real'), resource: 'instance' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailoverResourceNotOwned);
    expect((error as Error).message).toMatch(/is not tagged as this execution's dry-run database .*; it was left alone/);
    await expect(act({ action: 'delete-secret', ...scope('real'), resource: 'instance' })).rejects.toThrow(FailoverResourceNotOwned);
    expect(await describeDbInstance(region, names.identifier)).toMatchObject({ identifier: names.identifier });
  });

  it('creates a real failover\'s database as a production primary: Multi-AZ, minor upgrades, the configured groups', async () => {
    const names = failoverNames(scope('real'), 'instance');
    const real = await findDbInstance(region, names.identifier);
    expect(real).toMatchObject({ MultiAZ: true, AutoMinorVersionUpgrade: true, DeletionProtection: true });
    expect(real?.DBParameterGroups?.map((g) => g.DBParameterGroupName)).toEqual([`fo-params-${suffix}`]);
    expect(real?.OptionGroupMemberships?.map((g) => g.OptionGroupName)).toEqual([`fo-options-${suffix}`]);
    // A rehearsal's stays single-AZ (it is deleted at the end) but otherwise gets the same settings.
    const rehearsal = await findDbInstance(region, failoverNames(scope('retry'), 'instance').identifier);
    expect(rehearsal).toMatchObject({ MultiAZ: false, AutoMinorVersionUpgrade: true });
  });

  it('deletes a rehearsal\'s database and secret, and finds them gone on a retry', async () => {
    const plan = (await preflight({ action: 'preflight', ...scope('rehearsal'), request: request({ acceptDataLoss: true }) })) as FailoverPlan;
    await act({ action: 'create', ...scope('rehearsal'), plan });
    for (let i = 0; i < 2; i++) {
      expect(await act({ action: 'delete-database', ...scope('rehearsal'), resource: 'instance' })).toMatchObject({ what: 'database', status: 'gone' });
      expect(await act({ action: 'delete-secret', ...scope('rehearsal'), resource: 'instance' })).toMatchObject({ what: 'secret', status: 'gone' });
    }
    expect(await describeDbInstance(region, plan.names?.identifier ?? '')).toBeUndefined();
  });

  it('reports an instance that is no longer a replica as already promoted (a retried promotion)', async () => {
    expect(await act({ action: 'promote', acceptDataLoss: false })).toMatchObject({ identifier: env.REPLICA_IDENTIFIER, kind: 'instance', outcome: 'already-promoted' });
    process.env.REPLICA_IDENTIFIER = `fo-missing-${suffix}`;
    try {
      await expect(act({ action: 'promote', acceptDataLoss: false })).rejects.toThrow(/read replica fo-missing-.* does not exist in us-east-1/);
    } finally {
      process.env.REPLICA_IDENTIFIER = env.REPLICA_IDENTIFIER;
    }
  });

  it('confirms a database accepts writes (not in recovery)', async () => {
    expect(await act({ action: 'confirm-writable', target: localTarget() })).toMatchObject({ writable: true });
  });

  it('refuses malformed events before any AWS call', async () => {
    await expect(act({ action: 'drop-everything' })).rejects.toThrow(/action must be one of 'create', 'wait'/);
    await expect(act({ action: 'delete-database', ...scope('x'), resource: 'table' })).rejects.toThrow(/resource must be one of 'instance', 'cluster'/);
    await expect(act({ action: 'create', ...scope('x'), plan: { strategy: 'promote-replica', dryRun: true } })).rejects.toThrow(/plan.strategy must be one of 'restore-snapshot'/);
  });
});
