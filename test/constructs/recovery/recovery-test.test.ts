import { App, Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RecoveryTest, RecoveryTestProps, RecoveryTestSchedule, RECOVERY_TEST_STATES as S, TestedBackups } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { RECOVERY_TEST_PURPOSE, RESOURCE_TAGS, resourceTags } from '../../../lambda/rds/instances';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { statementWithSid, topicKeyStatements } from '../../support/operations-key';
import { allStates, definitionOf, statementsOf, unreportedEndAlert } from '../../support/template-inspection';
import { logicalIdOf } from '../../support/workflow-harness';
import { UnreportedEndNotifier } from '../../../lib/common/unreported-end-notifier';
import { threeTierVpc } from '../../support/vpc';

const ACCOUNT = '111111111111';
type Json = Record<string, unknown>;

interface Fixture {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly bucket: BackupBucket;
  readonly layer: lambda.ILayerVersion;
}

function fixture(vpcProps: ec2.VpcProps = {}): Fixture {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const vpc = threeTierVpc(stack, vpcProps);
  const bucket = new BackupBucket(stack, 'Backups');
  const layer = lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:3`);
  return { app, stack, vpc, bucket, layer };
}

function recoveryTest(f: Fixture, props: Partial<RecoveryTestProps> = {}, id = 'RecoveryTest'): RecoveryTest {
  return new RecoveryTest(f.stack, id, {
    bucket: f.bucket,
    sourceName: 'orders-db',
    vpc: f.vpc,
    pgToolsLayer: f.layer,
    postgresVersion: 16,
    ...props,
  });
}

function rdsArn(resource: string): Json {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds:us-east-1:${ACCOUNT}:${resource}`]] };
}

describe('RecoveryTest of dumps (defaults)', () => {
  const f = fixture();
  const test = recoveryTest(f, {
    validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM app.orders' }],
    rpo: Duration.hours(26),
  });
  const template = Template.fromStack(f.stack);
  const def = definitionOf(template);
  const states = allStates(def);
  const fnRef = (fn: lambda.Function) => `<${logicalIdOf(fn)}.Arn>`;

  it('starts with a default selection and runs pick → create → wait → restore → verify → cleanup → report → notify', () => {
    expect(def.StartAt).toBe('Selection given?');
    expect(states['Default selection']).toMatchObject({ Type: 'Pass', Result: { latest: true }, ResultPath: '$.selection' });
    const next = (name: string) => states[name].Next;
    expect([S.pick, S.create, S.wait, S.restore, S.verify].map(next)).toEqual([S.create, S.wait, S.restore, S.verify, S.cleanup]);
    expect(next(S.cleanup)).toBe(S.report);
    expect(next(S.report)).toBe(S.notify);
    expect(states['Outcome?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.report.status', StringEquals: 'SUCCEEDED', Next: S.passed }],
      Default: S.failed,
    });
    expect(states[S.failed]).toMatchObject({ Type: 'Fail', Error: 'RecoveryTestFailed', CausePath: '$.report.cause' });
    expect(states[S.setPassword]).toBeUndefined();
  });

  it('passes typed payloads: the backup kind, the scratch scope from the execution, no password anywhere', () => {
    expect(states[S.pick]).toMatchObject({ Resource: fnRef(test.pickFunction), Parameters: { kind: 'dump', 'selection.$': '$.selection' }, ResultPath: '$.backup' });
    expect(states[S.create]).toMatchObject({
      Resource: fnRef(test.scratchFunction),
      Parameters: { action: 'create', resource: 'instance', 'executionId.$': '$$.Execution.Id', 'executionName.$': '$$.Execution.Name', source: { type: 'empty' } },
      ResultPath: '$.created',
    });
    const target = {
      'secretArn.$': '$.created.secretArn',
      'host.$': '$.ready.endpoint.host',
      'port.$': '$.ready.endpoint.port',
      'database.$': '$.backup.dump.database',
    };
    // No sslMode: the handlers verify the scratch database's certificate (verify-full, Amazon RDS CA bundle).
    expect((states[S.restore].Parameters as { target: object }).target).not.toHaveProperty('sslMode');
    // No restoreRoles unless asked: objects then belong to the scratch instance's master user.
    expect(states[S.restore].Parameters).not.toHaveProperty('restoreRoles');
    expect(states[S.restore]).toMatchObject({
      Resource: fnRef(test.restoreFunction!),
      Parameters: { 'manifestKey.$': '$.backup.dump.manifestKey', target, createDatabase: true },
    });
    expect(states[S.verify]).toMatchObject({
      Resource: fnRef(test.verifyFunction),
      Parameters: {
        'manifestKey.$': '$.backup.dump.manifestKey',
        target,
        validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM app.orders' }],
        throwOnFailure: false,
      },
    });
    expect(states[S.report]).toMatchObject({ Parameters: { workflow: 'recovery-test', kind: 'dump', 'state.$': '$', 'startedAt.$': '$$.Execution.StartTime' } });
    expect(JSON.stringify(def).toLowerCase()).not.toMatch(/password"/);
  });

  it('polls the scratch database with NotReady for an hour and catches every failure of the work into the cleanup', () => {
    expect(states[S.wait].Retry).toEqual(
      expect.arrayContaining([{ ErrorEquals: ['NotReady'], IntervalSeconds: 30, MaxAttempts: 120, BackoffRate: 1 }]),
    );
    for (const name of [S.pick, S.create, S.wait, S.restore, S.verify]) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.cleanup }]);
    }
  });

  it('cleans up in a Parallel whose branches each retry and record their own failure', () => {
    const cleanup = states[S.cleanup] as { Type: string; Branches: Array<{ StartAt: string }>; Catch: Json[]; ResultPath: string };
    expect(cleanup.Type).toBe('Parallel');
    expect(cleanup.ResultPath).toBe('$.cleanup');
    expect(cleanup.Branches.map((b) => b.StartAt)).toEqual([S.deleteDatabase, S.deleteSecret]);
    expect(cleanup.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupError', Next: S.report }]);
    expect(states[S.deleteDatabase]).toMatchObject({
      Parameters: { action: 'delete-database', resource: 'instance' },
      Retry: expect.arrayContaining([
        { ErrorEquals: ['NotReady'], IntervalSeconds: 30, MaxAttempts: 120, BackoffRate: 1 },
        { ErrorEquals: ['States.ALL'], IntervalSeconds: 10, MaxAttempts: 5, BackoffRate: 2 },
      ]),
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupFailure', Next: S.deleteDatabaseFailed }],
    });
    expect(states[S.deleteSecret]).toMatchObject({
      Parameters: { action: 'delete-secret' },
      Retry: expect.arrayContaining([{ ErrorEquals: ['States.ALL'], IntervalSeconds: 10, MaxAttempts: 5, BackoffRate: 2 }]),
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupFailure', Next: S.deleteSecretFailed }],
    });
    expect(states[S.deleteSecretFailed]).toMatchObject({ Type: 'Pass', Parameters: { what: 'secret', status: 'failed', 'error.$': '$.cleanupFailure' } });
  });

  it('tells the topic when a run times out or is aborted (no Catch runs then): the stack\'s notifier formats it, with what to delete by hand', () => {
    const alert = unreportedEndAlert(template, 'recovery-test');
    const notifier = UnreportedEndNotifier.find(test)!.function;
    expect(alert.stateMachine).toBe(logicalIdOf(test.stateMachine));
    expect(alert.pattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: alert.stateMachine }] },
    });
    expect(alert.targets).toBe(1);
    expect(alert.function).toBe(logicalIdOf(notifier));
    expect(alert.inputPaths).toEqual({ detail: '$.detail' });
    expect(alert.input).toEqual({
      topicArn: `\${${logicalIdOf(test.notificationTopic)}}`,
      facts: { workflow: 'recovery-test', what: 'recovery test', source: 'orders-db', afterwards: expect.stringContaining('cdkbdr-rt-') },
      detail: '<detail>',
    });
    expect(alert.input.facts.afterwards).toContain('cdk-backup-dr/scratch/');
  });

  it("lets the notifier publish to the workflow's topic and use its key, nothing else; outside any VPC", () => {
    const notifier = UnreportedEndNotifier.find(test)!.function;
    const statements = statementsOf(template, notifier).filter((st) => !JSON.stringify(st.Action).includes('xray:'));
    expect(statements).toEqual([
      { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: logicalIdOf(test.notificationTopic) } },
      { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(test.notificationTopic.masterKey!), 'Arn'] } },
    ]);
    const fn = template.toJSON().Resources[logicalIdOf(notifier)] as { Properties: Json };
    expect(fn.Properties.VpcConfig).toBeUndefined();
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [logicalIdOf(notifier), 'Arn'] },
    });
  });

  it('publishes the outcome, and a failed report, to the topic, then ends FAILED', () => {
    expect(states[S.notify]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::sns:publish',
      Parameters: { 'Subject.$': '$.report.subject', 'Message.$': '$.report.message' },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notifyError', Next: S.notifyFailed }],
    });
    expect(states[S.report].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.reportError', Next: S.notifyReportFailure }]);
    expect(states[S.notifyReportFailure].Next).toBe(S.reportFailed);
    expect(states[S.reportFailed]).toMatchObject({ Type: 'Fail', Error: 'RecoveryReportFailed' });
  });

  it("lets CloudWatch alarms and EventBridge publish to its topic (the topic's key allows them)", () => {
    const publish = statementWithSid(topicKeyStatements(template, test.notificationTopic), 'AlarmsAndEventsPublishToTopic');
    expect(publish.Principal).toEqual({ Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] });
  });

  it('logs ALL execution data, traces with X-Ray, and times out only after every bounded wait', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Array<{ Properties: { DefinitionString: { 'Fn::Join': [string, unknown[]] } } }>;
    const text = machine.Properties.DefinitionString['Fn::Join'][1].filter((p): p is string => typeof p === 'string').join('');
    // 1 h wait + 2 × 15 min Lambdas + 1 h cleanup + 30 min margin.
    expect(text).toContain('"TimeoutSeconds":10800');
  });

  it('creates the scratch subnet group in the isolated subnets and lets only the Lambdas reach port 5432', () => {
    const isolated = f.vpc.isolatedSubnets.map((s) => ({ Ref: logicalIdOf(s.node.defaultChild as never) }));
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: isolated });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
      GroupId: { 'Fn::GetAtt': [logicalIdOf(test.scratchSecurityGroup), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [logicalIdOf(test.lambdaSecurityGroup), 'GroupId'] },
    });
    const scratchSg = template.toJSON().Resources[logicalIdOf(test.scratchSecurityGroup)] as { Properties: { SecurityGroupEgress: Json[]; SecurityGroupIngress?: Json[] } };
    // allowAllOutbound: false → CDK's "disallow all" placeholder rule, and no inline ingress.
    expect(scratchSg.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })]);
    expect(scratchSg.Properties.SecurityGroupIngress).toBeUndefined();
  });

  it('configures the scratch Lambda with the subnet group, security group, class and engine version', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SCRATCH_SUBNET_GROUP_NAME: { Ref: logicalIdOf(test.scratchSubnetGroup) },
          SCRATCH_SECURITY_GROUP_IDS: { 'Fn::GetAtt': [logicalIdOf(test.scratchSecurityGroup), 'GroupId'] },
          SCRATCH_INSTANCE_CLASS: 'db.t4g.micro',
          SCRATCH_ENGINE_VERSION: '16',
          SCRATCH_ALLOCATED_STORAGE_GIB: '20',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SOURCE_ID: 'orders-db', RPO_SECONDS: '93600' }) },
      Timeout: 120,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('pg_restore'),
      Timeout: 900,
      MemorySize: 1769,
      // Lambda's most /tmp: directory dumps and jobs > 1 are downloaded before pg_restore.
      EphemeralStorage: { Size: 10240 },
      Layers: [`arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:3`],
      Runtime: 'nodejs24.x',
      VpcConfig: Match.objectLike({ SecurityGroupIds: [{ 'Fn::GetAtt': [logicalIdOf(test.lambdaSecurityGroup), 'GroupId'] }] }),
    });
  });

  it('scopes the scratch Lambda to cdkbdr-rt-* databases with the purpose tag and cdk-backup-dr/scratch/* secrets', () => {
    const statements = statementsOf(template, test.scratchFunction);
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid as string, s]));
    expect(bySid.CreateScratchDatabase).toMatchObject({
      Action: 'rds:CreateDBInstance',
      Resource: [rdsArn('db:cdkbdr-rt-*'), expect.anything(), rdsArn('pg:default.*'), rdsArn('og:default:*')],
      Condition: { StringEquals: { 'aws:RequestTag/cdk-backup-dr:purpose': 'recovery-test' } },
    });
    const subnetGroupArn = JSON.stringify((bySid.CreateScratchDatabase.Resource as unknown[])[1]);
    expect(subnetGroupArn).toContain(':subgrp:');
    expect(subnetGroupArn).toContain(logicalIdOf(test.scratchSubnetGroup));
    expect(bySid.ChangeOwnScratchDatabase).toMatchObject({
      Action: 'rds:DeleteDBInstance',
      Resource: rdsArn('db:cdkbdr-rt-*'),
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:purpose': 'recovery-test' } },
    });
    expect(bySid.DescribeScratchDatabase).toMatchObject({ Action: 'rds:DescribeDBInstances', Resource: rdsArn('db:cdkbdr-rt-*') });
    // Scratch secrets: created only with, and deleted only when carrying, the tags the scratch handler writes on them.
    const scratchSecrets = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:us-east-1:${ACCOUNT}:secret:cdk-backup-dr/scratch/*`]] };
    const secretTags = resourceTags({ purpose: RECOVERY_TEST_PURPOSE, executionId: 'arn:aws:states:us-east-1:111111111111:execution:rt:1' });
    const ownershipCondition = (key: string) => ({
      StringEquals: Object.fromEntries(secretTags.filter((t) => t.Key !== RESOURCE_TAGS.execution).map((t) => [`${key}/${t.Key}`, t.Value])),
    });
    expect(bySid.CreateScratchSecrets).toEqual({
      Sid: 'CreateScratchSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
      Resource: scratchSecrets,
      Condition: ownershipCondition('aws:RequestTag'),
    });
    expect(bySid.DescribeScratchSecrets).toEqual({
      Sid: 'DescribeScratchSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: scratchSecrets,
    });
    expect(bySid.DeleteOwnScratchSecrets).toEqual({
      Sid: 'DeleteOwnScratchSecrets',
      Effect: 'Allow',
      Action: 'secretsmanager:DeleteSecret',
      Resource: scratchSecrets,
      Condition: ownershipCondition('aws:ResourceTag'),
    });
    // DeleteSecret in no other statement, so no unconditioned grant allows it.
    const deleting = statements.filter((st) => [st.Action].flat().includes('secretsmanager:DeleteSecret'));
    expect(deleting.map((st) => st.Sid)).toEqual(['DeleteOwnScratchSecrets']);
    // Nothing on "*" but X-Ray.
    for (const s of statements.filter((st) => st.Resource === '*')) {
      expect(s.Action).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
    }
    // No RDS action outside the statements above.
    const rdsActions = statements.flatMap((s) => [s.Action].flat() as string[]).filter((a) => a.startsWith('rds:'));
    expect(rdsActions.sort()).toEqual(['rds:AddTagsToResource', 'rds:CreateDBInstance', 'rds:DeleteDBInstance', 'rds:DescribeDBInstances']);
  });

  it('lets the restore, verify and pick Lambdas read only this source\'s backups, the report Lambda write only its reports', () => {
    const objects = (fn: lambda.Function, action: string) =>
      statementsOf(template, fn)
        .filter((s) => [s.Action].flat().includes(action))
        .map((s) => JSON.stringify(s.Resource));
    for (const fn of [test.pickFunction, test.restoreFunction!, test.verifyFunction]) {
      const read = objects(fn, 's3:GetObject');
      expect(read).toHaveLength(1);
      expect(read[0]).toContain('/postgres/orders-db/*');
    }
    const write = objects(test.reportFunction, 's3:PutObject');
    expect(write).toHaveLength(1);
    expect(write[0]).toContain('/reports/recovery-test/*');
    for (const fn of [test.restoreFunction!, test.verifyFunction]) {
      expect(statementsOf(template, fn)).toContainEqual(
        expect.objectContaining({ Sid: 'ReadScratchSecrets', Action: 'secretsmanager:GetSecretValue' }),
      );
    }
    expect(statementsOf(template, test.pickFunction).some((s) => JSON.stringify(s.Action).includes('secretsmanager'))).toBe(false);
  });

  it('schedules a weekly test on Sundays at 05:00 UTC with its own role', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 5 ? * SUN *)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: Match.objectLike({
        Arn: { Ref: logicalIdOf(test.stateMachine) },
        Input: '{"selection":{"latest":true}}',
        RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RecoveryTestScheduleRole'), 'Arn'] },
      }),
    });
  });

  it('exposes the metrics the report publishes, with the Source dimension', () => {
    const metrics = [test.metricRecoveryTestSucceeded(), test.metricRestoreDuration(), test.metricBackupAge()];
    expect(metrics.map((m) => [m.namespace, m.metricName, m.dimensions])).toEqual([
      ['CdkBackupDr', 'RecoveryTestSucceeded', { Source: 'orders-db' }],
      ['CdkBackupDr', 'RestoreDurationSeconds', { Source: 'orders-db' }],
      ['CdkBackupDr', 'BackupAgeSeconds', { Source: 'orders-db' }],
    ]);
  });
});

describe('RecoveryTest of snapshots', () => {
  const f = fixture();
  const snapshotKey = new kms.Key(f.stack, 'SnapshotKey');
  const instanceTest = recoveryTest(
    f,
    {
      backups: TestedBackups.instanceSnapshots({ instanceIdentifier: 'orders-db', database: 'orders', encryptionKey: snapshotKey }),
      pgToolsLayer: undefined,
      postgresVersion: undefined,
      schedule: RecoveryTestSchedule.weekly({ weekDay: 'SAT', hour: 6, minute: 30, timeZone: TimeZone.EUROPE_BERLIN }),
    },
    'InstanceTest',
  );
  const clusterTest = recoveryTest(
    f,
    { backups: TestedBackups.clusterSnapshots({ clusterIdentifier: 'orders-aurora', database: 'orders' }), schedule: RecoveryTestSchedule.disabled() },
    'ClusterTest',
  );
  const template = Template.fromStack(f.stack);
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const stateOf = (t: RecoveryTest) => {
    const one = Template.fromJSON({ Resources: { M: machines[logicalIdOf(t.stateMachine)] } });
    return allStates(definitionOf(one));
  };

  it('restores the picked snapshot, resets its password, waits again and verifies with the validation queries', () => {
    const states = stateOf(instanceTest);
    expect(states[S.create].Parameters).toMatchObject({
      resource: 'instance',
      source: { type: 'snapshot', 'snapshotId.$': '$.backup.snapshot.snapshotId', 'masterUsername.$': '$.backup.snapshot.masterUsername' },
    });
    expect(states[S.wait].Next).toBe(S.setPassword);
    expect(states[S.setPassword].Next).toBe(S.waitPassword);
    expect(states[S.waitPassword].Next).toBe(S.verify);
    expect(states[S.restore]).toBeUndefined();
    expect(states[S.verify].Parameters).toMatchObject({ target: { database: 'orders' }, throwOnFailure: false });
    expect((states[S.verify].Parameters as { target: object }).target).not.toHaveProperty('sslMode');
    expect(instanceTest.restoreFunction).toBeUndefined();
  });

  it('lets the scratch Lambda use a customer-managed snapshot key only through RDS grants', () => {
    const key = { 'Fn::GetAtt': [logicalIdOf(snapshotKey), 'Arn'] };
    expect(statementsOf(template, instanceTest.scratchFunction)).toContainEqual({
      Sid: 'RestoreEncryptedSnapshotsGrant',
      Effect: 'Allow',
      Action: 'kms:CreateGrant',
      Resource: key,
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
    // DescribeKey on its own: kms:GrantIsForAWSResource exists only on CreateGrant, so it would never match there.
    expect(statementsOf(template, instanceTest.scratchFunction)).toContainEqual({ Sid: 'RestoreEncryptedSnapshotsDescribe', Effect: 'Allow', Action: 'kms:DescribeKey', Resource: key });
    expect(statementsOf(template, clusterTest.scratchFunction).some((s) => String(s.Sid).startsWith('RestoreEncryptedSnapshots'))).toBe(false);
  });

  it('restores an Aurora cluster with the snapshot\'s engine and scopes IAM to cluster resources', () => {
    const states = stateOf(clusterTest);
    expect(states[S.create].Parameters).toMatchObject({ resource: 'cluster', source: { 'engine.$': '$.backup.snapshot.engine' } });
    const statements = statementsOf(template, clusterTest.scratchFunction);
    const create = statements.find((s) => s.Sid === 'CreateScratchDatabase')!;
    expect(create.Action).toEqual(['rds:RestoreDBClusterFromSnapshot', 'rds:CreateDBInstance']);
    expect(create.Resource).toEqual(
      expect.arrayContaining([rdsArn('cluster:cdkbdr-rt-*'), rdsArn('cluster-snapshot:cdkbdr-*'), rdsArn('cluster-pg:default.*')]),
    );
    expect(statements.find((s) => s.Sid === 'ChangeOwnScratchDatabase')!.Action).toEqual(['rds:DeleteDBInstance', 'rds:DeleteDBCluster', 'rds:ModifyDBCluster']);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SNAPSHOT_KIND: 'cluster', SNAPSHOT_SOURCE_IDENTIFIER: 'orders-aurora' }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('scratch databases'),
      Environment: { Variables: Match.objectLike({ SCRATCH_INSTANCE_CLASS: 'db.t4g.medium' }) },
    });
    const pick = statementsOf(template, clusterTest.pickFunction).find((s) => s.Sid === 'DescribeOwnSnapshots');
    expect(pick).toMatchObject({ Action: 'rds:DescribeDBClusterSnapshots', Resource: [rdsArn('cluster:orders-aurora'), rdsArn('cluster-snapshot:cdkbdr-*')] });
  });

  it('uses the schedule\'s time zone, and creates no schedule when disabled', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(30 6 ? * SAT *)', ScheduleExpressionTimezone: 'Europe/Berlin' });
    expect(clusterTest.schedule).toBeUndefined();
  });
});

describe('RecoveryTest validation', () => {
  const build = (props: Partial<RecoveryTestProps>, vpcProps?: ec2.VpcProps) => () => recoveryTest(fixture(vpcProps), props);

  it.each<[string, Partial<RecoveryTestProps>, RegExp]>([
    ['no pg tools layer for dumps', { pgToolsLayer: undefined }, /testing dumps needs pgToolsLayer/],
    ['no postgres version for dumps', { postgresVersion: undefined }, /testing dumps needs postgresVersion/],
    ['a bad postgres version', { postgresVersion: 15.2 }, /postgresVersion must be a PostgreSQL major version such as 16; got 15.2/],
    ['a source name with a slash', { sourceName: 'prod/db' }, /sourceName must be 1-128 characters.*got "prod\/db"/],
    ['duplicate validation query names', { validationQueries: [{ name: 'a', sql: 'SELECT true' }, { name: 'a', sql: 'SELECT true' }] }, /validationQueries\[1\]\.name "a" is used twice/],
    ['an empty validation query', { validationQueries: [{ name: 'a', sql: ' ' }] }, /validationQueries\[0\]\.sql must be a non-empty SQL statement/],
    ['too little scratch storage', { scratchAllocatedStorageGiB: 10 }, /scratchAllocatedStorageGiB must be a whole number from 20 to 65536; got 10/],
    ['an RPO under a minute', { rpo: Duration.seconds(30) }, /rpo must be at least one minute/],
    ['a wait shorter than one poll', { scratchWaitTimeout: Duration.seconds(10) }, /scratchWaitTimeout must be at least 30 seconds/],
    [
      'restoreRoles for snapshots',
      { backups: TestedBackups.instanceSnapshots({ instanceIdentifier: 'orders', database: 'app' }), restoreRoles: true },
      /restoreRoles applies to dump recovery tests only \(a snapshot carries its roles\); remove it/,
    ],
  ])('refuses %s, saying what to change', (_name, props, message) => {
    expect(build(props)).toThrow(message);
  });

  it('passes restoreRoles to the restore of a dump', () => {
    const f = fixture();
    recoveryTest(f, { restoreRoles: true });
    const states = allStates(definitionOf(Template.fromStack(f.stack)));
    expect(states[S.restore].Parameters).toMatchObject({ 'manifestKey.$': '$.backup.dump.manifestKey', createDatabase: true, restoreRoles: true });
  });

  it('refuses a VPC without isolated subnets or with scratch subnets in one Availability Zone', () => {
    expect(build({}, { subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }, { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }] })).toThrow(
      /scratchSubnets selects no subnets of the VPC .*add isolated subnets to the VPC or pass scratchSubnets/,
    );
    expect(build({ scratchSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED, availabilityZones: ['us-east-1a'] } })).toThrow(
      /a DB subnet group needs subnets in at least two Availability Zones/,
    );
  });

  it('refuses bad value objects', () => {
    expect(() => TestedBackups.instanceSnapshots({ instanceIdentifier: 'arn:aws:rds:us-east-1:1:db:x', database: 'app' })).toThrow(/instanceIdentifier must be an RDS identifier/);
    expect(() => TestedBackups.clusterSnapshots({ clusterIdentifier: 'c', database: 'a/b' })).toThrow(/database must be 1-63 characters/);
    expect(() => RecoveryTestSchedule.weekly({ hour: 24 })).toThrow(/hour must be a whole number from 0 to 23; got 24/);
    expect(() => RecoveryTestSchedule.cron({ expression: 'cron(0 5 * * *)' })).toThrow(/six fields/);
    expect(() => RecoveryTestSchedule.cron({ expression: 'cron(0 5 1 * MON *)' })).toThrow(/one of day-of-month and day-of-week must be "\?"/);
    expect(RecoveryTestSchedule.cron({ expression: 'cron(0 6 1 * ? *)' }).cronExpression).toBe('cron(0 6 1 * ? *)');
  });
});

describe('cdk-nag on RecoveryTest', () => {
  const f = fixture();
  recoveryTest(f, { validationQueries: [{ name: 'q', sql: 'SELECT true' }] });
  recoveryTest(f, { backups: TestedBackups.clusterSnapshots({ clusterIdentifier: 'orders-aurora', database: 'orders' }) }, 'ClusterTest');
  const findings = nagFindingsBeyondBaseline(fixture().app, f.app);

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    expect(findings).toEqual([]);
  });

  it('acknowledges each remaining wildcard with a reason, and only the prefixed ones', () => {
    const acks: Array<{ path: string; id: string; reason: string }> = [];
    for (const c of f.app.node.findAll()) {
      if (!/\/(RecoveryTest|ClusterTest)(\/|$)/.test(c.node.path)) continue;
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) acks.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
    const wildcards = [...new Set(acks.filter((a) => a.id.startsWith('AwsSolutions-IAM5[')).map((a) => a.id.replace(/<[^>]+>/g, '<token>')))].sort();
    expect(wildcards).toEqual(
      [
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-IAM5[Resource::<token>/postgres/orders-db/*]',
        'AwsSolutions-IAM5[Resource::<token>/reports/recovery-test/*]',
        'AwsSolutions-IAM5[Resource::<token>:*]',
        `AwsSolutions-IAM5[Resource::arn:<token>:rds:us-east-1:${ACCOUNT}:cluster-pg:default.*]`,
        `AwsSolutions-IAM5[Resource::arn:<token>:rds:us-east-1:${ACCOUNT}:cluster-snapshot:cdkbdr-*]`,
        `AwsSolutions-IAM5[Resource::arn:<token>:rds:us-east-1:${ACCOUNT}:cluster:cdkbdr-rt-*]`,
        `AwsSolutions-IAM5[Resource::arn:<token>:rds:us-east-1:${ACCOUNT}:db:cdkbdr-rt-*]`,
        `AwsSolutions-IAM5[Resource::arn:<token>:rds:us-east-1:${ACCOUNT}:og:default:*]`,
        `AwsSolutions-IAM5[Resource::arn:<token>:rds:us-east-1:${ACCOUNT}:pg:default.*]`,
        `AwsSolutions-IAM5[Resource::arn:<token>:secretsmanager:us-east-1:${ACCOUNT}:secret:cdk-backup-dr/scratch/*]`,
      ].sort(),
    );
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
  });
});
