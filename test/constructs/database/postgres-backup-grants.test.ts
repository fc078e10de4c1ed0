/**
 * What PostgresBackup's dump and verify roles may do in S3 beyond the bucket's own grants: the HEAD of the uploaded
 * version and the cleanup of open uploads (dump), and the replica check (verify) whether `replicateTo` was called
 * before or after the construct.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { BackupSource, PostgresBackup } from '../../../lib';
import { BackupBucket, type BackupBucketProps } from '../../../lib/storage';

const ACCOUNT = '111111111111';

type Statement = Record<string, unknown>;

function backupIn(stack: Stack, bucket: BackupBucket): PostgresBackup {
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = new secretsmanager.Secret(stack, 'DbSecret');
  return new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromEndpoint({ host: 'db.internal', secret, name: 'orders-db' }),
    databases: ['orders'],
    vpc,
    bucket,
    postgresVersion: 15,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:1`),
  });
}

/** Every statement of the policies attached to the function's role. */
function roleStatements(stack: Stack, fn: lambda.Function): Statement[] {
  const roleId = stack.getLogicalId(fn.role!.node.defaultChild as iam.CfnRole);
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as Array<{
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }>;
  return policies
    .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function environmentOf(stack: Stack, fn: lambda.Function): Record<string, unknown> {
  const id = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  const resource = Template.fromStack(stack).toJSON().Resources[id] as { Properties: { Environment?: { Variables?: Record<string, unknown> } } };
  return resource.Properties.Environment?.Variables ?? {};
}

function bucketArn(stack: Stack, bucket: BackupBucket): unknown {
  return stack.resolve(bucket.bucket.bucketArn);
}

describe('the dump role', () => {
  function dumpStatements(bucketProps?: BackupBucketProps): { statements: Statement[]; arn: unknown } {
    const stack = new Stack(new App(), 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const bucket = new BackupBucket(stack, 'Backups', bucketProps);
    const backup = backupIn(stack, bucket);
    return { statements: roleStatements(stack, backup.dumpFunction!), arn: bucketArn(stack, bucket) };
  }

  it('may HEAD the version it uploaded (s3:GetObjectVersion) under its own prefix, and list open uploads of the bucket', () => {
    const { statements, arn } = dumpStatements();
    expect(statements).toEqual(
      expect.arrayContaining([
        {
          Sid: 'CheckUploadedDumps',
          Effect: 'Allow',
          Action: 's3:GetObjectVersion',
          Resource: { 'Fn::Join': ['', [arn, '/postgres/orders-db/*']] },
        },
        { Sid: 'FindOpenUploadsOfFailedDumps', Effect: 'Allow', Action: 's3:ListBucketMultipartUploads', Resource: arn },
      ]),
    );
  });

  it('on an unversioned bucket, where the HEAD has no version id, may s3:GetObject instead', () => {
    const { statements, arn } = dumpStatements({ versioned: false });
    const check = statements.find((s) => s.Sid === 'CheckUploadedDumps');
    expect(check).toEqual({
      Sid: 'CheckUploadedDumps',
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', [arn, '/postgres/orders-db/*']] },
    });
  });
  it('with Object Lock on the bucket, may read the retention of its own dumps (to say until when a failed one stays), and nothing without it', () => {
    const { statements, arn } = dumpStatements({ objectLock: s3.ObjectLockRetention.governance(Duration.days(35)) });
    expect(statements).toContainEqual({
      Sid: 'ReadLockOfFailedDumps',
      Effect: 'Allow',
      Action: 's3:GetObjectRetention',
      Resource: { 'Fn::Join': ['', [arn, '/postgres/orders-db/*']] },
    });
    expect(JSON.stringify(statements)).not.toContain('BypassGovernanceRetention');
    expect(dumpStatements().statements.find((s) => s.Sid === 'ReadLockOfFailedDumps')).toBeUndefined();
  });
});

describe('the verify function and the replica', () => {
  function replicated(order: 'replicateTo first' | 'replicateTo after'): {
    stack: Stack;
    backup: PostgresBackup;
    primary: BackupBucket;
    replica: BackupBucket;
  } {
    const app = new App();
    const drStack = new Stack(app, 'Dr', { env: { account: ACCOUNT, region: 'us-west-2' } });
    const stack = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const replica = new BackupBucket(drStack, 'Replica');
    const primary = new BackupBucket(stack, 'Backups');
    if (order === 'replicateTo first') primary.replicateTo(replica);
    const backup = backupIn(stack, primary);
    if (order === 'replicateTo after') primary.replicateTo(replica);
    return { stack, backup, primary, replica };
  }

  it.each(['replicateTo first', 'replicateTo after'] as const)(
    '%s: gets the replica bucket and region, and may read, list and decrypt the replica copies',
    (order) => {
      const { stack, backup, primary, replica } = replicated(order);
      const replicaName = primary.replicaBucketName;
      expect(replicaName).toMatch(/^[a-z0-9-]+$/);
      expect(environmentOf(stack, backup.verifyFunction!)).toMatchObject({ REPLICA_BUCKET_NAME: replicaName, REPLICA_REGION: 'us-west-2' });
      const statements = roleStatements(stack, backup.verifyFunction!);
      expect(statements).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Sid: 'ReadReplicaCopies',
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${replicaName}/postgres/orders-db/*`]] },
          }),
          expect.objectContaining({
            Sid: 'TellMissingReplicaCopies',
            Action: 's3:ListBucket',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${replicaName}`]] },
          }),
          expect.objectContaining({
            Sid: 'DecryptReplicaCopies',
            Action: 'kms:Decrypt',
            Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': replica.encryptionKeyAliasName } },
          }),
        ]),
      );
    },
  );

  it('without replication: no replica environment and no replica grants', () => {
    const stack = new Stack(new App(), 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const backup = backupIn(stack, new BackupBucket(stack, 'Backups'));
    expect(Object.keys(environmentOf(stack, backup.verifyFunction!))).not.toContain('REPLICA_BUCKET_NAME');
    expect(roleStatements(stack, backup.verifyFunction!).filter((s) => String(s.Sid).includes('Replica'))).toEqual([]);
  });
});
