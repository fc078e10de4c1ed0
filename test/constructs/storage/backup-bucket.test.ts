import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BackupBucket, BackupLifecycle } from '../../../lib/storage';
import { bucketLogicalId, singleStack } from './fixtures';

function synth(props?: ConstructorParameters<typeof BackupBucket>[2]): { stack: Stack; backups: BackupBucket; template: Template; bucketId: string; logsId: string; keyId: string } {
  const stack = singleStack();
  const backups = new BackupBucket(stack, 'Backups', props);
  const template = Template.fromStack(stack);
  const bucketId = bucketLogicalId(stack, backups);
  const logsId = stack.resolve(stack.getLogicalId(backups.accessLogsBucket.node.defaultChild as s3.CfnBucket)) as string;
  const keyId = stack.resolve(stack.getLogicalId(backups.encryptionKey.node.defaultChild as kms.CfnKey)) as string;
  return { stack, backups, template, bucketId, logsId, keyId };
}

describe('BackupBucket defaults', () => {
  const { backups, template, bucketId, logsId, keyId } = synth();
  const bucketProps = () => template.toJSON().Resources[bucketId].Properties;

  it('creates exactly two buckets: the backups and their access logs', () => {
    template.resourceCountIs('AWS::S3::Bucket', 2);
    expect(bucketId).not.toBe(logsId);
  });

  it('versions the bucket', () => {
    expect(bucketProps().VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(backups.versioned).toBe(true);
  });

  it('encrypts with a customer-managed KMS key rotated every 90 days', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, RotationPeriodInDays: 90 });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: backups.encryptionKeyAliasName,
      TargetKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(backups.encryptionKeyAliasName).toMatch(/^alias\/cdk-backup-dr\/PrimaryBackups[0-9A-F]{8}$/);
  });

  it('uses SSE-KMS with that key and an S3 Bucket Key, and blocks SSE-C', () => {
    expect(bucketProps().BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } },
          BucketKeyEnabled: true,
          BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] },
        },
      ],
    });
  });

  it('denies every request without TLS, and TLS older than 1.2', () => {
    const bucketAndObjects = [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] }];
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: bucketAndObjects,
          },
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
            Resource: bucketAndObjects,
          },
        ]),
      },
    });
  });

  it('denies uploads that ask for an encryption other than SSE-KMS, or for another KMS key', () => {
    const objects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] };
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'DenyUploadsNotEncryptedWithSseKms',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: objects,
            Condition: {
              StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
              Null: { 's3:x-amz-server-side-encryption': 'false' },
            },
          },
          {
            Sid: 'DenyUploadsEncryptedWithAnotherKmsKey',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: objects,
            Condition: {
              StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': { 'Fn::GetAtt': [keyId, 'Arn'] } },
              Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
            },
          },
        ]),
      },
    });
  });

  it('blocks all public access and disables ACLs', () => {
    expect(bucketProps().PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucketProps().OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(bucketProps().AccessControl).toBeUndefined();
  });

  it('sends server access logs to the dedicated log bucket', () => {
    expect(bucketProps().LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'backup-bucket/' });
  });

  it('retains the bucket, its key and its log bucket by default', () => {
    for (const id of [bucketId, logsId, keyId]) {
      expect(template.toJSON().Resources[id]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
  });

  it('aborts incomplete multipart uploads after one day and removes expired delete markers', () => {
    expect(bucketProps().LifecycleConfiguration.Rules).toContainEqual({
      Id: 'abort-incomplete-multipart-uploads',
      Status: 'Enabled',
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      ExpiredObjectDeleteMarker: true,
    });
  });

  it('tiers the whole bucket down to Deep Archive by default', () => {
    expect(bucketProps().LifecycleConfiguration.Rules).toContainEqual({
      Id: 'backup-lifecycle-0-all',
      Status: 'Enabled',
      Transitions: [
        { StorageClass: 'GLACIER_IR', TransitionInDays: 30 },
        { StorageClass: 'GLACIER', TransitionInDays: 120 },
        { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 365 },
      ],
      ExpirationInDays: 2555,
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
    });
    expect(bucketProps().LifecycleConfiguration.Rules).toHaveLength(2);
  });

  it('has no Object Lock, no replication and no fixed name', () => {
    expect(bucketProps().ObjectLockEnabled).toBeUndefined();
    expect(bucketProps().ObjectLockConfiguration).toBeUndefined();
    expect(bucketProps().ReplicationConfiguration).toBeUndefined();
    expect(bucketProps().BucketName).toBeUndefined();
    expect(backups.replica).toBeUndefined();
    expect(backups.replicationRole).toBeUndefined();
  });

  it('refuses replication metrics on a bucket that does not replicate, saying what to call', () => {
    for (const metric of [
      () => backups.metricReplicationLatency(),
      () => backups.metricOperationsFailedReplication(),
      () => backups.metricBytesPendingReplication(),
    ]) {
      expect(metric).toThrow(/is published only for a bucket that replicates: call replicateTo\(replica\)/);
    }
  });
});

describe('BackupBucket access-log bucket', () => {
  const { template, logsId, bucketId } = synth();
  const logs = () => template.toJSON().Resources[logsId];

  it('is encrypted with S3-managed keys (log delivery cannot use SSE-KMS), versioned, private and ACL-free', () => {
    expect(logs().Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect(logs().Properties.AccessControl).toBeUndefined();
  });

  it('expires its logs after a year by default', () => {
    expect(logs().Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'expire-access-logs',
        Status: 'Enabled',
        ExpirationInDays: 365,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
  });

  it('is TLS-only and lets only S3 log delivery for this bucket write, under the prefix', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logsId, 'Arn'] }, '/backup-bucket/*']] },
            Condition: {
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId, 'Arn'] } },
              StringEquals: { 'aws:SourceAccount': '111111111111' },
            },
          },
        ],
      },
    });
  });

  it('keeps logs for accessLogsRetention', () => {
    const custom = synth({ accessLogsRetention: Duration.days(90) });
    expect(custom.template.toJSON().Resources[custom.logsId].Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(90);
  });
});

describe('BackupBucket options', () => {
  it('applies removalPolicy to the bucket, the key and the log bucket', () => {
    const { template, bucketId, logsId, keyId } = synth({ removalPolicy: RemovalPolicy.DESTROY });
    for (const id of [bucketId, logsId, keyId]) {
      expect(template.toJSON().Resources[id]).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    }
  });

  it('uses bucketName', () => {
    const { template, bucketId } = synth({ bucketName: 'acme-db-backups' });
    expect(template.toJSON().Resources[bucketId].Properties.BucketName).toBe('acme-db-backups');
  });

  it('turns on Object Lock in governance mode with a default retention', () => {
    const { template, bucketId } = synth({ objectLock: s3.ObjectLockRetention.governance(Duration.days(35)) });
    expect(template.toJSON().Resources[bucketId].Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 35 } } },
    });
  });

  it('turns on Object Lock in compliance mode', () => {
    const { template, bucketId } = synth({ objectLock: s3.ObjectLockRetention.compliance(Duration.days(365)) });
    expect(template.toJSON().Resources[bucketId].Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
    });
  });

  it('turns versioning off when asked (no replication, no Object Lock)', () => {
    const { template, bucketId, backups } = synth({ versioned: false });
    expect(template.toJSON().Resources[bucketId].Properties.VersioningConfiguration).toBeUndefined();
    expect(backups.versioned).toBe(false);
  });

  it('writes one lifecycle rule per BackupLifecycle, scoped to its prefix', () => {
    const { template, bucketId } = synth({
      lifecycle: [
        BackupLifecycle.archive({ prefix: 'postgres/', glacierInstantRetrievalAfter: false }),
        BackupLifecycle.keepInStandard({ prefix: 'reports/', expireAfter: Duration.days(730) }),
      ],
    });
    expect(template.toJSON().Resources[bucketId].Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'abort-incomplete-multipart-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, ExpiredObjectDeleteMarker: true },
      {
        Id: 'backup-lifecycle-0-postgres',
        Status: 'Enabled',
        Prefix: 'postgres/',
        Transitions: [
          { StorageClass: 'GLACIER', TransitionInDays: 120 },
          { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 365 },
        ],
        ExpirationInDays: 2555,
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      },
      { Id: 'backup-lifecycle-1-reports', Status: 'Enabled', Prefix: 'reports/', ExpirationInDays: 730, NoncurrentVersionExpiration: { NoncurrentDays: 30 } },
    ]);
  });

  it('keeps only the multipart rule when the lifecycle list is empty', () => {
    const { template, bucketId } = synth({ lifecycle: [] });
    expect(template.toJSON().Resources[bucketId].Properties.LifecycleConfiguration.Rules.map((r: { Id: string }) => r.Id)).toEqual([
      'abort-incomplete-multipart-uploads',
    ]);
  });
});

describe('BackupBucket grants', () => {
  function withRole() {
    const stack = singleStack();
    const backups = new BackupBucket(stack, 'Backups');
    const role = new iam.Role(stack, 'Worker', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    return { stack, backups, role, bucketId: bucketLogicalId(stack, backups), keyId: stack.resolve(stack.getLogicalId(backups.encryptionKey.node.defaultChild as kms.CfnKey)) as string };
  }

  it('grantWriteBackups allows uploads (incl. multipart) under the pattern and the KMS actions an SSE-KMS multipart upload needs', () => {
    const { stack, backups, role, bucketId, keyId } = withRole();
    const grant = backups.grantWriteBackups(role, 'postgres/*');
    expect(grant.success).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.resolve(stack.getLogicalId(role.node.defaultChild as iam.CfnRole)) }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/postgres/*']] },
          },
          {
            Effect: 'Allow',
            Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'],
            Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
          },
        ],
      },
    });
  });

  it('grantReadBackups allows reading objects and versions, listing, and decrypting — nothing else', () => {
    const { stack, backups, role, bucketId, keyId } = withRole();
    const grant = backups.grantReadBackups(role);
    expect(grant.success).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
          },
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] } },
          { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
        ],
      },
    });
  });
});
