/**
 * A second CDK app that owns no bucket: it imports the backup bucket (primary region) and its replica (DR region)
 * that another app created, by the attributes that app publishes, and synthesizes a RecoveryTest and a Failover
 * against them. The grants name the imported ARNs, nothing of the bucket is created or changed, and the whole app is
 * clean under cdk-nag.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import { AttributeStore, Failover, FailoverSource, FailoverStrategy, OperationsTopic, RecoveryTest, SharedBackupResources } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { statementsOf } from '../../support/template-inspection';
import { logicalIdOf } from '../../support/workflow-harness';
import { threeTierVpc } from '../../support/vpc';

const ACCOUNT = '111111111111';
const BUCKET = 'orders-backups-111111111111-us-east-1';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const REPLICA = 'drreplica-111111111111-us-west-2';
const REPLICA_KEY = `arn:aws:kms:us-west-2:${ACCOUNT}:key/abcd1234-ab12-cd34-ef56-abcdef123456`;
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:orders-operations`;
const TOPIC_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/aaaa1111-bb22-cc33-dd44-eeeeee555555`;
const DR_TOPIC = `arn:aws:sns:us-west-2:${ACCOUNT}:orders-operations`;
const DR_TOPIC_KEY = `arn:aws:kms:us-west-2:${ACCOUNT}:key/ffff6666-aa77-bb88-cc99-dddddd000000`;
type Json = Record<string, unknown>;

const small = ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO);
const s3Arn = (resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${resource}`]] });

/** The second app: with `constructs` false, the same stacks without RecoveryTest and Failover (the cdk-nag baseline). */
function secondApp(constructs: boolean) {
  const app = new App();
  const ops = new Stack(app, 'Ops', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const drOps = new Stack(app, 'DrOps', { env: { account: ACCOUNT, region: 'us-west-2' } });
  const vpc = threeTierVpc(ops);
  const drVpc = threeTierVpc(drOps);
  const layer = lambda.LayerVersion.fromLayerVersionArn(ops, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:3`);
  const drLayer = lambda.LayerVersion.fromLayerVersionArn(drOps, 'PgTools', `arn:aws:lambda:us-west-2:${ACCOUNT}:layer:pg-tools:3`);
  // The values another app copied from the owner's outputs (or its own context).
  const backups = BackupBucket.fromBucketAttributes(ops, 'Backups', {
    bucketName: BUCKET,
    encryptionKeyArn: KEY,
    replica: { bucketName: REPLICA, region: 'us-west-2', encryptionKeyArn: REPLICA_KEY },
  });
  const replica = BackupBucket.fromBucketAttributes(drOps, 'ReplicaBackups', { bucketArn: `arn:aws:s3:::${REPLICA}`, encryptionKeyArn: REPLICA_KEY });
  if (!constructs) return { app, ops, drOps };
  // The operations topics of each region, owned by the other app too.
  const topic = OperationsTopic.fromTopicAttributes(ops, 'Operations', { topicArn: TOPIC, encryptionKeyArn: TOPIC_KEY });
  const drTopic = OperationsTopic.fromTopicAttributes(drOps, 'Operations', { topicArn: DR_TOPIC, encryptionKeyArn: DR_TOPIC_KEY });
  const recoveryTest = new RecoveryTest(ops, 'RecoveryTest', { bucket: backups, sourceName: 'orders-db', vpc, pgToolsLayer: layer, postgresVersion: 16, notificationTopic: topic });
  const failover = new Failover(drOps, 'Failover', {
    notificationTopic: drTopic,
    source: FailoverSource.instance('orders-db'),
    primaryRegion: 'us-east-1',
    database: 'orders',
    strategies: [
      FailoverStrategy.restoreSnapshot({ instanceType: small }),
      FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, pgToolsLayer: drLayer }),
    ],
    rpo: Duration.hours(24),
    bucket: replica,
    vpc: drVpc,
  });
  return { app, ops, drOps, recoveryTest, failover };
}

const full = secondApp(true);
const recoveryTest = full.recoveryTest!;
const failover = full.failover!;
const ops = Template.fromStack(full.ops);
const drOps = Template.fromStack(full.drOps);

function envOf(template: Template, fn: lambda.IFunction): Json {
  return (template.toJSON().Resources[logicalIdOf(fn)] as { Properties: { Environment: { Variables: Json } } }).Properties.Environment.Variables;
}

describe('RecoveryTest against an imported bucket', () => {
  it('reads the dumps of its source from the imported bucket, decrypting with the imported key', () => {
    for (const fn of [recoveryTest.pickFunction, recoveryTest.restoreFunction!, recoveryTest.verifyFunction]) {
      expect(statementsOf(ops, fn)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: s3Arn(`${BUCKET}/postgres/orders-db/*`) }),
          expect.objectContaining({ Action: 'kms:Decrypt', Resource: KEY }),
        ]),
      );
    }
  });

  it('writes its reports into the imported bucket with the imported key, and passes both to the report handler', () => {
    expect(statementsOf(ops, recoveryTest.reportFunction)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: s3Arn(`${BUCKET}/reports/recovery-test/*`) }),
        expect.objectContaining({ Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], Resource: KEY }),
      ]),
    );
    expect(envOf(ops, recoveryTest.reportFunction)).toMatchObject({ BUCKET_NAME: BUCKET, BUCKET_KMS_KEY_ARN: KEY });
    expect(envOf(ops, recoveryTest.pickFunction)).toMatchObject({ BUCKET_NAME: BUCKET });
  });
});

describe('Failover against an imported replica bucket', () => {
  it('reads the replicated dumps from the imported DR bucket with its key, and reports there', () => {
    for (const fn of [failover.preflightFunction, failover.restoreFunction!, failover.dumpVerifyFunction!]) {
      expect(statementsOf(drOps, fn)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `arn:aws:s3:::${REPLICA}/postgres/orders-db/*` }),
          expect.objectContaining({ Action: 'kms:Decrypt', Resource: REPLICA_KEY }),
        ]),
      );
    }
    expect(statementsOf(drOps, failover.reportFunction)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: `arn:aws:s3:::${REPLICA}/reports/failover/*` }),
        expect.objectContaining({ Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], Resource: REPLICA_KEY }),
      ]),
    );
    expect(envOf(drOps, failover.reportFunction)).toMatchObject({ BUCKET_NAME: REPLICA, BUCKET_KMS_KEY_ARN: REPLICA_KEY });
  });

  it('refuses the primary bucket imported into the DR stack, by the region the import names', () => {
    const app = new App();
    const dr = new Stack(app, 'DrOps', { env: { account: ACCOUNT, region: 'us-west-2' } });
    const primaryBucket = BackupBucket.fromBucketAttributes(dr, 'Backups', { bucketName: BUCKET, encryptionKeyArn: KEY, region: 'us-east-1' });
    expect(
      () =>
        new Failover(dr, 'Failover', {
          source: FailoverSource.instance('orders-db'),
          primaryRegion: 'us-east-1',
          database: 'orders',
          strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small })],
          rpo: Duration.hours(24),
          bucket: primaryBucket,
          vpc: threeTierVpc(dr),
        }),
    ).toThrow(/the bucket is in us-east-1, not in this \(DR\) region us-west-2/);
  });
});

describe('the imported operations topics', () => {
  it('are where both state machines publish, with the imported topic key, and no topic is created', () => {
    for (const [template, sm, topicArn, keyArn] of [
      [ops, recoveryTest.stateMachine, TOPIC, TOPIC_KEY],
      [drOps, failover.stateMachine, DR_TOPIC, DR_TOPIC_KEY],
    ] as const) {
      template.resourceCountIs('AWS::SNS::Topic', 0);
      const text = JSON.stringify(template.toJSON());
      expect(text).toContain(topicArn);
      const statements = JSON.stringify(statementsOf(template, { role: sm.role, node: sm.node } as unknown as lambda.IFunction));
      expect(statements).toContain('sns:Publish');
      expect(statements).toContain(topicArn);
      expect(statements).toContain(keyArn);
    }
  });
});

describe('the second app as a whole', () => {
  it('creates no bucket, bucket policy or bucket key: they stay with the app that owns them', () => {
    for (const template of [ops, drOps]) {
      template.resourceCountIs('AWS::S3::Bucket', 0);
      template.resourceCountIs('AWS::S3::BucketPolicy', 0);
      const keys = Object.values(template.findResources('AWS::KMS::Key')) as Array<{ Properties: { Description?: string } }>;
      expect(keys.map((k) => k.Properties.Description ?? '').filter((d) => d.startsWith('Encrypts the backups'))).toEqual([]);
    }
  });

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding in either stack', () => {
    expect(nagFindingsBeyondBaseline(secondApp(false).app, secondApp(true).app)).toEqual([]);
  });

  it('can read the same bucket from SSM parameters that the owner published', () => {
    const app = new App();
    const stack = new Stack(app, 'Ops', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const backups = SharedBackupResources.importBucket(stack, 'Backups', AttributeStore.ssmParameters('/orders/backups'));
    const test = new RecoveryTest(stack, 'RecoveryTest', {
      bucket: backups,
      sourceName: 'orders-db',
      vpc: threeTierVpc(stack),
      pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:3`),
      postgresVersion: 16,
    });
    const template = Template.fromStack(stack);
    const parameters = template.toJSON().Parameters as Record<string, { Default: string }>;
    const keyParameter = Object.entries(parameters).find(([, p]) => p.Default === '/orders/backups/encryption-key-arn')![0];
    expect(statementsOf(template, test.pickFunction)).toEqual(expect.arrayContaining([expect.objectContaining({ Action: 'kms:Decrypt', Resource: { Ref: keyParameter } })]));
  });
});
