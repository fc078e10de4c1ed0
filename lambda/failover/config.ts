/**
 * The configuration the Failover construct gives its handlers through environment variables, read and checked in
 * one place. Pure apart from reading the environment object it is given. A missing or malformed variable is a
 * deployment error (MissingConfiguration), never an input error.
 */
import { MissingConfiguration } from '../common/errors';
import { FailoverStrategyName, parseConfiguredStrategies } from './request';
import { isDatabaseName, isRdsIdentifier, isSourceName } from '../common/names';

/** What is backed up, as the failover sees it. */
export type FailoverSourceKind = 'instance' | 'cluster' | 'endpoint';

/** The replica a `promote-replica` failover promotes. */
export interface ReplicaConfig {
  readonly kind: 'instance' | 'global-cluster';
  /** The read replica instance, or the Aurora secondary cluster, in the DR region. */
  readonly identifier: string;
  /** The Aurora global cluster (kind `global-cluster`). */
  readonly globalClusterIdentifier?: string;
  /** Secret with credentials that work on the replica (it has its source's users). */
  readonly secretArn: string;
  /** SQL returning one row whose first column is the replica's lag in seconds (NULL when unknown). */
  readonly lagSql: string;
}

/** The handlers' view of the Failover construct's props. */
export interface FailoverConfig {
  /** The source name of keys and metrics (`SOURCE_ID`). */
  readonly sourceId: string;
  readonly sourceKind: FailoverSourceKind;
  /** The primary RDS instance or cluster identifier (not for an endpoint source). */
  readonly sourceIdentifier?: string;
  readonly primaryRegion: string;
  /**
   * The region the failover runs in and restores into (`AWS_REGION` of the functions). Equals `primaryRegion` only for
   * a point-in-time Failover of an Aurora cluster (Aurora restores to a point in time only in the cluster's region).
   */
  readonly drRegion: string;
  readonly rpoSeconds: number;
  readonly strategies: readonly FailoverStrategyName[];
  /** The database the checks run in, and whose dumps a `restore-dump` restores. */
  readonly database: string;
  /** Where dumps are read and reports written (in the DR region). */
  readonly bucketName?: string;
  /** DB subnet group of restored databases (restore strategies). */
  readonly subnetGroupName?: string;
  readonly replica?: ReplicaConfig;
}

/**
 * Lag of an RDS for PostgreSQL read replica: the age of the last transaction it replayed. An upper bound of the data
 * a promotion loses: on a primary without writes it grows although nothing is missing (use a heartbeat table and
 * `lagQuery` for an exact figure).
 */
export const DEFAULT_INSTANCE_LAG_SQL =
  'SELECT CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds';

/** Lag of an Aurora global secondary, as the instance it runs on sees it. */
export const DEFAULT_GLOBAL_LAG_SQL =
  'SELECT visibility_lag_in_msec / 1000.0 AS lag_seconds FROM aurora_global_db_instance_status() WHERE server_id = aurora_db_instance_identifier()';

/**
 * How the database of one restore strategy is created (`NEW_DATABASE_SETTINGS`, keyed by strategy name): written by
 * the Failover construct from the strategy's options.
 */
export interface NewDatabaseSettings {
  /** e.g. `db.r6g.large`. */
  readonly instanceClass: string;
  /** Multi-AZ for a real failover (a dry run is always single-AZ). */
  readonly multiAz: boolean;
  /** @default - RDS's default group of the engine version */
  readonly parameterGroupName?: string;
  /** @default - RDS's default option group */
  readonly optionGroupName?: string;
  /** The storage key (restore-dump, a restored Aurora cluster). @default - `aws/rds`, or the snapshot's key */
  readonly kmsKeyId?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new MissingConfiguration(`environment variable ${name} is not set; the Failover construct that deploys this function must set it`);
  }
  return value;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Reads the configuration.
 *
 * @throws MissingConfiguration naming the variable and what it must hold
 */
export function readFailoverConfig(env: Env): FailoverConfig {
  const sourceId = required(env, 'SOURCE_ID');
  if (!isSourceName(sourceId)) throw new MissingConfiguration(`SOURCE_ID is not a valid source name: ${JSON.stringify(sourceId)}`);
  const sourceKind = required(env, 'SOURCE_KIND');
  if (!['instance', 'cluster', 'endpoint'].includes(sourceKind)) {
    throw new MissingConfiguration(`SOURCE_KIND must be instance, cluster or endpoint; got ${JSON.stringify(sourceKind)}`);
  }
  const sourceIdentifier = optional(env, 'SOURCE_IDENTIFIER');
  if (sourceKind !== 'endpoint' && (sourceIdentifier === undefined || !isRdsIdentifier(sourceIdentifier, 63))) {
    throw new MissingConfiguration(`SOURCE_IDENTIFIER must be the primary's RDS identifier for SOURCE_KIND ${sourceKind}; got ${JSON.stringify(sourceIdentifier)}`);
  }
  const rpoText = required(env, 'RPO_SECONDS');
  const rpoSeconds = Number(rpoText);
  if (!Number.isInteger(rpoSeconds) || rpoSeconds <= 0) throw new MissingConfiguration(`RPO_SECONDS must be a positive whole number; got ${JSON.stringify(rpoText)}`);
  let strategies: FailoverStrategyName[];
  try {
    strategies = parseConfiguredStrategies(required(env, 'STRATEGIES'));
  } catch (error) {
    throw new MissingConfiguration((error as Error).message);
  }
  const primaryRegion = required(env, 'PRIMARY_REGION');
  const drRegion = required(env, 'AWS_REGION');
  // The construct refuses these at synth; a hand-edited environment would otherwise fail later with a less useful error.
  if (strategies.includes('point-in-time') && sourceKind === 'endpoint') {
    throw new MissingConfiguration('STRATEGIES includes point-in-time but SOURCE_KIND is endpoint: an endpoint has no automated backups; remove point-in-time');
  }
  if (strategies.includes('point-in-time') && sourceKind === 'cluster' && primaryRegion !== drRegion) {
    throw new MissingConfiguration(
      `STRATEGIES includes point-in-time for an Aurora cluster, but this function runs in ${drRegion} and the cluster is in ${primaryRegion}: ` +
        'Aurora restores a cluster to a point in time only in its own region; deploy that Failover in the cluster\'s region',
    );
  }
  const database = required(env, 'DATABASE');
  if (!isDatabaseName(database)) throw new MissingConfiguration(`DATABASE is not a valid database name: ${JSON.stringify(database)}`);

  let replica: ReplicaConfig | undefined;
  const replicaIdentifier = optional(env, 'REPLICA_IDENTIFIER');
  if (replicaIdentifier !== undefined) {
    const kind = required(env, 'REPLICA_KIND');
    if (kind !== 'instance' && kind !== 'global-cluster') throw new MissingConfiguration(`REPLICA_KIND must be instance or global-cluster; got ${JSON.stringify(kind)}`);
    const globalClusterIdentifier = kind === 'global-cluster' ? required(env, 'GLOBAL_CLUSTER_IDENTIFIER') : undefined;
    replica = {
      kind,
      identifier: replicaIdentifier,
      ...(globalClusterIdentifier !== undefined ? { globalClusterIdentifier } : {}),
      secretArn: required(env, 'REPLICA_SECRET_ARN'),
      lagSql: optional(env, 'REPLICA_LAG_SQL') ?? (kind === 'instance' ? DEFAULT_INSTANCE_LAG_SQL : DEFAULT_GLOBAL_LAG_SQL),
    };
  } else if (strategies.includes('promote-replica')) {
    throw new MissingConfiguration('STRATEGIES includes promote-replica but REPLICA_IDENTIFIER is not set');
  }
  const bucketName = optional(env, 'BUCKET_NAME');
  if (strategies.includes('restore-dump') && bucketName === undefined) throw new MissingConfiguration('STRATEGIES includes restore-dump but BUCKET_NAME is not set');
  const subnetGroupName = optional(env, 'DB_SUBNET_GROUP');
  if (strategies.some((s) => s !== 'promote-replica') && subnetGroupName === undefined) {
    throw new MissingConfiguration('a restore strategy is configured but DB_SUBNET_GROUP is not set');
  }
  return {
    sourceId,
    sourceKind: sourceKind as FailoverSourceKind,
    ...(sourceIdentifier !== undefined ? { sourceIdentifier } : {}),
    primaryRegion,
    drRegion,
    rpoSeconds,
    strategies,
    database,
    ...(bucketName !== undefined ? { bucketName } : {}),
    ...(subnetGroupName !== undefined ? { subnetGroupName } : {}),
    ...(replica !== undefined ? { replica } : {}),
  };
}

/**
 * The settings of the database `strategy` creates, from `NEW_DATABASE_SETTINGS`.
 *
 * @throws MissingConfiguration when the variable is missing, not JSON, or lacks the strategy or a field
 */
export function readNewDatabaseSettings(env: Env, strategy: FailoverStrategyName): NewDatabaseSettings {
  const text = required(env, 'NEW_DATABASE_SETTINGS');
  let all: unknown;
  try {
    all = JSON.parse(text);
  } catch {
    throw new MissingConfiguration('NEW_DATABASE_SETTINGS is not JSON; the Failover construct writes { "<strategy>": { "instanceClass", "multiAz", ... } }');
  }
  const entry = typeof all === 'object' && all !== null ? (all as Record<string, unknown>)[strategy] : undefined;
  if (typeof entry !== 'object' || entry === null) throw new MissingConfiguration(`NEW_DATABASE_SETTINGS has no settings for strategy ${strategy}`);
  const v = entry as Record<string, unknown>;
  if (typeof v.instanceClass !== 'string' || !/^db\.[a-z0-9-]+\.[a-z0-9-]+$/.test(v.instanceClass)) {
    throw new MissingConfiguration(`NEW_DATABASE_SETTINGS.${strategy}.instanceClass must be an RDS instance class such as db.r6g.large; got ${JSON.stringify(v.instanceClass)}`);
  }
  if (typeof v.multiAz !== 'boolean') throw new MissingConfiguration(`NEW_DATABASE_SETTINGS.${strategy}.multiAz must be true or false`);
  const text2 = (field: string): string | undefined => {
    const value = v[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw new MissingConfiguration(`NEW_DATABASE_SETTINGS.${strategy}.${field} must be a non-empty string when set`);
    return value;
  };
  const parameterGroupName = text2('parameterGroupName');
  const optionGroupName = text2('optionGroupName');
  const kmsKeyId = text2('kmsKeyId');
  return {
    instanceClass: v.instanceClass,
    multiAz: v.multiAz,
    ...(parameterGroupName !== undefined ? { parameterGroupName } : {}),
    ...(optionGroupName !== undefined ? { optionGroupName } : {}),
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
  };
}
