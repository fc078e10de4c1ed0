import { MissingConfiguration } from '../../../lambda/common/errors';
import { DEFAULT_GLOBAL_LAG_SQL, DEFAULT_INSTANCE_LAG_SQL, readFailoverConfig } from '../../../lambda/failover/config';

const BASE = {
  SOURCE_ID: 'orders-db',
  SOURCE_KIND: 'instance',
  SOURCE_IDENTIFIER: 'orders-db',
  PRIMARY_REGION: 'us-east-1',
  AWS_REGION: 'us-west-2',
  RPO_SECONDS: '86400',
  STRATEGIES: 'restore-snapshot,restore-dump',
  DATABASE: 'orders',
  BUCKET_NAME: 'replica-bucket',
  DB_SUBNET_GROUP: 'failover-subnets',
};

describe('readFailoverConfig', () => {
  it('reads what the construct sets', () => {
    expect(readFailoverConfig(BASE)).toEqual({
      sourceId: 'orders-db',
      sourceKind: 'instance',
      sourceIdentifier: 'orders-db',
      primaryRegion: 'us-east-1',
      drRegion: 'us-west-2',
      rpoSeconds: 86400,
      strategies: ['restore-snapshot', 'restore-dump'],
      database: 'orders',
      bucketName: 'replica-bucket',
      subnetGroupName: 'failover-subnets',
    });
  });

  it('reads the replica, with the default lag SQL of its kind or the configured one', () => {
    const replica = { ...BASE, STRATEGIES: 'promote-replica', REPLICA_IDENTIFIER: 'orders-dr', REPLICA_KIND: 'instance', REPLICA_SECRET_ARN: 'arn:s' };
    expect(readFailoverConfig(replica).replica).toEqual({ kind: 'instance', identifier: 'orders-dr', secretArn: 'arn:s', lagSql: DEFAULT_INSTANCE_LAG_SQL });
    expect(readFailoverConfig({ ...replica, REPLICA_LAG_SQL: 'SELECT 1' }).replica?.lagSql).toBe('SELECT 1');
    expect(readFailoverConfig({ ...replica, REPLICA_KIND: 'global-cluster', GLOBAL_CLUSTER_IDENTIFIER: 'g' }).replica).toEqual({
      kind: 'global-cluster',
      identifier: 'orders-dr',
      globalClusterIdentifier: 'g',
      secretArn: 'arn:s',
      lagSql: DEFAULT_GLOBAL_LAG_SQL,
    });
  });

  it.each([
    ['SOURCE_ID missing', { SOURCE_ID: undefined }, /environment variable SOURCE_ID is not set/],
    ['bad SOURCE_KIND', { SOURCE_KIND: 'mysql' }, /SOURCE_KIND must be instance, cluster or endpoint/],
    ['no identifier for an RDS source', { SOURCE_IDENTIFIER: undefined }, /SOURCE_IDENTIFIER must be the primary's RDS identifier/],
    ['bad RPO', { RPO_SECONDS: '1.5' }, /RPO_SECONDS must be a positive whole number/],
    ['bad strategies', { STRATEGIES: 'yolo' }, /STRATEGIES must list/],
    ['promote without replica', { STRATEGIES: 'promote-replica' }, /STRATEGIES includes promote-replica but REPLICA_IDENTIFIER is not set/],
    ['dump without bucket', { BUCKET_NAME: undefined }, /restore-dump but BUCKET_NAME is not set/],
    ['restore without subnet group', { DB_SUBNET_GROUP: '' }, /a restore strategy is configured but DB_SUBNET_GROUP is not set/],
    ['bad database', { DATABASE: 'a/b' }, /DATABASE is not a valid database name/],
    ['point in time of an Aurora cluster in another region', { SOURCE_KIND: 'cluster', STRATEGIES: 'point-in-time' }, /runs in us-west-2 and the cluster is in us-east-1: .*deploy that Failover in the cluster's region/],
    ['point in time of an endpoint', { SOURCE_KIND: 'endpoint', SOURCE_IDENTIFIER: undefined, STRATEGIES: 'point-in-time' }, /SOURCE_KIND is endpoint: an endpoint has no automated backups/],
  ])('refuses %s as a deployment error', (_name, change, message) => {
    const env = { ...BASE, ...change } as Record<string, string | undefined>;
    expect(() => readFailoverConfig(env)).toThrow(MissingConfiguration);
    expect(() => readFailoverConfig(env)).toThrow(message);
  });

  it('accepts point in time of an Aurora cluster when the function runs in the cluster\'s region', () => {
    const config = readFailoverConfig({ ...BASE, SOURCE_KIND: 'cluster', STRATEGIES: 'point-in-time', AWS_REGION: 'us-east-1', BUCKET_NAME: undefined });
    expect(config).toMatchObject({ sourceKind: 'cluster', strategies: ['point-in-time'], primaryRegion: 'us-east-1', drRegion: 'us-east-1' });
  });

  it('accepts an endpoint source without an RDS identifier', () => {
    expect(readFailoverConfig({ ...BASE, SOURCE_KIND: 'endpoint', SOURCE_IDENTIFIER: undefined, STRATEGIES: 'restore-dump' }).sourceIdentifier).toBeUndefined();
  });
});
