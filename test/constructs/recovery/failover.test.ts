/**
 * The Failover construct: the synthesized state machine (individual states of the parsed definition), the functions'
 * configuration, least-privilege IAM on prefixed and named resources, validation at synth, and cdk-nag.
 */
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Failover, FailoverProps } from '../../../lib/failover/failover';
import { RepointTarget } from '../../../lib/failover/failover-repoint';
import { FailoverSource, FailoverStrategy, GlobalSecondaryAction } from '../../../lib/failover/failover-strategy';
import { FAILOVER_STATES as S } from '../../../lib/failover/failover-workflow';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { statementWithSid, topicKeyStatements } from '../../support/operations-key';
import { allStates, definitionOf, statementsOf, unreportedEndAlert } from '../../support/template-inspection';
import { UnreportedEndNotifier } from '../../../lib/common/unreported-end-notifier';
import { logicalIdOf } from '../../support/workflow-harness';
import { threeTierVpc } from '../../support/vpc';

const ACCOUNT = '111111111111';
type Json = Record<string, unknown>;

interface Fixture {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly bucket: BackupBucket;
  readonly layer: lambda.ILayerVersion;
  readonly replica: rds.IDatabaseInstance;
  readonly replicaSecret: secretsmanager.ISecret;
  readonly appSecret: secretsmanager.Secret;
  readonly zone: route53.IHostedZone;
}

function fixture(): Fixture {
  const app = new App();
  const stack = new Stack(app, 'Dr', { env: { account: ACCOUNT, region: 'us-west-2' } });
  const vpc = threeTierVpc(stack);
  const bucket = new BackupBucket(stack, 'ReplicaBackups');
  const layer = lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-west-2:${ACCOUNT}:layer:pg-tools:3`);
  const replicaSg = new ec2.SecurityGroup(stack, 'ReplicaSg', { vpc });
  const replica = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Replica', {
    instanceIdentifier: 'orders-db-dr',
    instanceEndpointAddress: 'orders-db-dr.abc.us-west-2.rds.amazonaws.com',
    port: 5432,
    securityGroups: [replicaSg],
  });
  const replicaSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ReplicaSecret', `arn:aws:secretsmanager:us-west-2:${ACCOUNT}:secret:orders-db-replica-AbCdEf`);
  const appSecret = new secretsmanager.Secret(stack, 'AppSecret');
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABC', zoneName: 'example.internal' });
  return { app, stack, vpc, bucket, layer, replica, replicaSecret, appSecret, zone };
}

const small = ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO);

function allStrategies(f: Fixture): FailoverStrategy[] {
  return [
    FailoverStrategy.promoteReplica({ replica: f.replica, credentials: f.replicaSecret }),
    FailoverStrategy.restoreSnapshot({ instanceType: small }),
    FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, pgToolsLayer: f.layer }),
    FailoverStrategy.pointInTime({ instanceType: small }),
  ];
}

function failover(f: Fixture, props: Partial<FailoverProps> = {}, id = 'Failover'): Failover {
  return new Failover(f.stack, id, {
    source: FailoverSource.instance('orders-db'),
    primaryRegion: 'us-east-1',
    database: 'orders',
    strategies: allStrategies(f),
    rpo: Duration.hours(24),
    bucket: f.bucket,
    vpc: f.vpc,
    repoint: [RepointTarget.ssmParameter('/orders/db/endpoint'), RepointTarget.secret(f.appSecret), RepointTarget.cnameRecord(f.zone, 'db.example.internal')],
    validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM orders' }],
    ...props,
  });
}

function statement(template: Template, fn: lambda.IFunction, sid: string): Json {
  const found = statementsOf(template, fn).find((s) => s.Sid === sid);
  if (!found) throw new Error(`no statement ${sid}`);
  return found;
}

function envOf(template: Template, fn: lambda.IFunction): Record<string, unknown> {
  const resource = template.toJSON().Resources[logicalIdOf(fn)] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return resource.Properties.Environment.Variables;
}

const rdsArn = (resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds:us-west-2:${ACCOUNT}:${resource}`]] });

describe('Failover state machine', () => {
  const f = fixture();
  const fo = failover(f);
  const template = Template.fromStack(f.stack);
  const def = definitionOf(template);
  const states = allStates(def);

  it('validates the input first, then runs the preflight, then branches by strategy', () => {
    expect(def.StartAt).toBe(S.start);
    expect(states[S.start]).toMatchObject({ Type: 'Pass', Parameters: { 'input.$': '$' }, Next: S.validate });
    expect(states[S.validate]).toMatchObject({
      Type: 'Task',
      Resource: `<${logicalIdOf(fo.preflightFunction)}.Arn>`,
      Parameters: { action: 'validate', 'input.$': '$.input' },
      ResultPath: '$.request',
      Next: S.preflight,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.report }],
    });
    expect(states[S.preflight]).toMatchObject({
      Parameters: { action: 'preflight', 'request.$': '$.request', 'executionId.$': '$$.Execution.Id', 'executionName.$': '$$.Execution.Name' },
      ResultPath: '$.plan',
      Next: S.strategy,
      Catch: [{ ErrorEquals: ['States.ALL'], Next: S.report }],
    });
    const choices = (states[S.strategy].Choices as Json[]).map((c) => [c.StringEquals, c.Next]);
    expect(choices).toEqual([
      ['promote-replica', S.lag],
      ['restore-snapshot', S.create],
      ['restore-dump', S.create],
      ['point-in-time', S.create],
    ]);
    expect(states[S.strategy].Default).toBe(S.unconfigured);
  });

  it('polls with NotReady + Retry bounded by waitTimeout (2 h / 30 s) and never sleeps in a Lambda', () => {
    for (const name of [S.wait, S.waitPassword, S.waitPromoted, S.confirmWritable]) {
      expect(states[name].Retry).toEqual(
        expect.arrayContaining([{ ErrorEquals: ['NotReady'], IntervalSeconds: 30, MaxAttempts: 240, BackoffRate: 1 }]),
      );
    }
    expect(Object.values(states).filter((s) => s.Type === 'Wait')).toEqual([]);
  });

  it('rehearses promote-replica on the replica and promotes only when dryRun is false', () => {
    expect(states[S.promoteOrCheck]).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.plan.dryRun', BooleanEquals: true, Next: S.useReplica }],
      Default: S.promote,
    });
    expect(states[S.useReplica]).toMatchObject({ Type: 'Pass', ResultPath: '$.database', Next: S.verify });
    expect(states[S.promote]).toMatchObject({ Parameters: { action: 'promote', 'acceptDataLoss.$': '$.plan.acceptDataLoss' }, Next: S.waitPromoted });
    expect(states[S.confirmWritable]).toMatchObject({ Parameters: { action: 'confirm-writable' }, Next: S.verify });
    // Nothing is created on this branch: a failure goes straight to the report.
    for (const name of [S.lag, S.promote, S.waitPromoted, S.confirmWritable]) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.report }]);
    }
  });

  it('restores through create, wait, then pg_restore (dump) or the master password (snapshot, point in time)', () => {
    expect(states[S.create]).toMatchObject({ Parameters: { action: 'create', 'plan.$': '$.plan' }, ResultPath: '$.created', Next: S.wait });
    expect(states[S.dumpOrPassword]).toMatchObject({
      Choices: [{ Variable: '$.plan.strategy', StringEquals: 'restore-dump', Next: S.restore }],
      Default: S.setPassword,
    });
    expect(states[S.restore]).toMatchObject({
      Resource: `<${logicalIdOf(fo.restoreFunction as lambda.Function)}.Arn>`,
      Parameters: { 'manifestKey.$': '$.plan.dump.manifestKey', createDatabase: true, target: { database: 'orders', 'host.$': '$.database.endpoint.host' } },
      Next: S.verifyDump,
    });
    // No sslMode: the restore verifies the new database's certificate (verify-full, Amazon RDS CA bundle).
    expect((states[S.restore].Parameters as { target: object }).target).not.toHaveProperty('sslMode');
    expect(states[S.verifyDump]).toMatchObject({ Parameters: { throwOnFailure: false, validationQueries: [{ name: 'orders-present' }] }, Next: S.checksPassed });
    expect(states[S.verify]).toMatchObject({ Resource: `<${logicalIdOf(fo.verifyFunction as lambda.Function)}.Arn>`, Parameters: { throwOnFailure: false } });
    // Everything after the create cleans up on failure (a dry run's) before the report.
    for (const name of [S.create, S.wait, S.setPassword, S.waitPassword, S.restore, S.verify, S.verifyDump]) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.cleanupChoice }]);
    }
  });

  it('repoints only a real failover whose checks passed, and cleans up only what a dry run created', () => {
    expect(states[S.checksPassed]).toMatchObject({ Choices: [{ Variable: '$.verify.passed', BooleanEquals: true, Next: S.repointOrRehearsal }], Default: S.cleanupChoice });
    expect(states[S.repointOrRehearsal]).toMatchObject({ Choices: [{ Variable: '$.plan.dryRun', BooleanEquals: false, Next: S.repoint }], Default: S.cleanupChoice });
    expect(states[S.repoint]).toMatchObject({ Parameters: { 'endpoint.$': '$.database.endpoint', 'executionId.$': '$$.Execution.Id' }, Next: S.report });
    expect(states[S.cleanupChoice]).toMatchObject({
      Choices: [{ And: [{ Variable: '$.plan.dryRun', BooleanEquals: true }, { Variable: '$.plan.names', IsPresent: true }], Next: S.cleanup }],
      Default: S.report,
    });
    expect(states[S.cleanup]).toMatchObject({ Type: 'Parallel', ResultPath: '$.cleanup', Next: S.report, Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupError', Next: S.report }] });
    expect(states[S.deleteDatabase].Retry).toEqual([
      expect.objectContaining({ ErrorEquals: expect.arrayContaining(['Lambda.ServiceException']) }),
      { ErrorEquals: ['NotReady'], IntervalSeconds: 30, MaxAttempts: 120, BackoffRate: 1 },
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 10, MaxAttempts: 5, BackoffRate: 2 },
    ]);
    expect(states[S.deleteSecret]).toMatchObject({ Parameters: { action: 'delete-secret', 'resource.$': '$.plan.names.resource' } });
    // A branch that gives up records its failure; it never fails the Parallel, which would cancel the other branch.
    expect(states[S.deleteDatabase].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupFailure', Next: S.deleteDatabaseFailed }]);
    expect(states[S.deleteSecret].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupFailure', Next: S.deleteSecretFailed }]);
    expect(states[S.deleteDatabaseFailed]).toMatchObject({ Type: 'Pass', Parameters: { what: 'database', status: 'failed', 'error.$': '$.cleanupFailure' } });
  });

  it('always reports and notifies, and fails (never succeeds) when the report says FAILED', () => {
    expect(states[S.report]).toMatchObject({
      Parameters: { workflow: 'failover', repointConfigured: true, 'state.$': '$', 'startedAt.$': '$$.Execution.StartTime' },
      Next: S.notify,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.reportError', Next: S.notifyReportFailure }],
    });
    expect(states[S.notify]).toMatchObject({ Resource: 'arn:<AWS::Partition>:states:::sns:publish', Parameters: { 'Subject.$': '$.report.subject', 'Message.$': '$.report.message' }, Next: S.outcome });
    expect(states[S.outcome]).toMatchObject({ Choices: [{ Variable: '$.report.status', StringEquals: 'SUCCEEDED', Next: S.succeeded }], Default: S.failed });
    expect(states[S.failed]).toEqual({ Type: 'Fail', Error: 'FailoverFailed', CausePath: '$.report.cause' });
    expect(states[S.notifyReportFailure].Next).toBe(S.reportFailed);
    expect(states[S.reportFailed]).toMatchObject({ Type: 'Fail', Error: 'FailoverReportFailed' });
  });

  it("lets CloudWatch alarms and EventBridge publish to its topic (the topic's key allows them)", () => {
    const publish = statementWithSid(topicKeyStatements(template, fo.notificationTopic), 'AlarmsAndEventsPublishToTopic');
    expect(publish.Principal).toEqual({ Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] });
  });

  it('logs ALL with execution data and traces with X-Ray', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  it('has only the branches of the configured strategies', () => {
    const g = fixture();
    failover(g, { strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small })], repoint: undefined });
    const only = allStates(definitionOf(Template.fromStack(g.stack)));
    expect(Object.keys(only)).not.toEqual(expect.arrayContaining([S.lag]));
    expect(Object.keys(only)).not.toContain(S.lag);
    expect(Object.keys(only)).not.toContain(S.restore);
    expect(Object.keys(only)).not.toContain(S.repoint);
    expect(only[S.wait].Next).toBe(S.setPassword);
    expect(only[S.report]).toMatchObject({ Parameters: { repointConfigured: false } });
    // Without repoint a real failover goes straight to its report; a Choice without rules is invalid ASL.
    expect(only[S.repointOrRehearsal]).toMatchObject({
      Choices: [{ Variable: '$.plan.dryRun', BooleanEquals: false, Next: S.report }],
    });
    Annotations.fromStack(g.stack).hasWarning('/Dr/Failover', Match.stringLikeRegexp('no repoint targets'));
  });

  it('tells the topic when a run times out or is aborted: what may be half done, what to delete by hand', () => {
    const alert = unreportedEndAlert(template, 'failover');
    expect(alert.stateMachine).toBe(logicalIdOf(fo.stateMachine));
    expect(alert.function).toBe(logicalIdOf(UnreportedEndNotifier.find(fo)!.function));
    expect(alert.input.topicArn).toBe(`\${${logicalIdOf(fo.notificationTopic)}}`);
    expect(alert.input.facts).toMatchObject({ workflow: 'failover', what: 'failover', source: 'orders-db' });
    expect(alert.pattern).toMatchObject({ detail: { status: ['TIMED_OUT', 'ABORTED'] } });
    expect(alert.input.facts.afterwards).toContain('repoint');
    expect(alert.input.facts.afterwards).toContain('cdk-backup-dr/failover/');
  });
});

describe('Failover functions and IAM', () => {
  const f = fixture();
  const fo = failover(f, { snapshotEncryptionKey: kms.Key.fromKeyArn(f.stack, 'DrKey', `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`) });
  const template = Template.fromStack(f.stack);

  it('configures the handlers with the source, regions, RPO and strategies', () => {
    expect(envOf(template, fo.preflightFunction)).toMatchObject({
      SOURCE_ID: 'orders-db',
      SOURCE_KIND: 'instance',
      SOURCE_IDENTIFIER: 'orders-db',
      PRIMARY_REGION: 'us-east-1',
      RPO_SECONDS: '86400',
      STRATEGIES: 'promote-replica,restore-snapshot,restore-dump,point-in-time',
      DATABASE: 'orders',
      REPLICA_KIND: 'instance',
      REPLICA_IDENTIFIER: 'orders-db-dr',
      REPLICA_SECRET_ARN: `arn:aws:secretsmanager:us-west-2:${ACCOUNT}:secret:orders-db-replica-AbCdEf`,
      DB_SUBNET_GROUP: { Ref: logicalIdOf(fo.databaseSubnetGroup as rds.SubnetGroup) },
    });
    expect(envOf(template, fo.actFunction)).toMatchObject({
      ENGINE_VERSION: '16',
      MASTER_USERNAME: 'cdkbdr_admin',
      BACKUP_RETENTION_DAYS: '7',
      DB_SECURITY_GROUP_IDS: { 'Fn::GetAtt': [logicalIdOf(fo.databaseSecurityGroup), 'GroupId'] },
    });
    const targets = envOf(template, fo.repointFunction as lambda.Function).REPOINT_TARGETS;
    expect(JSON.stringify(targets)).toContain('"type\\":\\"ssm-parameter\\",\\"name\\":\\"/orders/db/endpoint\\",\\"format\\":\\"{host}:{port}\\"');
    expect(JSON.stringify(targets)).toContain('"type\\":\\"cname\\",\\"hostedZoneId\\":\\"Z0123456789ABC\\",\\"recordName\\":\\"db.example.internal\\",\\"ttlSeconds\\":60');
    for (const fn of [fo.preflightFunction, fo.actFunction, fo.reportFunction, fo.repointFunction as lambda.Function]) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Runtime: 'nodejs24.x',
        TracingConfig: { Mode: 'Active' },
        VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [logicalIdOf(fo.lambdaSecurityGroup), 'GroupId'] }], SubnetIds: Match.anyValue() },
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: Match.anyValue() }) },
      });
      expect(template.toJSON().Resources[logicalIdOf(fn)].Properties.VpcConfig).toBeDefined();
    }
  });

  it('creates, modifies and deletes only cdkbdr-fo-* databases; deletes only what a dry run tagged', () => {
    expect(statement(template, fo.actFunction, 'CreateFailoverDatabase')).toEqual({
      Sid: 'CreateFailoverDatabase',
      Effect: 'Allow',
      Action: ['rds:CreateDBInstance', 'rds:RestoreDBInstanceFromDBSnapshot', 'rds:RestoreDBInstanceToPointInTime'],
      Resource: [
        rdsArn('db:cdkbdr-fo-*'),
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds:us-west-2:${ACCOUNT}:subgrp:`, { Ref: logicalIdOf(fo.databaseSubnetGroup as rds.SubnetGroup) }]] },
        rdsArn('pg:default.*'),
        rdsArn('og:default:*'),
        rdsArn('snapshot:cdkbdr-*'),
        rdsArn('auto-backup:*'),
      ],
      Condition: { StringEquals: { 'aws:RequestTag/cdk-backup-dr:purpose': 'failover' } },
    });
    expect(statement(template, fo.actFunction, 'ModifyFailoverDatabase')).toMatchObject({
      Action: 'rds:ModifyDBInstance',
      Resource: rdsArn('db:cdkbdr-fo-*'),
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:purpose': 'failover' } },
    });
    expect(statement(template, fo.actFunction, 'DeleteRehearsalDatabase')).toMatchObject({
      Action: 'rds:DeleteDBInstance',
      Resource: rdsArn('db:cdkbdr-fo-*'),
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:dry-run': 'true' } },
    });
    expect(statement(template, fo.actFunction, 'DeleteRehearsalSecrets')).toMatchObject({
      Action: 'secretsmanager:DeleteSecret',
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:dry-run': 'true' } },
    });
    expect(statement(template, fo.actFunction, 'PromoteReplica')).toMatchObject({ Action: 'rds:PromoteReadReplica', Resource: rdsArn('db:orders-db-dr') });
    const copyKey = `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    expect(statement(template, fo.actFunction, 'RestoreEncryptedCopiesGrant')).toMatchObject({
      Action: 'kms:CreateGrant',
      Resource: copyKey,
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
    expect(statement(template, fo.actFunction, 'RestoreEncryptedCopiesDescribe')).toEqual({ Sid: 'RestoreEncryptedCopiesDescribe', Effect: 'Allow', Action: 'kms:DescribeKey', Resource: copyKey });
    // No statement of any failover function allows an action on every resource except X-Ray's.
    for (const fn of [fo.preflightFunction, fo.actFunction, fo.reportFunction, fo.repointFunction, fo.verifyFunction, fo.restoreFunction, fo.dumpVerifyFunction]) {
      for (const s of statementsOf(template, fn as lambda.Function)) {
        if (s.Resource === '*') expect(s.Action).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
      }
    }
  });

  it('lets the preflight only describe the named replica, the subnet group and cdkbdr-* snapshot copies', () => {
    expect(statement(template, fo.preflightFunction, 'DescribeInstances')).toMatchObject({ Action: 'rds:DescribeDBInstances', Resource: [rdsArn('db:cdkbdr-fo-*'), rdsArn('db:orders-db-dr')] });
    expect(statement(template, fo.preflightFunction, 'DescribeSnapshotCopies')).toMatchObject({ Action: 'rds:DescribeDBSnapshots', Resource: [rdsArn('db:orders-db'), rdsArn('snapshot:cdkbdr-*')] });
    expect(statementsOf(template, fo.preflightFunction).some((s) => JSON.stringify(s.Action).includes('rds:Create') || JSON.stringify(s.Action).includes('rds:Delete'))).toBe(false);
  });

  it('lets the repoint change only the named parameter, secret and CNAME record', () => {
    const statements = statementsOf(template, fo.repointFunction as lambda.Function);
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['ssm:GetParameter', 'ssm:PutParameter'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ssm:us-west-2:${ACCOUNT}:parameter/orders/db/endpoint`]] },
        }),
        expect.objectContaining({
          Action: 'route53:ChangeResourceRecordSets',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53:::hostedzone/Z0123456789ABC']] },
          Condition: {
            'ForAllValues:StringEquals': {
              'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['db.example.internal'],
              'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
              'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
            },
          },
        }),
        expect.objectContaining({ Action: expect.arrayContaining(['secretsmanager:PutSecretValue']), Resource: { Ref: logicalIdOf(f.appSecret) } }),
      ]),
    );
  });

  it('writes reports only under reports/failover/ and reads only this source\'s dumps', () => {
    const write = statementsOf(template, fo.reportFunction).find((s) => JSON.stringify(s.Action).includes('s3:PutObject'));
    expect(JSON.stringify(write?.Resource)).toContain('/reports/failover/*');
    const read = statementsOf(template, fo.restoreFunction as lambda.Function).find((s) => JSON.stringify(s.Action).includes('s3:GetObject'));
    expect(JSON.stringify(read?.Resource)).toContain('/postgres/orders-db/*');
  });

  it('opens the restored database and the replica to the failover Lambdas only, on 5432', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
      GroupId: { 'Fn::GetAtt': [logicalIdOf(fo.databaseSecurityGroup), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [logicalIdOf(fo.lambdaSecurityGroup), 'GroupId'] },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('databases restored by a failover'), SecurityGroupEgress: Match.anyValue() });
  });

  it('exposes metrics with Source and Mode, and a grant to start a failover', () => {
    expect(fo.metricFailoverDuration('failover').dimensions).toEqual({ Source: 'orders-db', Mode: 'failover' });
    expect(fo.metricDataLossWindow().metricName).toBe('DataLossWindowSeconds');
    expect(fo.metricFailoverSucceeded().namespace).toBe('CdkBackupDr');
  });
});

describe('Failover validation at synth', () => {
  const cases: Array<[string, (f: Fixture) => Partial<FailoverProps>, RegExp]> = [
    ['primary region = this region', () => ({ primaryRegion: 'us-west-2' }), /primaryRegion is this stack's own region \(us-west-2\); put the Failover in a stack of the DR region/],
    ['no strategy', () => ({ strategies: [] }), /strategies is empty; configure at least one/],
    [
      'a strategy twice',
      () => ({ strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small }), FailoverStrategy.restoreSnapshot({ instanceType: small })] }),
      /two strategies are named 'restore-snapshot'/,
    ],
    [
      'point in time of an Aurora cluster in the DR region',
      () => ({ source: FailoverSource.cluster('orders'), strategies: [FailoverStrategy.pointInTime({ instanceType: small })] }),
      /pointInTime cannot restore an Aurora cluster in this region \(us-west-2\): .* only in the cluster's own region \(us-east-1\).* use FailoverStrategy\.restoreSnapshot .* or FailoverStrategy\.promoteGlobalSecondary.* a second Failover with only FailoverStrategy\.pointInTime in a stack of us-east-1/,
    ],
    [
      'point in time of an Aurora cluster beside another strategy, in its own region',
      () => ({
        source: FailoverSource.cluster('orders'),
        primaryRegion: 'us-west-2',
        strategies: [FailoverStrategy.pointInTime({ instanceType: small }), FailoverStrategy.restoreSnapshot({ instanceType: small })],
      }),
      /primaryRegion is this stack's own region \(us-west-2\).*Only a Failover of an Aurora cluster whose strategies are just FailoverStrategy\.pointInTime/,
    ],
    ['point in time of an endpoint', () => ({ source: FailoverSource.endpoint(), sourceName: 'orders', strategies: [FailoverStrategy.pointInTime({ instanceType: small })] }), /pointInTime .* an endpoint source has none: use restoreDump/],
    ['snapshots of an endpoint', () => ({ source: FailoverSource.endpoint(), sourceName: 'orders', strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small })] }), /restoreSnapshot needs RDS snapshots; an endpoint source has only dumps/],
    ['promoteReplica of a cluster', (f) => ({ source: FailoverSource.cluster('orders'), strategies: [FailoverStrategy.promoteReplica({ replica: f.replica, credentials: f.replicaSecret })] }), /promoteReplica needs an RDS instance source; for an Aurora cluster use FailoverStrategy.promoteGlobalSecondary/],
    ['RPO under a minute', () => ({ rpo: Duration.seconds(30) }), /rpo must be at least one minute/],
    ['bad database name', () => ({ database: 'orders/x' }), /database 'orders\/x' is not a database name/],
    ['endpoint without sourceName', () => ({ source: FailoverSource.endpoint(), strategies: [] }), /sourceName must be .* Pass sourceName for an endpoint source/],
    ['same repoint target twice', () => ({ repoint: [RepointTarget.ssmParameter('/a'), RepointTarget.ssmParameter('/a')] }), /repoint names ssm-parameter \/a twice/],
    ['duplicate validation query', () => ({ validationQueries: [{ name: 'q', sql: 'SELECT true' }, { name: 'q', sql: 'SELECT true' }] }), /validationQueries\[1\]\.name "q" is used twice/],
    ['backup retention over 35 days', () => ({ backupRetention: Duration.days(40) }), /backupRetention must be a whole number of days from 1 to 35/],
    [
      'restoreRoles without restore-dump',
      () => ({ strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small })], restoreRoles: true }),
      /restoreRoles applies to the restore-dump strategy only; add FailoverStrategy.restoreDump\(...\) or remove restoreRoles/,
    ],
    ['a state machine name with a dot', () => ({ stateMachineName: 'orders.failover' }), /stateMachineName "orders.failover" must be 1-80 characters of letters, digits, "-" or "_"/],
    ['a state machine name over 80 characters', () => ({ stateMachineName: 'f'.repeat(81) }), /stateMachineName "f{81}" must be 1-80 characters/],
  ];
  it.each(cases)('refuses %s, saying what to change', (_name, props, message) => {
    const f = fixture();
    expect(() => failover(f, props(f))).toThrow(message);
  });

  it('names the state machine stateMachineName, so that another region can address it; CloudFormation names it otherwise', () => {
    const f = fixture();
    failover(f, { stateMachineName: 'cdkbdr-failover-orders-db' });
    failover(f, {}, 'Unnamed');
    const names = Object.values(Template.fromStack(f.stack).findResources('AWS::StepFunctions::StateMachine')).map(
      (sm) => (sm as { Properties: { StateMachineName?: string } }).Properties.StateMachineName,
    );
    expect(names.sort()).toEqual(['cdkbdr-failover-orders-db', undefined]);
  });

  it('refuses a bucket of another region (the primary bucket): a failover must not depend on the primary region', () => {
    const f = fixture();
    const primary = new Stack(f.app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => failover(f, { bucket: new BackupBucket(primary, 'Backups') })).toThrow(/the bucket is in us-east-1, not in this \(DR\) region us-west-2; pass the replica BackupBucket/);
  });

  it('refuses repoint targets and strategies with bad values', () => {
    const f = fixture();
    expect(() => RepointTarget.ssmParameter('/app/db', { format: '{port}' })).toThrow(/does not contain \{host\}/);
    expect(() => RepointTarget.cnameRecord(f.zone, 'db.other.internal')).toThrow(/is not a name inside the zone 'example.internal'/);
    expect(() => RepointTarget.cnameRecord(f.zone, 'example.internal')).toThrow(/cannot be the zone apex/);
    expect(() => RepointTarget.secret(f.appSecret, { hostField: 'password' })).toThrow(/must not be username or password/);
    expect(() => FailoverSource.instance('bad_id')).toThrow(/not an RDS identifier/);
    expect(() => FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, masterUsername: 'postgres' })).toThrow(/reserved by RDS/);
  });

  it('supports an Aurora global secondary: FailoverGlobalCluster (or RemoveFromGlobalCluster) on the named global cluster only', () => {
    const f = fixture();
    const secondary = rds.DatabaseCluster.fromDatabaseClusterAttributes(f.stack, 'Secondary', { clusterIdentifier: 'orders-dr', securityGroups: [] });
    const fo = failover(f, {
      source: FailoverSource.cluster('orders'),
      strategies: [
        FailoverStrategy.promoteGlobalSecondary({ globalClusterIdentifier: 'orders-global', secondary, credentials: f.replicaSecret, action: GlobalSecondaryAction.DETACH }),
        FailoverStrategy.restoreSnapshot({ instanceType: small }),
      ],
    });
    const template = Template.fromStack(f.stack);
    expect(statement(template, fo.actFunction, 'PromoteGlobalSecondary')).toMatchObject({
      Action: 'rds:RemoveFromGlobalCluster',
      Resource: [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds::${ACCOUNT}:global-cluster:orders-global`]] },
        rdsArn('cluster:orders-dr'),
      ],
    });
    expect(envOf(template, fo.actFunction)).toMatchObject({ REPLICA_KIND: 'global-cluster', GLOBAL_CLUSTER_IDENTIFIER: 'orders-global', GLOBAL_CLUSTER_ACTION: 'detach' });
    expect(statement(template, fo.actFunction, 'CreateFailoverDatabase').Action).toEqual(['rds:CreateDBInstance', 'rds:RestoreDBClusterFromSnapshot']);
    const waitPromoted = allStates(definitionOf(template))[S.waitPromoted] as { Parameters: Json };
    expect(waitPromoted.Parameters['globalAction.$']).toBe('$.promotion.globalAction');
  });
});

describe('Failover of an Aurora cluster to a point in time, in the cluster\'s own region', () => {
  // The fixture's stack is in us-west-2: here that is the cluster's own region.
  const f = fixture();
  const storageEncryptionKey = new kms.Key(f.stack, 'RestoredClusterKey', { enableKeyRotation: true });
  const fo = failover(f, {
    source: FailoverSource.cluster('orders-aurora'),
    primaryRegion: 'us-west-2',
    strategies: [FailoverStrategy.pointInTime({ instanceType: small, storageEncryptionKey })],
  });
  const template = Template.fromStack(f.stack);

  it('restores only the configured cluster, into cdkbdr-fo-* clusters with the purpose tag, and adds the writer', () => {
    const subnetGroup = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds:us-west-2:${ACCOUNT}:subgrp:`, { Ref: logicalIdOf(fo.databaseSubnetGroup as rds.SubnetGroup) }]] };
    expect(statement(template, fo.actFunction, 'CreateFailoverDatabase')).toEqual({
      Sid: 'CreateFailoverDatabase',
      Effect: 'Allow',
      Action: ['rds:CreateDBInstance', 'rds:RestoreDBClusterToPointInTime'],
      // The production cluster is not here: CreateDBInstance (the writer) is authorized on the cluster it joins.
      Resource: [rdsArn('db:cdkbdr-fo-*'), rdsArn('cluster:cdkbdr-fo-*'), subnetGroup, rdsArn('pg:default.*'), rdsArn('og:default:*'), rdsArn('cluster-pg:default.*')],
      Condition: { StringEquals: { 'aws:RequestTag/cdk-backup-dr:purpose': 'failover' } },
    });
    expect(statement(template, fo.actFunction, 'RestoreFromSourceCluster')).toEqual({
      Sid: 'RestoreFromSourceCluster',
      Effect: 'Allow',
      Action: 'rds:RestoreDBClusterToPointInTime',
      Resource: rdsArn('cluster:orders-aurora'),
      Condition: { StringEquals: { 'aws:RequestTag/cdk-backup-dr:purpose': 'failover' } },
    });
    const sourceArn = JSON.stringify(rdsArn('cluster:orders-aurora'));
    for (const s of statementsOf(template, fo.actFunction)) {
      if (JSON.stringify(s.Resource).includes(sourceArn)) expect(['rds:RestoreDBClusterToPointInTime', 'rds:DescribeDBClusters']).toContain(s.Action);
    }
    expect(statement(template, fo.actFunction, 'ModifyFailoverDatabase')).toMatchObject({ Action: ['rds:ModifyDBInstance', 'rds:ModifyDBCluster'] });
    expect(statement(template, fo.actFunction, 'DeleteRehearsalDatabase')).toMatchObject({
      Action: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
      Resource: [rdsArn('db:cdkbdr-fo-*'), rdsArn('cluster:cdkbdr-fo-*')],
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:dry-run': 'true' } },
    });
    expect(statement(template, fo.actFunction, 'EncryptNewDatabaseGrant')).toMatchObject({ Action: 'kms:CreateGrant' });
  });

  it('lets the preflight read the source cluster\'s restore window and nothing of replicated backups', () => {
    expect(statement(template, fo.preflightFunction, 'DescribeClusters')).toMatchObject({
      Action: 'rds:DescribeDBClusters',
      Resource: [rdsArn('cluster:cdkbdr-fo-*'), rdsArn('cluster:orders-aurora')],
    });
    expect(JSON.stringify(statementsOf(template, fo.preflightFunction))).not.toContain('DescribeDBInstanceAutomatedBackups');
  });

  it('runs in the cluster\'s region, with the primary and the function region equal, and re-encrypts with the given key', () => {
    expect(envOf(template, fo.preflightFunction)).toMatchObject({ SOURCE_KIND: 'cluster', SOURCE_IDENTIFIER: 'orders-aurora', PRIMARY_REGION: 'us-west-2', STRATEGIES: 'point-in-time' });
    const settings = JSON.stringify(envOf(template, fo.actFunction).NEW_DATABASE_SETTINGS);
    expect(settings).toContain(logicalIdOf(storageEncryptionKey));
    expect(settings).toMatch(/point-in-time\\?":\{\\?"instanceClass\\?":\\?"db.t4g.micro\\?",\\?"multiAz\\?":false/);
  });

  it('retries the create step while the restored cluster does not accept its writer yet (NotReady)', () => {
    const create = allStates(definitionOf(template))[S.create] as { Retry: Array<{ ErrorEquals: string[] }> };
    expect(create.Retry.map((r) => r.ErrorEquals)).toContainEqual(['NotReady']);
  });

  it('refuses a stack without an explicit region: the cluster\'s region could not be checked', () => {
    const app = new App();
    const agnostic = new Stack(app, 'Agnostic');
    expect(
      () =>
        new Failover(agnostic, 'Pitr', {
          source: FailoverSource.cluster('orders-aurora'),
          primaryRegion: 'us-west-2',
          database: 'orders',
          rpo: Duration.hours(24),
          bucket: new BackupBucket(agnostic, 'Backups'),
          vpc: new ec2.Vpc(agnostic, 'Vpc'),
          strategies: [FailoverStrategy.pointInTime({ instanceType: small })],
        }),
    ).toThrow(/pointInTime of an Aurora cluster runs only in the cluster's own region, which cannot be checked here: give the stack an explicit env.region/);
  });

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    expect(nagFindingsBeyondBaseline(fixture().app, f.app)).toEqual([]);
  });
});

describe('cdk-nag on Failover', () => {
  // Beside the instance failover, one of an Aurora global secondary defined in the same stack, whose port is known only
  // at deploy time: the ingress rule the Failover adds to it lives outside the Failover's path.
  const withSecondary = () => {
    const f = fixture();
    const secondary = new rds.DatabaseCluster(f.stack, 'Secondary', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
      writer: rds.ClusterInstance.provisioned('Writer'),
      vpc: f.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      storageEncrypted: true,
    });
    return { f, secondary };
  };
  const { f, secondary } = withSecondary();
  failover(f);
  failover(
    f,
    {
      source: FailoverSource.cluster('orders'),
      strategies: [FailoverStrategy.promoteGlobalSecondary({ globalClusterIdentifier: 'orders-global', secondary, credentials: f.replicaSecret }), FailoverStrategy.restoreSnapshot({ instanceType: small })],
    },
    'GlobalFailover',
  );
  const findings = nagFindingsBeyondBaseline(withSecondary().f.app, f.app);

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    expect(findings).toEqual([]);
  });

  it('acknowledges exactly the act function\'s wildcards: prefixed databases, secrets and snapshots, default groups, replicated backups', () => {
    const acked = new Set<string>();
    for (const c of f.app.node.findAll()) {
      if (!c.node.path.startsWith('Dr/Failover/ActFunction')) continue;
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
        for (const id of Object.keys(entry.data as Record<string, unknown>)) {
          const m = /AwsSolutions-IAM5\[Resource::(.*)\]$/.exec(id);
          if (m) acked.add(m[1]);
        }
      }
    }
    const rds = (resource: string) => `arn:<AWS::Partition>:rds:us-west-2:${ACCOUNT}:${resource}`;
    expect([...acked].sort()).toEqual(
      [
        '*', // X-Ray only (HandlerFunction)
        rds('db:cdkbdr-fo-*'),
        rds('snapshot:cdkbdr-*'),
        rds('auto-backup:*'),
        rds('pg:default.*'),
        rds('og:default:*'),
        `arn:<AWS::Partition>:secretsmanager:us-west-2:${ACCOUNT}:secret:cdk-backup-dr/failover/*`,
      ].sort(),
    );
  });

  it('acknowledges each wildcard with its reason, and only prefixed or AWS-named ones', () => {
    const acks: string[] = [];
    for (const c of f.app.node.findAll()) {
      if (!c.node.path.includes('/Failover/')) continue;
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          if (!id.includes('IAM5[Resource::')) continue;
          expect(String(typeof reason === 'string' ? reason : JSON.stringify(reason)).length).toBeGreaterThan(40);
          acks.push(id.replace(/^.*IAM5\[Resource::/, '').replace(/\]$/, ''));
        }
      }
    }
    const wildcards = [...new Set(acks.filter((a) => a.includes('*')))];
    for (const w of wildcards) {
      expect(w).toMatch(/(cdkbdr-fo-\*|cdkbdr-\*|cdk-backup-dr\/failover\/\*|default[.:]\*|auto-backup:\*|\/postgres\/orders-db\/\*|\/reports\/failover\/\*|:\*$|^\*$)/);
    }
  });
});

describe('Failover: the new database and its restore function (issue 11: defects 4, 5, 6)', () => {
  const production = (f: Fixture) => {
    const parameterGroup = rds.ParameterGroup.fromParameterGroupName(f.stack, 'Params', 'orders-pg16');
    const optionGroup = rds.OptionGroup.fromOptionGroupName(f.stack, 'Options', 'orders-og16');
    const storageEncryptionKey = new kms.Key(f.stack, 'StorageKey');
    return { parameterGroup, optionGroup, storageEncryptionKey };
  };

  it('builds the restore function as RecoveryTest does: the layer\'s libraries on the loader path, 1769 MiB unless configured', () => {
    const f = fixture();
    const fo = failover(f, { strategies: [FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, pgToolsLayer: f.layer, restoreMemorySize: 3008 })] });
    const template = Template.fromStack(f.stack);
    expect(envOf(template, fo.restoreFunction!)).toMatchObject({ PG_TOOLS_LIB_DIR: '/opt/lib', BUCKET_NAME: expect.anything() });
    expect(allStates(definitionOf(template))[S.restore].Parameters).not.toHaveProperty('restoreRoles');
    template.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('into a failover database'), MemorySize: 3008, Timeout: 900 });
    const g = fixture();
    failover(g);
    Template.fromStack(g.stack).hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('into a failover database'), MemorySize: 1769 });
    const h = fixture();
    failover(h, { strategies: [FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, pgToolsLayer: h.layer })], restoreRoles: true });
    expect(allStates(definitionOf(Template.fromStack(h.stack)))[S.restore].Parameters).toMatchObject({ createDatabase: true, restoreRoles: true });
    expect(() => FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, restoreMemorySize: 1024 })).toThrow(
      /restoreMemorySize must be a whole number of MiB from 1769 .* got 1024/,
    );
  });

  it('passes each strategy\'s instance class, groups, key and Multi-AZ (on by default) to the act function', () => {
    const f = fixture();
    const p = production(f);
    const fo = failover(f, {
      strategies: [
        FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, pgToolsLayer: f.layer, ...p }),
        FailoverStrategy.pointInTime({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE), multiAz: false }),
      ],
    });
    const template = Template.fromStack(f.stack);
    const settings = JSON.parse(JSON.stringify(f.stack.resolve(envOf(template, fo.actFunction).NEW_DATABASE_SETTINGS)));
    expect(JSON.stringify(settings)).toContain('orders-pg16');
    expect(JSON.stringify(settings)).toContain('orders-og16');
    expect(JSON.stringify(settings)).toContain('db.t4g.micro');
    expect(JSON.stringify(settings)).toMatch(/"point-in-time\\?":\{\\?"instanceClass\\?":\\?"db.r6g.large\\?",\\?"multiAz\\?":false/);
    expect(JSON.stringify(settings)).toMatch(/"restore-dump\\?":\{\\?"instanceClass\\?":\\?"db.t4g.micro\\?",\\?"multiAz\\?":true/);
    const create = statement(template, fo.actFunction, 'CreateFailoverDatabase');
    expect(create.Resource).toEqual(expect.arrayContaining([rdsArn('pg:orders-pg16'), rdsArn('og:orders-og16')]));
    // The storage key: CreateGrant only for grants RDS makes, DescribeKey apart (the condition never matches it), on that key only.
    const keyArn = { 'Fn::GetAtt': [logicalIdOf(p.storageEncryptionKey), 'Arn'] };
    expect(statement(template, fo.actFunction, 'EncryptNewDatabaseGrant')).toMatchObject({
      Action: 'kms:CreateGrant',
      Resource: keyArn,
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
    expect(statement(template, fo.actFunction, 'EncryptNewDatabaseDescribe')).toEqual({ Sid: 'EncryptNewDatabaseDescribe', Effect: 'Allow', Action: 'kms:DescribeKey', Resource: keyArn });
  });

  it('scopes the snapshot-copy key grant to the key, and to its alias when only the alias is known', () => {
    const f = fixture();
    const fo = failover(f, { snapshotEncryptionKey: kms.Alias.fromAliasName(f.stack, 'DrAlias', 'alias/dr-snapshots') });
    const template = Template.fromStack(f.stack);
    const grant = statement(template, fo.actFunction, 'RestoreEncryptedCopiesGrant');
    expect(grant).toMatchObject({
      Action: 'kms:CreateGrant',
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' }, 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/dr-snapshots' } },
    });
    expect(JSON.stringify(grant.Resource)).toContain(`:kms:us-west-2:${ACCOUNT}:key/*`);
    expect(statement(template, fo.actFunction, 'RestoreEncryptedCopiesDescribe')).toMatchObject({
      Action: 'kms:DescribeKey',
      Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/dr-snapshots' } },
    });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/"kms:DescribeKey"[^}]*GrantIsForAWSResource/);
  });

  it('refuses settings RDS cannot apply, saying what to change', () => {
    const f = fixture();
    const p = production(f);
    expect(() => failover(f, { strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small, storageEncryptionKey: p.storageEncryptionKey })] }, 'A')).toThrow(
      /restore-snapshot: storageEncryptionKey cannot apply: an instance restored from a snapshot copy keeps the copy's key/,
    );
    expect(() => failover(f, { strategies: [FailoverStrategy.pointInTime({ instanceType: small, storageEncryptionKey: p.storageEncryptionKey })] }, 'P')).toThrow(
      /point-in-time: storageEncryptionKey cannot apply: an instance restored from replicated automated backups keeps the key/,
    );
    expect(() =>
      failover(f, { source: FailoverSource.cluster('orders-aurora'), strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small, optionGroup: p.optionGroup })] }, 'B'),
    ).toThrow(/optionGroup does not apply to an Aurora cluster/);
    expect(() => failover(f, { source: FailoverSource.cluster('orders-aurora'), strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small, multiAz: true })] }, 'C')).toThrow(
      /multiAz applies to RDS instances/,
    );
    const east = new Stack(f.app, 'East', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const eastKey = new kms.Key(east, 'Key');
    expect(() =>
      failover(f, { strategies: [FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, pgToolsLayer: f.layer, storageEncryptionKey: eastKey })] }, 'D'),
    ).toThrow(/storageEncryptionKey is in us-east-1; RDS encrypts a database only with a key of its own region \(us-west-2\)/);
  });
});
