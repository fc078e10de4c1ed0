import type * as kms from 'aws-cdk-lib/aws-kms';
import { DATABASE_NAME_HINT, isDatabaseName, isRdsIdentifier } from '../../lambda/common/names';
import { ConfigurationError } from '../common/errors';

/** Options of {@link TestedBackups.dumps}. */
export interface DumpTestOptions {
  /**
   * Test only backups of this database of the source.
   * @default - the newest backup of any database of the source
   */
  readonly database?: string;
}

/** Options of {@link TestedBackups.instanceSnapshots}. */
export interface InstanceSnapshotTestOptions {
  /** The RDS DB instance whose snapshots (taken by PostgresBackup) are tested. */
  readonly instanceIdentifier: string;
  /** The database inside the restored instance that the checks (validation queries) run in. */
  readonly database: string;
  /**
   * The customer-managed KMS key the snapshots are encrypted with: restoring them needs `kms:CreateGrant` (for RDS)
   * and `kms:DescribeKey` on it, which the scratch Lambda then gets.
   * @default - the snapshots use the AWS-managed `aws/rds` key, or none
   */
  readonly encryptionKey?: kms.IKey;
}

/** Options of {@link TestedBackups.clusterSnapshots}. */
export interface ClusterSnapshotTestOptions {
  /** The Aurora PostgreSQL cluster whose snapshots (taken by PostgresBackup) are tested. */
  readonly clusterIdentifier: string;
  /** The database inside the restored cluster that the checks (validation queries) run in. */
  readonly database: string;
  /**
   * The customer-managed KMS key the snapshots are encrypted with: restoring them needs `kms:CreateGrant` (for RDS)
   * and `kms:DescribeKey` on it, which the scratch Lambda then gets.
   * @default - the snapshots use the AWS-managed `aws/rds` key, or none
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Which backups a {@link RecoveryTest} restores: the streamed dumps in the backup bucket (restored with pg_restore
 * into an empty scratch instance, then row counts compared with the manifest), or the RDS instance / Aurora cluster
 * snapshots taken by the backup workflow (restored with RestoreDBInstanceFromDBSnapshot /
 * RestoreDBClusterFromSnapshot, then checked with the validation queries).
 *
 * @example
 * TestedBackups.dumps({ database: 'app' });
 * TestedBackups.instanceSnapshots({ instanceIdentifier: 'prod-db', database: 'app' });
 * TestedBackups.clusterSnapshots({ clusterIdentifier: 'prod-aurora', database: 'app' });
 */
export class TestedBackups {
  /** The dumps of the source in the backup bucket (the default). */
  public static dumps(options: DumpTestOptions = {}): TestedBackups {
    if (options.database !== undefined) checkDatabase(options.database, 'TestedBackups.dumps');
    return new TestedBackups('dump', 'instance', options.database, undefined, undefined);
  }

  /** The manual snapshots of an RDS instance taken by the backup workflow (`cdkbdr-*`). */
  public static instanceSnapshots(options: InstanceSnapshotTestOptions): TestedBackups {
    checkIdentifier(options.instanceIdentifier, 'TestedBackups.instanceSnapshots', 'instanceIdentifier');
    checkDatabase(options.database, 'TestedBackups.instanceSnapshots');
    return new TestedBackups('snapshot', 'instance', options.database, options.instanceIdentifier, options.encryptionKey);
  }

  /** The manual snapshots of an Aurora PostgreSQL cluster taken by the backup workflow (`cdkbdr-*`). */
  public static clusterSnapshots(options: ClusterSnapshotTestOptions): TestedBackups {
    checkIdentifier(options.clusterIdentifier, 'TestedBackups.clusterSnapshots', 'clusterIdentifier');
    checkDatabase(options.database, 'TestedBackups.clusterSnapshots');
    return new TestedBackups('snapshot', 'cluster', options.database, options.clusterIdentifier, options.encryptionKey);
  }

  private constructor(
    /** `dump` or `snapshot`. */
    public readonly kind: 'dump' | 'snapshot',
    /** What the scratch database is: an RDS instance, or an Aurora cluster with one instance. */
    public readonly scratchResource: 'instance' | 'cluster',
    /** The database: a filter for dumps, where the checks run for snapshots. */
    public readonly database: string | undefined,
    /** The snapshotted instance or cluster (snapshots only). */
    public readonly snapshotSourceIdentifier: string | undefined,
    /** The customer-managed key of the snapshots, when there is one. */
    public readonly snapshotEncryptionKey: kms.IKey | undefined,
  ) {}
}

function checkIdentifier(value: string, where: string, field: string): void {
  if (!isRdsIdentifier(value)) {
    throw new ConfigurationError(
      `${where}: ${field} must be an RDS identifier (1-63 letters, digits or hyphens, starting with a letter, no trailing or double hyphen), not an ARN; got ${JSON.stringify(value)}.`,
    );
  }
}

function checkDatabase(value: string, where: string): void {
  if (!isDatabaseName(value)) throw new ConfigurationError(`${where}: database ${DATABASE_NAME_HINT}; got ${JSON.stringify(value)}.`);
}
