import { Duration, IResource, Resource, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import type { BackupBucket } from './backup-bucket';

/** The replica of a backup bucket, as {@link IBackupBucket.onReplication} hands it over. */
export interface ReplicaInfo {
  /** The replica, when it is a BackupBucket of this app; undefined for the replica of an imported bucket. */
  readonly replica?: BackupBucket;
  /** Physical name of the replica bucket, usable in the source bucket's stack. */
  readonly bucketName: string;
  /** Region of the replica. */
  readonly region: string;
  /** Account of the replica. */
  readonly account: string;
  /**
   * The replica's KMS key as policies name it: its key ARN, or an alias ARN (`arn:…:kms:<region>:<account>:alias/…`)
   * when the key id is not known in the source's region (a replica created by `replicateTo`).
   */
  readonly encryptionKeyArn: string;
  /** Id of the replication rule (a dimension of the replication metrics). */
  readonly ruleId: string;
}

/**
 * A bucket of backups: the S3 bucket, the KMS key that encrypts it, its cross-region replica when known, and the
 * grant and metric methods every construct of this package uses. Implemented by {@link BackupBucket} (a bucket this
 * app creates) and by `BackupBucket.fromBucketAttributes` (a bucket another app or stack created).
 */
export interface IBackupBucket extends IResource {
  /** The bucket. */
  readonly bucket: s3.IBucket;
  /** The KMS key that encrypts the bucket (SSE-KMS). */
  readonly encryptionKey: kms.IKey;
  /** Whether versioning is on. */
  readonly versioned: boolean;
  /**
   * The bucket's default Object Lock retention, when it has one (a failed dump then cannot be deleted, and retention
   * cannot delete a locked backup).
   */
  readonly objectLock?: s3.ObjectLockRetention;
  /** Physical name of the replica bucket, when the bucket replicates and the replica is known. */
  readonly replicaBucketName?: string;
  /** Region of the replica, when known. */
  readonly replicaRegion?: string;
  /** Id of the replication rule (a dimension of the replication metrics), when known. */
  readonly replicationRuleId?: string;

  /**
   * Runs `configure` with the replica as soon as it is known: at once when it already is, else when `replicateTo` is
   * called (never, for an imported bucket imported without `replica`).
   */
  onReplication(configure: (replica: ReplicaInfo) => void): void;

  /**
   * Allow `grantee` to upload backups: `s3:PutObject`, `s3:AbortMultipartUpload`, `s3:ListMultipartUploadParts` on the
   * objects matching `objectsKeyPattern`, and `kms:GenerateDataKey`, `kms:Encrypt`, `kms:Decrypt` on the key.
   */
  grantWriteBackups(grantee: iam.IGrantable, objectsKeyPattern?: string): iam.Grant;

  /**
   * Allow `grantee` to read backups: `s3:GetObject`, `s3:GetObjectVersion` on the objects matching
   * `objectsKeyPattern`, `s3:ListBucket` on the bucket, and `kms:Decrypt` on the key.
   */
  grantReadBackups(grantee: iam.IGrantable, objectsKeyPattern?: string): iam.Grant;

  /** Maximum seconds by which replicas lag behind the source (`AWS/S3 ReplicationLatency`). Only for a bucket that replicates. */
  metricReplicationLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Objects that failed to replicate (`AWS/S3 OperationsFailedReplication`, sum). Only for a bucket that replicates. */
  metricOperationsFailedReplication(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Bytes waiting to be replicated (`AWS/S3 BytesPendingReplication`, maximum). Only for a bucket that replicates. */
  metricBytesPendingReplication(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Operations waiting to be replicated (`AWS/S3 OperationsPendingReplication`, maximum). Only for a bucket that replicates. */
  metricOperationsPendingReplication(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /**
   * Bytes stored in one storage class (`AWS/S3 BucketSizeBytes`, daily average), e.g. `StandardStorage`,
   * `GlacierInstantRetrievalStorage`, `GlacierStorage`, `DeepArchiveStorage`.
   */
  metricStorageBytes(storageType: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

const WRITE_OBJECT_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'];
// kms:Decrypt is needed by multipart uploads: S3 decrypts the data key to assemble the parts.
const WRITE_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'];
const READ_OBJECT_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion'];
const READ_BUCKET_ACTIONS = ['s3:ListBucket'];
const READ_KEY_ACTIONS = ['kms:Decrypt'];

/**
 * What a backup bucket created here and one imported have in common: the grants (built from how each names its
 * bucket and key for a grantee) and the replication metrics (built from its replica).
 */
export abstract class BackupBucketBase extends Resource implements IBackupBucket {
  public abstract readonly bucket: s3.IBucket;
  public abstract readonly encryptionKey: kms.IKey;
  public abstract readonly versioned: boolean;

  /** The replica when it is known, for the metrics and `onReplication`. */
  protected abstract currentReplica(): ReplicaInfo | undefined;
  /** Grants `actions` on the bucket or its objects (`resourceArns`) to `grantee`. */
  protected abstract grantOnBucket(grantee: iam.IGrantable, actions: string[], resourceArns: string[]): iam.Grant;
  /** Grants `actions` on the bucket's key to `grantee`. */
  protected abstract grantOnKey(grantee: iam.IGrantable, actions: string[]): iam.Grant;
  /** The bucket's ARN as `grantee`'s policy names it (a literal one when `grantee` is in another region). */
  protected abstract bucketArnFor(grantee: iam.IGrantable): string;
  public abstract onReplication(configure: (replica: ReplicaInfo) => void): void;

  /**
   * Physical name of the replica bucket, usable in THIS bucket's stack (e.g. as a Lambda environment variable for a
   * verifier that checks the DR copy), where the replica's own `bucket.bucketName` would be a cross-region reference.
   * Undefined until the replica is known (`replicateTo`, or `replica` of the imported attributes).
   */
  public get replicaBucketName(): string | undefined {
    return this.currentReplica()?.bucketName;
  }

  /** Region of the replica, when known. */
  public get replicaRegion(): string | undefined {
    return this.currentReplica()?.region;
  }

  /** Id of the replication rule (a dimension of the replication metrics), when the replica is known. */
  public get replicationRuleId(): string | undefined {
    return this.currentReplica()?.ruleId;
  }

  /**
   * Allow `grantee` to upload backups: `s3:PutObject`, `s3:AbortMultipartUpload`, `s3:ListMultipartUploadParts`
   * on the objects matching `objectsKeyPattern`, and `kms:GenerateDataKey`, `kms:Encrypt` and `kms:Decrypt` on
   * the key (multipart uploads to SSE-KMS need Decrypt). Works for a grantee in another region.
   *
   * @param objectsKeyPattern key pattern, e.g. `'postgres/*'`. Default: every object.
   */
  public grantWriteBackups(grantee: iam.IGrantable, objectsKeyPattern: string = '*'): iam.Grant {
    const objects = this.grantOnBucket(grantee, WRITE_OBJECT_ACTIONS, [`${this.bucketArnFor(grantee)}/${objectsKeyPattern}`]);
    return objects.combine(this.grantOnKey(grantee, WRITE_KEY_ACTIONS));
  }

  /**
   * Allow `grantee` to read backups: `s3:GetObject` and `s3:GetObjectVersion` on the objects matching
   * `objectsKeyPattern`, `s3:ListBucket` on the bucket, and `kms:Decrypt` on the key. Works for a grantee in
   * another region (e.g. a verifier in the primary region that checks the replica).
   *
   * @param objectsKeyPattern key pattern, e.g. `'postgres/*'`. Default: every object.
   */
  public grantReadBackups(grantee: iam.IGrantable, objectsKeyPattern: string = '*'): iam.Grant {
    const bucketArn = this.bucketArnFor(grantee);
    const objects = this.grantOnBucket(grantee, READ_OBJECT_ACTIONS, [`${bucketArn}/${objectsKeyPattern}`]);
    const list = this.grantOnBucket(grantee, READ_BUCKET_ACTIONS, [bucketArn]);
    return objects.combine(list).combine(this.grantOnKey(grantee, READ_KEY_ACTIONS));
  }

  /**
   * Maximum seconds by which replicas lag behind the source (`AWS/S3 ReplicationLatency`).
   * Only for a bucket that replicates.
   */
  public metricReplicationLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.replicationMetric('ReplicationLatency', 'Maximum', props);
  }

  /** Objects that failed to replicate (`AWS/S3 OperationsFailedReplication`, sum). Only for a bucket that replicates. */
  public metricOperationsFailedReplication(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.replicationMetric('OperationsFailedReplication', 'Sum', props);
  }

  /** Bytes waiting to be replicated (`AWS/S3 BytesPendingReplication`, maximum). Only for a bucket that replicates. */
  public metricBytesPendingReplication(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.replicationMetric('BytesPendingReplication', 'Maximum', props);
  }

  /** Operations waiting to be replicated (`AWS/S3 OperationsPendingReplication`, maximum). Only for a bucket that replicates. */
  public metricOperationsPendingReplication(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.replicationMetric('OperationsPendingReplication', 'Maximum', props);
  }

  /**
   * Bytes stored in one storage class (`AWS/S3 BucketSizeBytes`, daily average), e.g. `StandardStorage`,
   * `GlacierInstantRetrievalStorage`, `GlacierStorage`, `DeepArchiveStorage`.
   */
  public metricStorageBytes(storageType: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/S3',
      metricName: 'BucketSizeBytes',
      dimensionsMap: { BucketName: this.bucket.bucketName, StorageType: storageType },
      statistic: 'Average',
      period: Duration.days(1),
      label: storageType,
      ...props,
    });
  }

  private replicationMetric(metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const replica = this.currentReplica();
    if (!replica) {
      throw new ConfigurationError(
        `${metricName} is published only for a bucket that replicates: call replicateTo(replica) on this ` +
          'BackupBucket (or, for an imported bucket, pass replica to fromBucketAttributes) before asking for replication metrics.',
        this,
      );
    }
    return new cloudwatch.Metric({
      namespace: 'AWS/S3',
      metricName,
      dimensionsMap: {
        SourceBucket: this.bucket.bucketName,
        DestinationBucket: replica.bucketName,
        RuleId: replica.ruleId,
      },
      statistic,
      period: Duration.minutes(5),
      ...props,
    });
  }
}

/**
 * How an identity policy in `stack` names the replica's key: the key ARN, or every key of the replica's region and
 * account narrowed with `kms:ResourceAliases` to the replica's alias when only the alias is known here.
 */
export function replicaKeyPolicy(replica: ReplicaInfo, stack: Stack): { readonly resource: string; readonly conditions?: Record<string, Record<string, string>> } {
  const alias = aliasOfArn(replica.encryptionKeyArn);
  if (alias === undefined) return { resource: replica.encryptionKeyArn };
  return {
    resource: stack.formatArn({ service: 'kms', region: replica.region, account: replica.account, resource: 'key', resourceName: '*' }),
    conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': alias } },
  };
}

/** `alias/<name>` of an alias ARN (literal up to the alias), undefined for a key ARN or a token. */
function aliasOfArn(arn: string): string | undefined {
  const at = arn.indexOf(':alias/');
  if (at < 0) return undefined;
  const alias = arn.slice(at + 1);
  return Token.isUnresolved(alias) ? undefined : alias;
}

/** The stack of the grantee's principal when the principal is a construct (a role, a function's role...). */
export function granteeStack(grantee: iam.IGrantable): Stack | undefined {
  const principal: unknown = grantee.grantPrincipal;
  return isConstruct(principal) ? Stack.of(principal) : undefined;
}

function isConstruct(x: unknown): x is IConstruct {
  return typeof x === 'object' && x !== null && Construct.isConstruct(x);
}
