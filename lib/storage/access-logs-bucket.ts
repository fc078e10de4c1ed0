import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

/** Properties of an {@link AccessLogsBucket}. */
export interface AccessLogsBucketProps {
  /**
   * How long server access log objects are kept.
   *
   * @default Duration.days(365)
   */
  readonly retention?: Duration;

  /**
   * What happens to the bucket when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The target bucket of S3 server access logs for a {@link BackupBucket}.
 *
 * Encrypted with S3-managed keys (SSE-S3): S3 log delivery cannot write into a bucket whose default
 * encryption is SSE-KMS. TLS-only, versioned, all public access blocked, ACLs disabled (log delivery is
 * granted by a bucket policy, not the legacy log-delivery ACL), and logs expire after `retention`.
 *
 * @example
 * const logs = new AccessLogsBucket(this, 'AccessLogs', { retention: Duration.days(90) });
 * new s3.Bucket(this, 'Data', { serverAccessLogsBucket: logs.bucket, serverAccessLogsPrefix: 'data/' });
 */
export class AccessLogsBucket extends Construct {
  /** The log bucket. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsBucketProps = {}) {
    super(scope, id);
    // Log delivery must be granted with a bucket policy: the legacy LogDeliveryWrite ACL cannot be used
    // with ObjectOwnership.BUCKET_OWNER_ENFORCED. Pin the behaviour whatever the app's feature flags are.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    const retention = props.retention ?? Duration.days(365);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          enabled: true,
          expiration: retention,
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    const reasons: Record<string, string> = {
      'AwsSolutions-S1':
        'This is the server access log target bucket; logging its own access would deliver logs about log delivery, recursively.',
      'HIPAA.Security-S3BucketLoggingEnabled':
        'This is the server access log target bucket; logging its own access would deliver logs about log delivery, recursively.',
      'NIST.800.53.R5-S3BucketLoggingEnabled':
        'This is the server access log target bucket; logging its own access would deliver logs about log delivery, recursively.',
      'HIPAA.Security-S3BucketReplicationEnabled':
        'Access logs are audit records of requests to a bucket in this region, not backup data; copying them to another region adds no recovery capability.',
      'NIST.800.53.R5-S3BucketReplicationEnabled':
        'Access logs are audit records of requests to a bucket in this region, not backup data; copying them to another region adds no recovery capability.',
      'HIPAA.Security-S3DefaultEncryptionKMS':
        'S3 server access log delivery only supports SSE-S3 on the target bucket; SSE-KMS default encryption would make delivery fail.',
      'NIST.800.53.R5-S3DefaultEncryptionKMS':
        'S3 server access log delivery only supports SSE-S3 on the target bucket; SSE-KMS default encryption would make delivery fail.',
    };
    for (const [id, reason] of Object.entries(reasons)) {
      Validations.of(cfnBucket).acknowledge({ id, reason });
    }
  }
}
