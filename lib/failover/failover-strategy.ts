import { Size, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { isRdsIdentifier } from '../../lambda/common/names';
import type { BackupRunner } from '../common/backup-runner';
import { ConfigurationError } from '../common/errors';
import { checkRestoreMemorySize } from '../common/restore-function';

/** What kind of database the backups (and the failover) are of. */
export type FailoverSourceKind = 'instance' | 'cluster' | 'endpoint';

/**
 * The primary database a {@link Failover} replaces: an RDS instance, an Aurora cluster, or any other PostgreSQL
 * (an endpoint: only its dumps can be restored).
 *
 * @example
 * FailoverSource.instance('prod-db');
 */
export class FailoverSource {
  /** An RDS for PostgreSQL instance (its identifier in the primary region). */
  public static instance(identifier: string): FailoverSource {
    return new FailoverSource('instance', identifier);
  }

  /** An Aurora PostgreSQL cluster (its identifier in the primary region). */
  public static cluster(identifier: string): FailoverSource {
    return new FailoverSource('cluster', identifier);
  }

  /** A PostgreSQL server that is not RDS: only `restoreDump` applies. */
  public static endpoint(): FailoverSource {
    return new FailoverSource('endpoint', undefined);
  }

  private constructor(
    /** instance, cluster or endpoint. */
    public readonly kind: FailoverSourceKind,
    /** The RDS identifier (not for an endpoint). */
    public readonly identifier: string | undefined,
  ) {
    if (identifier !== undefined && !Token.isUnresolved(identifier) && !isRdsIdentifier(identifier)) {
      throw new ConfigurationError(
        `FailoverSource: '${identifier}' is not an RDS identifier; use 1-63 letters, digits and single hyphens, starting with a letter (the primary's DB instance or cluster identifier).`,
      );
    }
  }
}

/** Options of {@link FailoverStrategy.promoteReplica}. */
export interface PromoteReplicaOptions {
  /** The cross-region read replica, in the Failover's (DR) region. */
  readonly replica: rds.IDatabaseInstance;
  /**
   * Credentials that work on the replica (it has its source's users), in the DR region: used to measure the lag and
   * run the checks. Often a replica of the primary's secret.
   */
  readonly credentials: secretsmanager.ISecret;
  /**
   * SQL returning one row whose first column is the replica's lag in seconds (NULL when unknown), run read-only on
   * the replica.
   * @default - `now() - pg_last_xact_replay_timestamp()` while in recovery: an upper bound (it grows on a primary
   *   without writes); for an exact figure write a heartbeat row on the primary and query its age here
   */
  readonly lagQuery?: string;
}

/** What promoting an Aurora global secondary does. */
export enum GlobalSecondaryAction {
  /**
   * FailoverGlobalCluster: a switchover without data loss while the primary region answers; with
   * `acceptDataLoss: true` in the input, a failover that allows data loss (the primary region is lost).
   */
  FAILOVER = 'failover',
  /** RemoveFromGlobalCluster: the secondary becomes a standalone cluster. */
  DETACH = 'detach',
}

/** Options of {@link FailoverStrategy.promoteGlobalSecondary}. */
export interface PromoteGlobalSecondaryOptions {
  /** The Aurora global database's identifier. */
  readonly globalClusterIdentifier: string;
  /** The secondary cluster in the Failover's (DR) region. */
  readonly secondary: rds.IDatabaseCluster;
  /** Credentials that work on the secondary, in the DR region. */
  readonly credentials: secretsmanager.ISecret;
  /** @default GlobalSecondaryAction.FAILOVER */
  readonly action?: GlobalSecondaryAction;
  /**
   * SQL returning the secondary's lag in seconds, run read-only on it.
   * @default - `visibility_lag_in_msec` of `aurora_global_db_instance_status()` for the instance connected to
   */
  readonly lagQuery?: string;
}

/**
 * How the database a failover creates runs: after a real failover it is the production primary, so it gets the
 * settings of one. Every new instance also gets automatic minor version upgrades.
 */
export interface FailoverDatabaseOptions {
  /** Instance type of the new instance (Aurora: of its writer), e.g. `ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE)`. */
  readonly instanceType: ec2.InstanceType;
  /**
   * Whether a real failover's instance runs Multi-AZ (a standby in a second Availability Zone). A rehearsal (dry run)
   * always runs single-AZ: it is deleted at its end. RDS instances only (an Aurora cluster gains Multi-AZ by readers).
   * @default true for an RDS instance
   */
  readonly multiAz?: boolean;
  /**
   * The DB parameter group of the new instance (Aurora: of its writer instance), in the DR region; use the same
   * settings as the primary's.
   * @default - RDS's default group of the engine version
   */
  readonly parameterGroup?: rds.IParameterGroup;
  /**
   * The option group of the new instance, in the DR region. RDS instances only (Aurora PostgreSQL has none).
   * @default - RDS's default option group of the engine version
   */
  readonly optionGroup?: rds.IOptionGroup;
  /**
   * The KMS key (in the Failover's region) that encrypts the new database's storage. Only where RDS can choose the
   * key: a `restoreDump` instance, an Aurora cluster restored from a snapshot or to a point in time. An instance
   * restored from a snapshot copy or replicated backups keeps the key they are encrypted with (choose it with
   * PostgresBackup's `snapshotCopy`).
   * @default - the `aws/rds` key (restoreDump), the snapshot's or source cluster's key (a restored cluster)
   */
  readonly storageEncryptionKey?: kms.IKey;
}

/** Options of {@link FailoverStrategy.restoreSnapshot}. */
export type RestoreSnapshotOptions = FailoverDatabaseOptions;

/** Options of {@link FailoverStrategy.restoreDump}. */
export interface RestoreDumpOptions extends FailoverDatabaseOptions {
  /** Engine version of the new RDS for PostgreSQL instance; at least the dumped server's major version. */
  readonly engineVersion: rds.PostgresEngineVersion;
  /**
   * Memory of the restore Lambda, MiB, from 1769 (one full vCPU, on which pg_restore decompresses) to 10240.
   * @default 1769
   */
  readonly restoreMemorySize?: number;
  /**
   * Storage of the new instance; the dump must fit, uncompressed, with its indexes.
   * @default Size.gibibytes(20)
   */
  readonly allocatedStorage?: Size;
  /**
   * Master user of the new instance (a dump carries no roles: the application's roles must be created again).
   * @default 'cdkbdr_admin'
   */
  readonly masterUsername?: string;
  /**
   * The Lambda layer with pg_restore.
   * @default - a new PgToolsLayer of the engine's major version
   */
  readonly pgToolsLayer?: lambda.ILayerVersion;
  /**
   * Where the restore runs: `BackupRunner.lambda()` (at most 15 minutes) or `BackupRunner.fargate({ cpu,
   * memoryLimitMiB })`, an ECS Fargate task in the failover's subnets and security group (its image, with the client
   * tools of the engine's major version, is built by CDK at deploy time).
   * @default BackupRunner.lambda({ memorySize: restoreMemorySize })
   */
  readonly runner?: BackupRunner;
}

/** Options of {@link FailoverStrategy.pointInTime}. */
export type PointInTimeOptions = FailoverDatabaseOptions;

/** The name a strategy is started with (`{ "strategy": "<name>" }`). */
export type FailoverStrategyName = 'promote-replica' | 'restore-snapshot' | 'restore-dump' | 'point-in-time';

/**
 * One way a {@link Failover} can bring the database back in the DR region; the person starting a failover picks one
 * of the configured strategies by name.
 *
 * @example
 * const strategies = [
 *   FailoverStrategy.promoteReplica({ replica, credentials: replicaSecret }),
 *   FailoverStrategy.restoreSnapshot({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) }),
 * ];
 */
export class FailoverStrategy {
  /** Promote a cross-region RDS read replica (irreversible; a dry run checks the replica instead). Name `promote-replica`. */
  public static promoteReplica(options: PromoteReplicaOptions): FailoverStrategy {
    return new FailoverStrategy('promote-replica', { replica: options });
  }

  /** Make an Aurora global database's secondary the writer (or detach it). Name `promote-replica`. */
  public static promoteGlobalSecondary(options: PromoteGlobalSecondaryOptions): FailoverStrategy {
    if (!Token.isUnresolved(options.globalClusterIdentifier) && !isRdsIdentifier(options.globalClusterIdentifier)) {
      throw new ConfigurationError(`FailoverStrategy.promoteGlobalSecondary: globalClusterIdentifier '${options.globalClusterIdentifier}' is not an RDS identifier.`);
    }
    return new FailoverStrategy('promote-replica', { global: options });
  }

  /** Restore the newest snapshot copy in the DR region (RDS instance or Aurora cluster). Name `restore-snapshot`. */
  public static restoreSnapshot(options: RestoreSnapshotOptions): FailoverStrategy {
    return new FailoverStrategy('restore-snapshot', { snapshot: options });
  }

  /** Create an RDS for PostgreSQL instance and pg_restore the newest dump into it. Name `restore-dump`. */
  public static restoreDump(options: RestoreDumpOptions): FailoverStrategy {
    const storage = options.allocatedStorage?.toGibibytes();
    if (storage !== undefined && (storage < 20 || storage > 65536 || !Number.isInteger(storage))) {
      throw new ConfigurationError(`FailoverStrategy.restoreDump: allocatedStorage must be a whole number of GiB from 20 to 65536; got ${storage}.`);
    }
    if (options.masterUsername !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,15}$/.test(options.masterUsername)) {
      throw new ConfigurationError(`FailoverStrategy.restoreDump: masterUsername '${options.masterUsername}' is not valid; use 1-16 letters, digits or _, starting with a letter.`);
    }
    if (['postgres', 'rdsadmin', 'admin'].includes(options.masterUsername ?? '')) {
      throw new ConfigurationError(`FailoverStrategy.restoreDump: masterUsername '${options.masterUsername}' is reserved by RDS; pick another name.`);
    }
    checkRestoreMemorySize(options.restoreMemorySize, 'restoreMemorySize', (message) => new ConfigurationError(`FailoverStrategy.restoreDump: ${message}`));
    if (options.runner?.kind === 'fargate' && options.restoreMemorySize !== undefined) {
      throw new ConfigurationError('FailoverStrategy.restoreDump: restoreMemorySize sizes the restore Lambda, but runner is BackupRunner.fargate; remove restoreMemorySize and size the task with BackupRunner.fargate({ cpu, memoryLimitMiB }).');
    }
    if (options.runner?.kind === 'fargate' && options.pgToolsLayer !== undefined) {
      throw new ConfigurationError('FailoverStrategy.restoreDump: pgToolsLayer is for the restore Lambda, but runner is BackupRunner.fargate (its image installs the client tools); remove pgToolsLayer.');
    }
    return new FailoverStrategy('restore-dump', { dump: options });
  }

  /**
   * Restore to the input's `targetTime`. Name `point-in-time`.
   * - An RDS instance: its automated backups replicated to the DR region (turn on cross-region automated backup
   *   replication on the source instance).
   * - An Aurora cluster: RestoreDBClusterToPointInTime from the cluster's own continuous backups, plus a writer
   *   instance. Aurora does this only in the cluster's region, so such a Failover has this as its only strategy and
   *   lives in a stack of the cluster's region (`primaryRegion` = the stack's region): it undoes a bad change, it does
   *   not survive the loss of the region (use `restoreSnapshot` or `promoteGlobalSecondary` in the DR region for that).
   */
  public static pointInTime(options: PointInTimeOptions): FailoverStrategy {
    return new FailoverStrategy('point-in-time', { pointInTime: options });
  }

  private constructor(
    /** The name the strategy is started with. */
    public readonly name: FailoverStrategyName,
    /** @internal */
    public readonly _options: {
      readonly replica?: PromoteReplicaOptions;
      readonly global?: PromoteGlobalSecondaryOptions;
      readonly snapshot?: RestoreSnapshotOptions;
      readonly dump?: RestoreDumpOptions;
      readonly pointInTime?: PointInTimeOptions;
    },
  ) {}

  /** @internal The settings of the database a restore strategy creates (none for promote-replica). */
  public get _database(): FailoverDatabaseOptions | undefined {
    return this._options.snapshot ?? this._options.dump ?? this._options.pointInTime;
  }
}
