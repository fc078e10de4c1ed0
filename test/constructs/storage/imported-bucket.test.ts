/**
 * BackupBucket.fromBucketAttributes: attributes checked at synth with messages that say what to change, grants in
 * the grantees' identity policies naming the imported ARNs, the replica of an imported bucket (PostgresBackup's
 * replica check, replication metrics), and SharedBackupResources publishing and reading what a second app needs.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AttributeStore, BackupSource, ConfigurationError, PostgresBackup, SharedBackupResources } from '../../../lib';
import { BackupBucket, type BackupBucketAttributes } from '../../../lib/storage';

const ACCOUNT = '111111111111';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const REPLICA_KEY = `arn:aws:kms:us-west-2:${ACCOUNT}:key/abcd1234-ab12-cd34-ef56-abcdef123456`;
const NAME = 'orders-backups-111111111111-us-east-1';
type Json = Record<string, unknown>;

function primaryStack(app = new App()): Stack {
  return new Stack(app, 'Ops', { env: { account: ACCOUNT, region: 'us-east-1' } });
}

function importIn(stack: Stack, attrs: Partial<BackupBucketAttributes>) {
  return BackupBucket.fromBucketAttributes(stack, 'Backups', { bucketName: NAME, encryptionKeyArn: KEY, ...attrs } as BackupBucketAttributes);
}

function statementsOfRole(template: Template, role: iam.Role): Json[] {
  const roleId = Stack.of(role).getLogicalId(role.node.defaultChild as iam.CfnRole);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Array<{ Properties: { Roles: unknown[]; PolicyDocument: { Statement: Json[] } } }>;
  return policies.filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }))).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('fromBucketAttributes: validation', () => {
  const refused = (attrs: Partial<BackupBucketAttributes>, stack = primaryStack()) => {
    try {
      importIn(stack, attrs);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    }
    throw new Error('the attributes were accepted');
  };

  it.each<[string, Partial<BackupBucketAttributes>, RegExp]>([
    ['neither name nor ARN', { bucketName: undefined }, /give bucketName or bucketArn/],
    ['a malformed name', { bucketName: 'Orders_Backups' }, /bucketName: "Orders_Backups" is not a bucket name \(an S3 bucket name is 3-63 lowercase/],
    ['an object ARN', { bucketName: undefined, bucketArn: `arn:aws:s3:::${NAME}/postgres/*` }, /bucketArn: .* names objects in a bucket, not the bucket/],
    ['an ARN with a region', { bucketName: undefined, bucketArn: `arn:aws:s3:us-east-1::${NAME}` }, /bucketArn: .* has a region or account/],
    ['a name and an ARN that disagree', { bucketArn: 'arn:aws:s3:::other-bucket' }, /bucketName "orders-backups-111111111111-us-east-1" and bucketArn "arn:aws:s3:::other-bucket" name different buckets/],
    ['a missing key', { encryptionKeyArn: undefined }, /encryptionKeyArn is missing: a backup bucket is encrypted with a customer-managed KMS key.*get-bucket-encryption/],
    ['a key id for the key', { encryptionKeyArn: '1234abcd-12ab-34cd-56ef-1234567890ab' }, /encryptionKeyArn: .* is a key id; pass the full ARN/],
    ['an alias ARN for the key', { encryptionKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/backups` }, /encryptionKeyArn: .* is an alias ARN; pass the key ARN/],
    ['a key of another region', { encryptionKeyArn: REPLICA_KEY }, /encryptionKeyArn is a key of us-west-2, the bucket is in us-east-1: S3 encrypts a bucket only with a key of the bucket's own region/],
    ['a malformed region', { region: 'us-east' }, /region "us-east" is not a region code/],
    [
      'a replica in the same region',
      { replica: { bucketName: 'orders-dr', region: 'us-east-1', encryptionKeyArn: KEY } },
      /replica.region is us-east-1, the bucket's own region: a replica there would not survive a regional outage. Pass the region the replica bucket is in/,
    ],
    ['a replica that is the bucket', { replica: { bucketName: NAME, region: 'us-west-2', encryptionKeyArn: REPLICA_KEY } }, /replica.bucketName is the bucket itself/],
    ['a replica without a key', { replica: { bucketName: 'orders-dr', region: 'us-west-2' } as never }, /replica.encryptionKeyArn is missing/],
    ['a replica key of another region', { replica: { bucketName: 'orders-dr', region: 'us-west-2', encryptionKeyArn: KEY } }, /replica.encryptionKeyArn is in us-east-1, the replica in us-west-2/],
    ['a malformed replica name', { replica: { bucketName: 'orders_dr', region: 'us-west-2', encryptionKeyArn: REPLICA_KEY } }, /replica.bucketName: "orders_dr" is not a bucket name/],
    ['Object Lock on an unversioned bucket', { versioned: false, objectLock: s3.ObjectLockRetention.governance(Duration.days(7)) }, /objectLock needs a versioned bucket/],
  ])('refuses %s, saying what to change', (_, attrs, message) => {
    const text = refused(attrs);
    expect(text).toMatch(/^BackupBucket.fromBucketAttributes Ops\/Backups: /);
    expect(text).toMatch(message);
  });

  it('takes a bucket ARN alone, a name alone, or both when they agree', () => {
    for (const attrs of [{ bucketName: undefined, bucketArn: `arn:aws:s3:::${NAME}` }, {}, { bucketArn: `arn:aws:s3:::${NAME}` }]) {
      const stack = primaryStack();
      const imported = importIn(stack, attrs);
      expect(stack.resolve(imported.bucket.bucketName)).toBe(NAME);
      expect(stack.resolve(imported.bucket.bucketArn)).toEqual(attrs.bucketArn ?? { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${NAME}`]] });
      expect(imported.encryptionKey.keyArn).toBe(KEY);
      expect(imported.env.region).toBe('us-east-1');
    }
  });

  it('accepts a replica key by alias ARN (what the source stack of replicateTo publishes)', () => {
    const stack = primaryStack();
    const alias = `arn:aws:kms:us-west-2:${ACCOUNT}:alias/cdk-backup-dr/DrReplicaA1B2C3D4`;
    const imported = importIn(stack, { replica: { bucketName: 'orders-dr', region: 'us-west-2', encryptionKeyArn: alias } });
    expect([imported.replicaBucketName, imported.replicaRegion, imported.replicationRuleId]).toEqual(['orders-dr', 'us-west-2', 'replicate-to-us-west-2']);
  });

  it('takes deploy-time values (SSM parameters) as they are, checking only the literal ones', () => {
    const stack = primaryStack();
    const imported = SharedBackupResources.importBucket(stack, 'Backups', AttributeStore.ssmParameters('/orders/backups'), { replica: true });
    expect(imported.replicaBucketName).toBeDefined();
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    imported.grantReadBackups(role, 'postgres/*');
    const template = Template.fromStack(stack);
    const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const keyParameter = Object.entries(parameters).find(([, p]) => p.Default === '/orders/backups/encryption-key-arn')![0];
    expect(statementsOfRole(template, role)).toEqual(expect.arrayContaining([expect.objectContaining({ Action: 'kms:Decrypt', Resource: { Ref: keyParameter } })]));
    expect(Object.values(parameters).filter((p) => p.Type === 'AWS::SSM::Parameter::Value<String>' && p.Default.startsWith('/orders/')).map((p) => p.Default).sort()).toEqual([
      '/orders/backups/bucket-name',
      '/orders/backups/encryption-key-arn',
      '/orders/backups/replica/bucket-name',
      '/orders/backups/replica/encryption-key-arn',
      '/orders/backups/replica/region',
      '/orders/backups/replica/rule-id',
    ]);
  });

  it('warns, naming what the owner must add to the key policy, when the key is in another account', () => {
    const stack = primaryStack();
    const imported = importIn(stack, { encryptionKeyArn: KEY.replace(ACCOUNT, '222222222222') });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    imported.grantReadBackups(role, 'postgres/*');
    Annotations.fromStack(stack).hasWarning(
      '/Ops/Backups',
      Match.stringLikeRegexp(
        `the imported bucket and key are in account 222222222222, Ops/Reader in 111111111111: the grant is in its role's policy only. ` +
          `The owner of the bucket must add to the key policy a statement allowing arn:aws:iam::111111111111:root \\(or the role\\) kms:Decrypt on arn:aws:kms:us-east-1:222222222222:key/`,
      ),
    );
    Annotations.fromStack(stack).hasWarning('/Ops/Backups', Match.stringLikeRegexp('must add to the bucket policy a statement .* s3:GetObject, s3:GetObjectVersion on arn:<AWS::Partition>:s3:::orders-backups-111111111111-us-east-1/postgres/\\*\\.'));
  });

  it('does not warn in the same account, where the role policy is enough for a key that delegates to IAM', () => {
    const stack = primaryStack();
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    importIn(stack, {}).grantReadBackups(role, 'postgres/*');
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('fromBucketAttributes: grants name the imported ARNs', () => {
  const stack = primaryStack();
  const imported = importIn(stack, {});
  const role = new iam.Role(stack, 'Worker', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  imported.grantReadBackups(role, 'postgres/orders/*');
  imported.grantWriteBackups(role, 'reports/*');
  const template = Template.fromStack(stack);
  const objects = (pattern: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${NAME}/${pattern}`]] });

  it('reads: objects under the prefix, the bucket listing, and kms:Decrypt on the imported key', () => {
    expect(statementsOfRole(template, role)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objects('postgres/orders/*') }),
        expect.objectContaining({ Action: 's3:ListBucket', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${NAME}`]] } }),
        expect.objectContaining({ Action: 'kms:Decrypt', Resource: KEY }),
      ]),
    );
  });

  it('writes: uploads under the prefix and the data keys of the imported key', () => {
    expect(statementsOfRole(template, role)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: objects('reports/*') }),
        expect.objectContaining({ Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], Resource: KEY }),
      ]),
    );
  });

  it('creates no bucket, bucket policy or key: those stay with the app that owns the bucket', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::S3::BucketPolicy', 'AWS::KMS::Key']) template.resourceCountIs(type, 0);
  });
});

describe('the replica of an imported bucket', () => {
  const stack = primaryStack();
  const imported = importIn(stack, { replica: { bucketName: 'orders-dr', region: 'us-west-2', encryptionKeyArn: REPLICA_KEY } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const backup = new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromEndpoint({ host: 'db.internal', secret: new secretsmanager.Secret(stack, 'DbSecret'), name: 'orders-db' }),
    databases: ['orders'],
    vpc,
    bucket: imported,
    postgresVersion: 15,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:1`),
  });
  const template = Template.fromStack(stack);

  it("lets PostgresBackup's verify check the DR copy, decrypting with the replica's key ARN (no alias condition)", () => {
    const fn = template.toJSON().Resources[stack.getLogicalId(backup.verifyFunction!.node.defaultChild as lambda.CfnFunction)] as { Properties: { Environment: { Variables: Json } } };
    expect(fn.Properties.Environment.Variables).toMatchObject({ BUCKET_NAME: NAME, BUCKET_KMS_KEY_ARN: KEY, REPLICA_BUCKET_NAME: 'orders-dr', REPLICA_REGION: 'us-west-2' });
    const statements = statementsOfRole(template, backup.verifyFunction!.role as iam.Role);
    expect(statements.find((s) => s.Sid === 'DecryptReplicaCopies')).toEqual({ Sid: 'DecryptReplicaCopies', Effect: 'Allow', Action: 'kms:Decrypt', Resource: REPLICA_KEY });
  });

  it('gives the replication metrics with the imported rule id', () => {
    const metric = imported.metricOperationsFailedReplication();
    expect(stack.resolve(metric.dimensions)).toEqual({ SourceBucket: NAME, DestinationBucket: 'orders-dr', RuleId: 'replicate-to-us-west-2' });
  });

  it('refuses replication metrics for a bucket imported without its replica, saying how to give it', () => {
    expect(() => importIn(primaryStack(), {}).metricReplicationLatency()).toThrow(/pass replica to fromBucketAttributes/);
  });
});

describe('SharedBackupResources', () => {
  function owner() {
    const app = new App();
    const dr = new Stack(app, 'Dr', { env: { account: ACCOUNT, region: 'us-west-2' } });
    const primary = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const replica = new BackupBucket(dr, 'Replica');
    const backups = new BackupBucket(primary, 'Backups');
    return { app, dr, primary, replica, backups };
  }

  it.each(['before', 'after'] as const)('publishes the bucket, its key and (replicateTo %s) its replica as SSM parameters', (order) => {
    const { primary, replica, backups } = owner();
    if (order === 'before') backups.replicateTo(replica);
    new SharedBackupResources(primary, 'Shared', { bucket: backups, store: AttributeStore.ssmParameters('/orders/backups') });
    if (order === 'after') backups.replicateTo(replica);
    const template = Template.fromStack(primary);
    const parameter = (name: string) => {
      const found = Object.values(template.findResources('AWS::SSM::Parameter', { Properties: { Name: name } })) as Array<{ Properties: { Value: unknown; Type: string } }>;
      expect(found).toHaveLength(1);
      expect(found[0].Properties.Type).toBe('String');
      return found[0].Properties.Value;
    };
    expect(parameter('/orders/backups/bucket-name')).toEqual(primary.resolve(backups.bucket.bucketName));
    expect(parameter('/orders/backups/bucket-arn')).toEqual(primary.resolve(backups.bucket.bucketArn));
    expect(parameter('/orders/backups/bucket-region')).toBe('us-east-1');
    expect(parameter('/orders/backups/encryption-key-arn')).toEqual(primary.resolve(backups.encryptionKey.keyArn));
    expect(parameter('/orders/backups/replica/bucket-name')).toBe(backups.replicaBucketName);
    expect(parameter('/orders/backups/replica/region')).toBe('us-west-2');
    expect(parameter('/orders/backups/replica/encryption-key-arn')).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:kms:us-west-2:${ACCOUNT}:${replica.encryptionKeyAliasName}`]],
    });
    expect(parameter('/orders/backups/replica/rule-id')).toBe('replicate-to-us-west-2');
  });

  it('publishes stack outputs with export names that a stack of another app reads with Fn::ImportValue', () => {
    const { dr, replica } = owner();
    const store = AttributeStore.stackOutputs({ exportPrefix: 'orders-dr-backups' });
    new SharedBackupResources(dr, 'Shared', { bucket: replica, store });
    const outputs = Template.fromStack(dr).toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
    const byExport = Object.fromEntries(Object.values(outputs).map((o) => [o.Export?.Name, o.Value]));
    expect(byExport['orders-dr-backups-BucketName']).toEqual(dr.resolve(replica.bucket.bucketName));
    expect(byExport['orders-dr-backups-EncryptionKeyArn']).toEqual(dr.resolve(replica.encryptionKey.keyArn));
    expect(byExport['orders-dr-backups-BucketRegion']).toBe('us-west-2');
    expect(byExport['orders-dr-backups-ReplicaBucketName']).toBeUndefined();

    const other = new Stack(new App(), 'FailoverApp', { env: { account: ACCOUNT, region: 'us-west-2' } });
    const imported = SharedBackupResources.importBucket(other, 'Backups', store);
    expect(other.resolve(imported.bucket.bucketName)).toEqual({ 'Fn::ImportValue': 'orders-dr-backups-BucketName' });
    expect(other.resolve(imported.encryptionKey.keyArn)).toEqual({ 'Fn::ImportValue': 'orders-dr-backups-EncryptionKeyArn' });
  });

  it('publishes plain outputs without exports, which another stack cannot read back', () => {
    const { primary, backups } = owner();
    new SharedBackupResources(primary, 'Shared', { bucket: backups, store: AttributeStore.stackOutputs() });
    const outputs = Object.values(Template.fromStack(primary).toJSON().Outputs as Record<string, { Export?: unknown; Description: string }>);
    expect(outputs.map((o) => o.Description)).toEqual(expect.arrayContaining(['Name of the backup bucket', 'ARN of the KMS key that encrypts the backup bucket']));
    expect(outputs.every((o) => o.Export === undefined)).toBe(true);
    expect(() => SharedBackupResources.importBucket(primaryStack(), 'Backups', AttributeStore.stackOutputs())).toThrow(
      /stack outputs without export names cannot be read by another stack: copy their values into BackupBucket.fromBucketAttributes/,
    );
  });

  it('is created in the bucket\'s own stack', () => {
    const { dr, backups } = owner();
    expect(() => new SharedBackupResources(dr, 'Shared', { bucket: backups, store: AttributeStore.ssmParameters('/orders/backups') })).toThrow(
      /the bucket Primary\/Backups is in another stack: create SharedBackupResources in the bucket's own stack \(Primary\)/,
    );
  });

  it.each<[() => AttributeStore, RegExp]>([
    [() => AttributeStore.ssmParameters('orders/backups'), /"orders\/backups" is not a parameter path: start with "\/"/],
    [() => AttributeStore.ssmParameters('/orders/backups/'), /no trailing "\/"/],
    [() => AttributeStore.ssmParameters('/aws/orders'), /begins with a prefix SSM reserves/],
    [() => AttributeStore.stackOutputs({ exportPrefix: 'orders backups' }), /exportPrefix "orders backups" cannot begin an export name/],
  ])('refuses a store that could not be written: %#', (make, message) => {
    expect(make).toThrow(message);
  });
});
