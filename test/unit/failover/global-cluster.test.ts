/**
 * The Aurora global database path of promote-replica. moto 5.2.1 does not implement FailoverGlobalCluster (and its
 * RemoveFromGlobalCluster leaves the cluster's GlobalClusterIdentifier behind), so this is the one place a stubbed RDS
 * client answers: a small in-memory global database that moves as RDS documents it. Instance promotion is tested
 * against moto (workflow and integration tests).
 */
import {
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  RemoveFromGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import { NotReady } from '../../../lambda/common/errors';
import { ReplicaNotFound } from '../../../lambda/common/errors';
import { moveGlobalCluster } from '../../../lambda/failover/rds';
import { rdsClient } from '../../../lambda/rds/client';

const REGION = 'eu-central-1';
const PRIMARY = 'arn:aws:rds:eu-west-1:111111111111:cluster:orders';
const SECONDARY = `arn:aws:rds:${REGION}:111111111111:cluster:orders-dr`;

/** An Aurora global database as the stub answers it, and the calls it received. */
class GlobalDatabase {
  members = [
    { DBClusterArn: PRIMARY, IsWriter: true },
    { DBClusterArn: SECONDARY, IsWriter: false },
  ];
  status = 'available';
  readonly calls: Array<{ name: string; input: Record<string, unknown> }> = [];

  global(): GlobalCluster {
    return { GlobalClusterIdentifier: 'orders-global', Status: 'available', GlobalClusterMembers: this.members };
  }

  async send(command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> {
    this.calls.push({ name: command.constructor.name, input: command.input });
    if (command instanceof DescribeDBClustersCommand) {
      if (command.input.DBClusterIdentifier !== 'orders-dr') throw Object.assign(new Error('not found'), { name: 'DBClusterNotFoundFault' });
      return { DBClusters: [{ DBClusterIdentifier: 'orders-dr', DBClusterArn: SECONDARY, Status: this.status, Endpoint: 'w', ReaderEndpoint: 'r', Port: 5432 }] };
    }
    if (command instanceof DescribeGlobalClustersCommand) return { GlobalClusters: [this.global()] };
    if (command instanceof FailoverGlobalClusterCommand) {
      this.members = this.members.map((m) => ({ ...m, IsWriter: m.DBClusterArn === command.input.TargetDbClusterIdentifier }));
      return { GlobalCluster: this.global() };
    }
    if (command instanceof RemoveFromGlobalClusterCommand) {
      this.members = this.members.filter((m) => m.DBClusterArn !== command.input.DbClusterIdentifier);
      return { GlobalCluster: this.global() };
    }
    throw new Error(`unexpected ${command.constructor.name}`);
  }
}

let db: GlobalDatabase;
beforeEach(() => {
  db = new GlobalDatabase();
  jest.spyOn(rdsClient(REGION), 'send').mockImplementation(((command: never) => db.send(command)) as never);
});
afterEach(() => jest.restoreAllMocks());

describe('moveGlobalCluster', () => {
  it('switches over without data loss by default (FailoverGlobalCluster, Switchover) to the secondary ARN', async () => {
    expect(await moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'switchover')).toEqual({ action: 'switchover', outcome: 'started', clusterIdentifier: 'orders-dr' });
    const call = db.calls.find((c) => c.name === 'FailoverGlobalClusterCommand');
    expect(call?.input).toEqual({ GlobalClusterIdentifier: 'orders-global', TargetDbClusterIdentifier: SECONDARY, Switchover: true });
  });

  it('fails over allowing data loss when asked (the primary region is lost)', async () => {
    await moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'failover');
    expect(db.calls.find((c) => c.name === 'FailoverGlobalClusterCommand')?.input).toEqual({ GlobalClusterIdentifier: 'orders-global', TargetDbClusterIdentifier: SECONDARY, AllowDataLoss: true });
  });

  it('is idempotent: a secondary that already is the writer is not failed over again', async () => {
    await moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'failover');
    expect(await moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'failover')).toMatchObject({ outcome: 'already-done' });
    expect(db.calls.filter((c) => c.name === 'FailoverGlobalClusterCommand')).toHaveLength(1);
  });

  it('detaches the secondary (RemoveFromGlobalCluster), once', async () => {
    expect(await moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'detach')).toMatchObject({ action: 'detach', outcome: 'started' });
    expect(db.calls.find((c) => c.name === 'RemoveFromGlobalClusterCommand')?.input).toEqual({ GlobalClusterIdentifier: 'orders-global', DbClusterIdentifier: SECONDARY });
    expect(await moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'detach')).toMatchObject({ outcome: 'already-done' });
  });

  it('refuses a cluster that does not exist, or is no member to fail over to', async () => {
    await expect(moveGlobalCluster(REGION, 'orders-global', 'other', 'failover')).rejects.toThrow(ReplicaNotFound);
    db.members = [{ DBClusterArn: PRIMARY, IsWriter: true }];
    await expect(moveGlobalCluster(REGION, 'orders-global', 'orders-dr', 'failover')).rejects.toThrow(/is not a member of global cluster orders-global; nothing to fail over to/);
  });
});

describe('the act handler waits for the global move with NotReady', () => {
  const env = {
    SOURCE_ID: 'orders',
    SOURCE_KIND: 'cluster',
    SOURCE_IDENTIFIER: 'orders',
    PRIMARY_REGION: 'eu-west-1',
    AWS_REGION: REGION,
    RPO_SECONDS: '3600',
    STRATEGIES: 'promote-replica',
    DATABASE: 'orders',
    REPLICA_KIND: 'global-cluster',
    REPLICA_IDENTIFIER: 'orders-dr',
    GLOBAL_CLUSTER_IDENTIFIER: 'orders-global',
    REPLICA_SECRET_ARN: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-dr',
    GLOBAL_CLUSTER_ACTION: 'failover',
    BACKUP_RETENTION_DAYS: '7',
  };
  const saved = { ...process.env };
  beforeEach(() => Object.assign(process.env, env));
  afterEach(() => {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  const scope = { executionId: 'arn:aws:states:eu-central-1:111111111111:execution:Failover:outage', executionName: 'outage' };

  it('promote picks switchover without acceptDataLoss and failover with it; wait returns the writer endpoint once done', async () => {
    const { handler } = await import('../../../lambda/failover/failover-act.handler');
    const wait = { action: 'wait', subject: 'replica', secretArn: env.REPLICA_SECRET_ARN, ...scope };
    await expect(handler({ ...wait, globalAction: 'switchover' })).rejects.toThrow(NotReady);
    expect(await handler({ action: 'promote', acceptDataLoss: false })).toMatchObject({ kind: 'global-cluster', globalAction: 'switchover', outcome: 'started' });
    expect(await handler({ ...wait, globalAction: 'switchover' })).toMatchObject({ identifier: 'orders-dr', kind: 'cluster', endpoint: { host: 'w', port: 5432 } });

    db = new GlobalDatabase();
    expect(await handler({ action: 'promote', acceptDataLoss: true })).toMatchObject({ globalAction: 'failover' });
    db.status = 'modifying';
    await expect(handler({ ...wait, globalAction: 'failover' })).rejects.toThrow(/is "modifying", writer; waiting for the failover to finish/);
  });
});
