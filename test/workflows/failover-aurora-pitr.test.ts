/**
 * A point-in-time Failover of an Aurora cluster, run by the local runner with the real handlers against moto and the
 * harness' PostgreSQL. It lives in the cluster's own region (Aurora restores to a point in time only there): here the
 * harness region is both the Failover's and the cluster's. The restored cluster in moto is mapped to a copy of the
 * seeded source database on the harness server (./failover-support), as for the other strategies.
 */
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateDBClusterCommand, DeleteDBClusterCommand, DescribeDBClustersCommand, DeleteDBInstanceCommand, ModifyDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { failoverNames } from '../../lambda/failover/request';
import { describeDbCluster, describeDbInstance } from '../../lambda/rds/instances';
import type { FailoverReport } from '../../lambda/reporting/failover-report';
import { Failover } from '../../lib/failover/failover';
import { FailoverSource, FailoverStrategy } from '../../lib/failover/failover-strategy';
import { FAILOVER_STATES as S } from '../../lib/failover/failover-workflow';
import { BackupBucket } from '../../lib/storage';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createTestBucket, createTopic } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';
import { type LocalLambdaHandler, LocalWorkflow, type LocalWorkflowResult, logicalIdOf } from '../support/workflow-harness';
import { threeTierVpc } from '../support/vpc';
import { type ActiveRun, commonFailoverIds, dropRoles, FailoverEmulation, failoverHandlers, LOCAL_ACCOUNT, secretExists, writtenReport } from './failover-support';
import { tableContents, type TableContent } from './recovery-test-support';

const region = harnessEnv().awsRegion;
const suffix = randomBytes(3).toString('hex');
const CLUSTER_ID = `fopitr-src-${suffix}`;
const MASTER = `fopitr_${suffix}`;

const s3 = new S3Client({});
const secrets = new SecretsManagerClient({});
const rds = new RDSClient({ region });

let source: TestDatabase;
let fingerprint: TableContent[];
let bucket: string;
let clusterCreatedAt: Date;
let stack: ReturnType<typeof pitrFailoverStack>;
let workflow: LocalWorkflow;
const emulations: FailoverEmulation[] = [];
const keptClusters: Array<{ cluster: string; instance: string }> = [];
let current: (ActiveRun & { verified?: TableContent[] }) | undefined;

function active(): ActiveRun & { verified?: TableContent[] } {
  if (!current) throw new Error('no run in progress');
  return current;
}

/** A stack in the cluster's own region with a Failover whose only strategy is point in time. */
function pitrFailoverStack(database: string) {
  const app = new App();
  const stack = new Stack(app, 'FailoverAuroraPitrLocal', { env: { account: LOCAL_ACCOUNT, region } });
  const vpc = threeTierVpc(stack);
  const backups = new BackupBucket(stack, 'Backups');
  const failover = new Failover(stack, 'Failover', {
    source: FailoverSource.cluster(CLUSTER_ID),
    primaryRegion: region,
    database,
    rpo: Duration.hours(24),
    bucket: backups,
    vpc,
    strategies: [FailoverStrategy.pointInTime({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM) })],
    validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM sales.orders' }],
    waitTimeout: Duration.minutes(3),
  });
  if (failover.verifyFunction === undefined) throw new Error('the test Failover has no verify function');
  return {
    failover,
    template: Template.fromStack(stack).toJSON(),
    ids: {
      ...commonFailoverIds(failover, backups),
      verify: logicalIdOf(failover.verifyFunction),
    },
  };
}

beforeAll(async () => {
  source = await createTestDatabase('fopitr_src');
  await seedSource(source.name);
  fingerprint = await withPgClient(source.name, tableContents);
  bucket = await createTestBucket({ prefix: 'failover-pitr' });
  const topicArn = await createTopic();
  const network = await createScratchNetwork(`fopitr-${suffix}`);
  await rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: CLUSTER_ID,
      Engine: 'aurora-postgresql',
      EngineVersion: '15.8',
      MasterUsername: MASTER,
      MasterUserPassword: randomBytes(12).toString('hex'),
      StorageEncrypted: true,
      BackupRetentionPeriod: 7,
    }),
  );
  clusterCreatedAt = new Date();

  stack = pitrFailoverStack(source.name);
  const { ids } = stack;
  const resources = stack.template.Resources as Record<string, unknown>;
  const handlers: Record<string, LocalLambdaHandler> = Object.fromEntries(
    Object.entries(
      failoverHandlers({ preflight: ids.preflight, act: ids.act, restore: '-', dumpVerify: '-', verify: ids.verify, repoint: '-', report: ids.report }, active, () => []),
    ).filter(([id]) => id in resources),
  );
  // What the checks saw: the content of the database standing in for the restored cluster.
  const verify = handlers[ids.verify];
  handlers[ids.verify] = async (event: never, context) => {
    const output = await verify(event, context);
    const run = active();
    const target = run.emulation.map((event as { target: Parameters<FailoverEmulation['map']>[0] }).target);
    run.verified = await run.emulation.withClient(target.database, tableContents);
    return output;
  };
  workflow = new LocalWorkflow({
    template: stack.template,
    stateMachine: ids.machine,
    region,
    handlers,
    resources: {
      [ids.bucket]: bucket,
      [ids.topic]: topicArn,
      [ids.subnetGroup]: network.subnetGroupName,
      [ids.databaseSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
    },
    extraEnv: { POWERTOOLS_LOG_LEVEL: 'ERROR' },
  });
  // The restore window starts when moto created the cluster: the runs pick a target time after it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
}, 300_000);

afterAll(async () => {
  for (const kept of keptClusters) {
    await rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: kept.cluster, DeletionProtection: false, ApplyImmediately: true }));
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: kept.instance, SkipFinalSnapshot: true }));
    await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: kept.cluster, SkipFinalSnapshot: true }));
  }
  await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: CLUSTER_ID, SkipFinalSnapshot: true }));
  for (const emulation of emulations) await emulation.destroy();
  await dropRoles(emulations.flatMap((e) => [...e.roles]));
  await dropTestDatabase(source.name);
  s3.destroy();
  secrets.destroy();
  rds.destroy();
});

interface Run {
  readonly result: LocalWorkflowResult;
  readonly emulation: FailoverEmulation;
  readonly names: ReturnType<typeof failoverNames>;
  readonly verified?: TableContent[];
  readonly report?: FailoverReport;
}

let runs = 0;

async function run(input: { dryRun: boolean; targetTime: string }): Promise<Run> {
  runs += 1;
  const executionName = `failover-pitr-${runs}-${suffix}`;
  const emulation = new FailoverEmulation(source.name);
  emulations.push(emulation);
  const state: ActiveRun & { verified?: TableContent[] } = { emulation, faults: {} };
  current = state;
  let result: LocalWorkflowResult;
  try {
    result = await workflow.run({ strategy: 'point-in-time', reason: 'undo a bad migration', ...input }, { executionName });
  } finally {
    current = undefined;
  }
  const report = await writtenReport(s3, bucket, result);
  return { result, emulation, names: failoverNames({ executionId: result.executionArn, executionName }, 'cluster'), verified: state.verified, report };
}


function fail(message: string): never {
  throw new Error(message);
}

it('rehearses a point-in-time restore of the Aurora cluster: a new cluster and writer at targetTime, checks pass, everything deleted, SUCCEEDED', async () => {
  const targetTime = new Date(Date.now() - 200).toISOString();
  const r = await run({ dryRun: true, targetTime });

  expect({ status: r.result.status, error: r.result.error, cause: r.result.cause }).toEqual({ status: 'SUCCEEDED' });
  expect(r.result.visited).toEqual(expect.arrayContaining([S.create, S.wait, S.setPassword, S.verify, S.cleanup, S.deleteDatabase, S.deleteSecret, S.report]));
  const plan = r.result.calls.find((c) => c.state === S.preflight && c.output !== undefined)?.output as { names?: { resource: string }; pointInTime?: Record<string, unknown> } | undefined;
  expect(plan?.names?.resource).toBe('cluster');
  expect(plan?.pointInTime).toMatchObject({ sourceClusterIdentifier: CLUSTER_ID, engine: 'aurora-postgresql', restoreTime: targetTime, masterUsername: MASTER });
  // The checks ran with the password the act step stored, on the stand-in for the restored cluster's writer endpoint.
  expect(r.verified).toEqual(fingerprint);
  expect(r.emulation.byIdentifier(r.names.clusterIdentifier as string)).toBeDefined();
  // The rehearsal deleted the cluster, its writer and its secret.
  expect(await describeDbCluster(region, r.names.clusterIdentifier as string)).toBeUndefined();
  expect(await describeDbInstance(region, r.names.instanceIdentifier)).toBeUndefined();
  expect(await secretExists(secrets, r.names.secretName)).toBe(false);

  const report = r.report ?? fail('no report was written');
  expect(report).toMatchObject({ workflow: 'failover', status: 'SUCCEEDED', mode: 'rehearsal', failureReasons: [] });
  expect(report.recoveryPoint).toMatchObject({ kind: 'point-in-time', dataAsOf: targetTime, withinRpo: true });
  expect(report.recoveryPoint?.id).toMatch(new RegExp(`:cluster:${CLUSTER_ID}$`));
});

it('fails over for real: the restored cluster is kept with deletion protection, its writer and secret stay', async () => {
  const targetTime = new Date(Date.now() - 200).toISOString();
  const r = await run({ dryRun: false, targetTime });

  expect({ status: r.result.status, error: r.result.error, cause: r.result.cause }).toEqual({ status: 'SUCCEEDED' });
  const cluster = (await describeDbCluster(region, r.names.clusterIdentifier as string)) ?? fail('the restored cluster is gone');
  keptClusters.push({ cluster: cluster.identifier, instance: r.names.instanceIdentifier });
  expect(cluster.tags).toMatchObject({ 'cdk-backup-dr:purpose': 'failover', 'cdk-backup-dr:dry-run': 'false', 'cdk-backup-dr:strategy': 'point-in-time' });
  const described = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: cluster.identifier }));
  expect(described.DBClusters?.[0]?.DeletionProtection).toBe(true);
  expect(await describeDbInstance(region, r.names.instanceIdentifier)).toMatchObject({ status: 'available', clusterIdentifier: cluster.identifier });
  expect(await secretExists(secrets, r.names.secretName)).toBe(true);
  expect(r.result.visited).not.toContain(S.deleteDatabase);
  expect(r.report).toMatchObject({ status: 'SUCCEEDED', mode: 'failover' });
});

it('refuses a targetTime before the cluster\'s restore window in the preflight, creating nothing', async () => {
  const targetTime = new Date(clusterCreatedAt.getTime() - 86_400_000).toISOString();
  const r = await run({ dryRun: true, targetTime });

  expect(r.result.status).toBe('FAILED');
  expect(r.result.cause).toMatch(/targetTime .* is before the earliest restorable time .* of Aurora cluster fopitr-src-\w+; pick a targetTime within the retention window/);
  expect(r.result.visited).not.toContain(S.create);
  expect(await describeDbCluster(region, r.names.clusterIdentifier as string)).toBeUndefined();
  expect(r.report).toMatchObject({ status: 'FAILED' });
});
