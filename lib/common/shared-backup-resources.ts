import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BackupBucket } from '../storage/backup-bucket';
import type { IBackupBucket } from '../storage/backup-bucket-base';
import { AttributeStore, SHARED_ATTRIBUTES } from './attribute-store';
import { ConfigurationError } from './errors';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { OperationsTopic } from '../monitoring/operations-topic';

/** Props of {@link SharedBackupResources}. */
export interface SharedBackupResourcesProps {
  /** The bucket whose attributes another app needs: its name, ARN, region and key, and its replica once known. */
  readonly bucket: BackupBucket;
  /** Where to publish them: `AttributeStore.ssmParameters(prefix)` or `AttributeStore.stackOutputs(...)`. */
  readonly store: AttributeStore;
  /**
   * The operations topic whose ARN and key ARN to publish too, for another app's constructs to report to
   * ({@link SharedBackupResources.importOperationsTopic}).
   * @default - the topic is not published
   */
  readonly operationsTopic?: OperationsTopic;
}

/** Options of {@link SharedBackupResources.importBucket}. */
export interface ImportSharedBucketOptions {
  /**
   * Read the replica attributes too (published when the bucket replicates), for a PostgresBackup whose verify checks
   * the DR copy. RecoveryTest and Failover do not need them.
   *
   * @default false
   */
  readonly replica?: boolean;
  /**
   * Whether the bucket is versioned.
   *
   * @default true
   */
  readonly versioned?: boolean;
}

/**
 * Publishes what a second app needs to use the backup resources of this stack (bucket name and ARN, region, key
 * ARN, the replica once `replicateTo` configures it) as SSM parameters or stack outputs, and reads them back in the
 * other app. Both are regional: publish in each region's stack (the primary's bucket, the DR stack's replica) and
 * read in the same region.
 *
 * @example
 * // The app that owns the buckets, in its DR-region stack:
 * new SharedBackupResources(drStack, 'Shared', { bucket: replica, store: AttributeStore.ssmParameters('/orders/backups') });
 * // Another app, in a stack of the same region:
 * const backups = SharedBackupResources.importBucket(failoverStack, 'Backups', AttributeStore.ssmParameters('/orders/backups'));
 * new Failover(failoverStack, 'Failover', { bucket: backups, ...failoverProps });
 */
export class SharedBackupResources extends Construct {
  /**
   * The bucket a SharedBackupResources published in `store`, imported as deploy-time values (SSM parameters or
   * `Fn.importValue`) into `scope`'s stack, which must be in the region it was published in.
   */
  public static importBucket(scope: Construct, id: string, store: AttributeStore, options: ImportSharedBucketOptions = {}): IBackupBucket {
    const read = (attribute: (typeof SHARED_ATTRIBUTES)[keyof typeof SHARED_ATTRIBUTES]) => store.read(scope, attribute);
    return BackupBucket.fromBucketAttributes(scope, id, {
      bucketName: read(SHARED_ATTRIBUTES.bucketName),
      encryptionKeyArn: read(SHARED_ATTRIBUTES.encryptionKeyArn),
      versioned: options.versioned,
      replica: options.replica
        ? {
            bucketName: read(SHARED_ATTRIBUTES.replicaBucketName),
            region: read(SHARED_ATTRIBUTES.replicaRegion),
            encryptionKeyArn: read(SHARED_ATTRIBUTES.replicaEncryptionKeyArn),
            ruleId: read(SHARED_ATTRIBUTES.replicationRuleId),
          }
        : undefined,
    });
  }

  /**
   * The operations topic a SharedBackupResources published in `store` (with its key), imported into `scope`'s stack
   * (same region), to pass as a construct's `notificationTopic`.
   */
  public static importOperationsTopic(scope: Construct, id: string, store: AttributeStore): sns.ITopic {
    return OperationsTopic.fromTopicAttributes(scope, id, {
      topicArn: store.read(scope, SHARED_ATTRIBUTES.operationsTopicArn),
      encryptionKeyArn: store.read(scope, SHARED_ATTRIBUTES.operationsTopicKeyArn),
    });
  }

  constructor(scope: Construct, id: string, props: SharedBackupResourcesProps) {
    super(scope, id);
    const { bucket, store } = props;
    if (Stack.of(bucket) !== Stack.of(this)) {
      throw new ConfigurationError(
        `the bucket ${bucket.node.path} is in another stack: create SharedBackupResources in the bucket's own stack (${Stack.of(bucket).stackName}), ` +
          'so that what it publishes is in the bucket\'s region and needs no reference between stacks.',
        this,
      );
    }
    store.publish(this, SHARED_ATTRIBUTES.bucketName, bucket.bucket.bucketName);
    store.publish(this, SHARED_ATTRIBUTES.bucketArn, bucket.bucket.bucketArn);
    store.publish(this, SHARED_ATTRIBUTES.bucketRegion, Stack.of(bucket).region);
    store.publish(this, SHARED_ATTRIBUTES.encryptionKeyArn, bucket.encryptionKey.keyArn);
    if (props.operationsTopic) {
      store.publish(this, SHARED_ATTRIBUTES.operationsTopicArn, props.operationsTopic.topic.topicArn);
      store.publish(this, SHARED_ATTRIBUTES.operationsTopicKeyArn, props.operationsTopic.encryptionKey.keyArn);
    }
    bucket.onReplication((replica) => {
      store.publish(this, SHARED_ATTRIBUTES.replicaBucketName, replica.bucketName);
      store.publish(this, SHARED_ATTRIBUTES.replicaRegion, replica.region);
      store.publish(this, SHARED_ATTRIBUTES.replicaEncryptionKeyArn, replica.encryptionKeyArn);
      store.publish(this, SHARED_ATTRIBUTES.replicationRuleId, replica.ruleId);
    });
  }
}
