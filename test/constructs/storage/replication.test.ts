import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BackupLifecycle } from '../../../lib/storage';
import { ACCOUNT, bucketLogicalId, replicatedPair, resourceOf } from './fixtures';

const keyLogicalId = (stack: Stack, key: kms.IKey) => stack.resolve(stack.getLogicalId(key.node.defaultChild as kms.CfnKey)) as string;
const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });
const viaS3 = (region: string) => ({ 'Fn::Join': ['', [`s3.${region}.`, { Ref: 'AWS::URLSuffix' }]] });

describe('BackupBucket.replicateTo with defaults', () => {
  const { app, primaryStack, drStack, primary, replica } = replicatedPair();
  const primaryTemplate = Template.fromStack(primaryStack);
  const drTemplate = Template.fromStack(drStack);
  const bucketId = bucketLogicalId(primaryStack, primary);
  const sourceKeyId = keyLogicalId(primaryStack, primary.encryptionKey);
  const replicaBucketId = bucketLogicalId(drStack, replica);
  const replicaName = drTemplate.toJSON().Resources[replicaBucketId].Properties.BucketName as string;
  const replicaArn = partitionArn(`:s3:::${replicaName}`);
  const replication = () => primaryTemplate.toJSON().Resources[bucketId].Properties.ReplicationConfiguration;
  const policyDocument = () => resourceOf(primaryTemplate, 'AWS::IAM::ManagedPolicy', 'BackupsReplicationPolicy').properties.PolicyDocument as { Statement: Array<Record<string, unknown>> };

  it('synthesizes both stacks without template-validation findings (no dependency cycle)', () => {
    expect(() => app.synth()).not.toThrow();
  });

  it('gives the replica a deterministic literal name built from its path, account and region', () => {
    expect(replicaName).toMatch(/^drreplica[0-9a-f]{8}-111111111111-us-west-2$/);
    expect(replicaName.length).toBeLessThanOrEqual(63);
  });

  it('replicates the whole bucket to the replica, re-encrypting with the replica key through its alias', () => {
    expect(replication()).toEqual({
      Role: { 'Fn::GetAtt': [resourceOf(primaryTemplate, 'AWS::IAM::Role', 'BackupsReplicationRole').logicalId, 'Arn'] },
      Rules: [
        {
          Id: 'replicate-to-us-west-2',
          Priority: 0,
          Status: 'Enabled',
          Filter: { Prefix: '' },
          DeleteMarkerReplication: { Status: 'Disabled' },
          SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
          Destination: {
            Bucket: replicaArn,
            EncryptionConfiguration: { ReplicaKmsKeyID: partitionArn(`:kms:us-west-2:${ACCOUNT}:${replica.encryptionKeyAliasName}`) },
            ReplicationTime: { Status: 'Enabled', Time: { Minutes: 15 } },
            Metrics: { Status: 'Enabled', EventThreshold: { Minutes: 15 } },
          },
        },
      ],
    });
  });

  it('does not replicate delete markers', () => {
    expect(replication().Rules[0].DeleteMarkerReplication).toEqual({ Status: 'Disabled' });
    expect(JSON.stringify(policyDocument())).not.toContain('s3:ReplicateDelete');
  });

  it('keeps the storage class of the source object', () => {
    expect(replication().Rules[0].Destination.StorageClass).toBeUndefined();
  });

  it('addresses the replica key alias that the DR stack creates', () => {
    drTemplate.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: replica.encryptionKeyAliasName,
      TargetKeyId: { 'Fn::GetAtt': [keyLogicalId(drStack, replica.encryptionKey), 'Arn'] },
    });
  });

  it('lets only S3, on behalf of this account, assume the replication role', () => {
    primaryTemplate.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: { Service: 's3.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
          },
        ],
      },
    });
  });

  it('grants the replication role exactly what replication needs, on named resources', () => {
    const sourceArn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
    const sourceObjects = { 'Fn::Join': ['', [sourceArn, '/*']] };
    expect(policyDocument().Statement).toEqual([
      {
        Sid: 'ReadSourceReplicationConfiguration',
        Effect: 'Allow',
        Action: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
        Resource: sourceArn,
      },
      {
        Sid: 'ReadSourceObjectVersions',
        Effect: 'Allow',
        Action: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
        Resource: sourceObjects,
      },
      {
        Sid: 'ReplicateIntoDestination',
        Effect: 'Allow',
        Action: ['s3:ReplicateObject', 's3:ReplicateTags'],
        Resource: partitionArn(`:s3:::${replicaName}/*`),
      },
      {
        Sid: 'DecryptSourceObjects',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [sourceKeyId, 'Arn'] },
        Condition: {
          StringEquals: { 'kms:ViaService': viaS3('us-east-1') },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [sourceArn, sourceObjects] },
        },
      },
      {
        Sid: 'EncryptReplicasWithReplicaKey',
        Effect: 'Allow',
        Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: partitionArn(`:kms:us-west-2:${ACCOUNT}:key/*`),
        Condition: {
          'StringEquals': { 'kms:ViaService': viaS3('us-west-2') },
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': replica.encryptionKeyAliasName },
          'StringLike': { 'kms:EncryptionContext:aws:s3:arn': [replicaArn, partitionArn(`:s3:::${replicaName}/*`)] },
        },
      },
    ]);
  });

  it('attaches the replication policy to the replication role as a customer-managed policy', () => {
    const roleId = resourceOf(primaryTemplate, 'AWS::IAM::Role', 'BackupsReplicationRole').logicalId;
    primaryTemplate.hasResourceProperties('AWS::IAM::ManagedPolicy', { Roles: [{ Ref: roleId }] });
    primaryTemplate.resourceCountIs('AWS::IAM::Policy', 0);
  });

  it('makes the primary stack depend on the DR stack so the replica exists first', () => {
    expect(primaryStack.dependencies).toContain(drStack);
    expect(drStack.dependencies).not.toContain(primaryStack);
  });

  it('links the pair both ways', () => {
    expect(primary.replica).toBe(replica);
    expect(replica.replicationSource).toBe(primary);
    expect(primary.replicationRuleId).toBe('replicate-to-us-west-2');
    expect(primary.replicationRole).toBeDefined();
    expect(primary.replicaRegion).toBe('us-west-2');
  });

  it('exposes the replica name in a form the primary stack can use without a cross-region reference', () => {
    const name = primary.replicaBucketName;
    expect(name).toBe(replicaName);
    expect(primaryStack.resolve(name)).toBe(replicaName);
  });

  it('exposes the AWS/S3 replication metrics with the source, destination and rule dimensions', () => {
    const dims = {
      SourceBucket: { Ref: bucketId },
      DestinationBucket: replicaName,
      RuleId: 'replicate-to-us-west-2',
    };
    const cases: Array<[cloudwatch.Metric, string, string]> = [
      [primary.metricReplicationLatency(), 'ReplicationLatency', 'Maximum'],
      [primary.metricOperationsFailedReplication(), 'OperationsFailedReplication', 'Sum'],
      [primary.metricBytesPendingReplication(), 'BytesPendingReplication', 'Maximum'],
      [primary.metricOperationsPendingReplication(), 'OperationsPendingReplication', 'Maximum'],
    ];
    for (const [metric, name, statistic] of cases) {
      expect(metric.namespace).toBe('AWS/S3');
      expect(metric.metricName).toBe(name);
      expect(metric.statistic).toBe(statistic);
      expect(metric.period.toMinutes()).toBe(5);
      expect(primaryStack.resolve(metric.dimensions)).toEqual(dims);
    }
  });

  it('lets metric options override the defaults', () => {
    const metric = primary.metricReplicationLatency({ period: Duration.minutes(1), statistic: 'p99' });
    expect(metric.period.toMinutes()).toBe(1);
    expect(metric.statistic).toBe('p99');
  });
});

describe('BackupBucket.replicateTo options', () => {
  it('sets the replica storage class', () => {
    const { primaryStack, primary } = replicatedPair({ replication: { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL } });
    const props = Template.fromStack(primaryStack).toJSON().Resources[bucketLogicalId(primaryStack, primary)].Properties;
    expect(props.ReplicationConfiguration.Rules[0].Destination.StorageClass).toBe('GLACIER_IR');
  });

  it('replicates delete markers only when asked, and only then grants s3:ReplicateDelete', () => {
    const { primaryStack, primary } = replicatedPair({ replication: { replicateDeleteMarkers: true } });
    const template = Template.fromStack(primaryStack);
    expect(template.toJSON().Resources[bucketLogicalId(primaryStack, primary)].Properties.ReplicationConfiguration.Rules[0].DeleteMarkerReplication).toEqual({
      Status: 'Enabled',
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'ReplicateIntoDestination', Action: ['s3:ReplicateObject', 's3:ReplicateTags', 's3:ReplicateDelete'] }),
        ]),
      },
    });
  });

  it('keeps replication metrics without Replication Time Control', () => {
    const { primaryStack, primary } = replicatedPair({ replication: { replicationTimeControl: false } });
    const destination = Template.fromStack(primaryStack).toJSON().Resources[bucketLogicalId(primaryStack, primary)].Properties.ReplicationConfiguration
      .Rules[0].Destination;
    expect(destination.ReplicationTime).toBeUndefined();
    expect(destination.Metrics).toEqual({ Status: 'Enabled' });
    expect(primary.metricBytesPendingReplication().metricName).toBe('BytesPendingReplication');
  });

  it('scopes the rule and the role to a prefix', () => {
    const { primaryStack, primary } = replicatedPair({ replication: { prefix: 'postgres/' } });
    const template = Template.fromStack(primaryStack);
    const bucketId = bucketLogicalId(primaryStack, primary);
    expect(template.toJSON().Resources[bucketId].Properties.ReplicationConfiguration.Rules[0].Filter).toEqual({ Prefix: 'postgres/' });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ReadSourceObjectVersions',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/postgres/*']] },
          }),
        ]),
      },
    });
  });

  it('lets the role read Object Lock retention and legal holds when both buckets are locked', () => {
    const lock = s3.ObjectLockRetention.governance(Duration.days(30));
    const { primaryStack } = replicatedPair({ primaryProps: { objectLock: lock }, replicaProps: { objectLock: lock } });
    Template.fromStack(primaryStack).hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ReadSourceObjectVersions',
            Action: [
              's3:GetObjectVersionForReplication',
              's3:GetObjectVersionAcl',
              's3:GetObjectVersionTagging',
              's3:GetObjectRetention',
              's3:GetObjectLegalHold',
            ],
          }),
        ]),
      },
    });
  });

  it('uses the replica bucketName when it has one', () => {
    const { primaryStack, drStack, primary, replica } = replicatedPair({ replicaProps: { bucketName: 'acme-backups-dr' } });
    expect(Template.fromStack(drStack).toJSON().Resources[bucketLogicalId(drStack, replica)].Properties.BucketName).toBe('acme-backups-dr');
    expect(
      Template.fromStack(primaryStack).toJSON().Resources[bucketLogicalId(primaryStack, primary)].Properties.ReplicationConfiguration.Rules[0].Destination
        .Bucket,
    ).toEqual(partitionArn(':s3:::acme-backups-dr'));
  });

  it('works for stacks without an explicit account: both sides name the replica with the deploying account', () => {
    const { app, primaryStack, drStack, primary, replica } = replicatedPair({ account: null });
    expect(() => app.synth()).not.toThrow();
    const replicaName = Template.fromStack(drStack).toJSON().Resources[bucketLogicalId(drStack, replica)].Properties.BucketName;
    expect(replicaName).toEqual({ 'Fn::Join': ['', [expect.stringMatching(/^drreplica[0-9a-f]{8}-$/), { Ref: 'AWS::AccountId' }, '-us-west-2']] });
    const destination = Template.fromStack(primaryStack).toJSON().Resources[bucketLogicalId(primaryStack, primary)].Properties.ReplicationConfiguration
      .Rules[0].Destination.Bucket;
    expect(destination).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${replicaName['Fn::Join'][1][0]}`, { Ref: 'AWS::AccountId' }, '-us-west-2']],
    });
  });
});

describe('BackupBucket grants across regions', () => {
  it('lets a primary-region role read the replica, addressing its key by alias', () => {
    const { primaryStack, replica } = replicatedPair();
    const verifier = new iam.Role(primaryStack, 'Verifier', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(replica.grantReadBackups(verifier, 'postgres/*').success).toBe(true);
    const replicaName = Template.fromStack(Stack.of(replica)).toJSON().Resources[bucketLogicalId(Stack.of(replica), replica)].Properties.BucketName;
    Template.fromStack(primaryStack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: partitionArn(`:s3:::${replicaName}/postgres/*`) },
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: partitionArn(`:s3:::${replicaName}`) },
          {
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: partitionArn(`:kms:us-west-2:${ACCOUNT}:key/*`),
            Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': replica.encryptionKeyAliasName } },
          },
        ],
      },
    });
  });
});

describe('the documented BackupBucket example', () => {
  it('synthesizes, and an alarm built from a replication metric carries its dimensions', () => {
    const lock = s3.ObjectLockRetention.governance(Duration.days(35));
    const { app, primaryStack, primary } = replicatedPair({
      replicaProps: { lifecycle: [BackupLifecycle.archive({ glacierInstantRetrievalAfter: false })], objectLock: lock },
      primaryProps: {
        lifecycle: [BackupLifecycle.archive({ prefix: 'postgres/' }), BackupLifecycle.keepInStandard({ prefix: 'reports/', expireAfter: Duration.days(730) })],
        objectLock: lock,
      },
      replication: { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL },
    });
    const dumpRole = new iam.Role(primaryStack, 'Dump', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    primary.grantWriteBackups(dumpRole, 'postgres/*');
    new cloudwatch.Alarm(primaryStack, 'ReplicationFailures', { metric: primary.metricOperationsFailedReplication(), threshold: 1, evaluationPeriods: 1 });
    expect(() => app.synth()).not.toThrow();
    Template.fromStack(primaryStack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/S3',
      MetricName: 'OperationsFailedReplication',
      Statistic: 'Sum',
      Dimensions: Match.arrayWith([
        { Name: 'RuleId', Value: 'replicate-to-us-west-2' },
        { Name: 'SourceBucket', Value: { Ref: bucketLogicalId(primaryStack, primary) } },
      ]),
    });
  });
});
