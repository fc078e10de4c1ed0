import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import {
  AttributeStore,
  BackupMonitoring,
  BackupRunner,
  BackupSource,
  ChatChannel,
  Failover,
  FailoverSource,
  FailoverStrategy,
  OperationsTopic,
  PostgresBackup,
  RecoveryTest,
  RetentionPolicy,
  SharedBackupResources,
} from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { threeTierVpc } from '../../support/vpc';

const TENANT = '11111111-2222-3333-4444-555555555555';
const TEAM = '66666666-7777-8888-9999-000000000000';

function fixture(options: { replicate?: boolean } = {}) {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: '111111111111', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const bucket = new BackupBucket(stack, 'Backups');
  if (options.replicate) bucket.replicateTo(new BackupBucket(new Stack(app, 'Dr', { env: { account: '111111111111', region: 'us-west-2' } }), 'Replica'));
  const instance = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    instanceIdentifier: 'orders-db',
    storageEncrypted: true,
  });
  return { app, stack, vpc, bucket, instance };
}

function monitored(options: { replicate?: boolean; runner?: BackupRunner } = {}) {
  const f = fixture(options);
  const operations = new OperationsTopic(f.stack, 'Operations', {
    emails: ['oncall@example.com'],
    webhooks: ['https://hooks.example.com/backups'],
    chatChannels: [ChatChannel.slack({ workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' }), ChatChannel.teams({ tenantId: TENANT, teamId: TEAM, channelId: '19%3Aabc%40thread.tacv2' })],
  });
  const backup = new PostgresBackup(f.stack, 'Backup', {
    source: BackupSource.fromInstance(f.instance, { secret: f.instance.secret! }),
    databases: ['orders'],
    vpc: f.vpc,
    bucket: f.bucket,
    postgresVersion: 15,
    sourceName: 'orders-db',
    notificationTopic: operations.topic,
    retention: RetentionPolicy.gfs({ daily: 7, weekly: 4 }),
    runner: options.runner,
  });
  const monitoring = new BackupMonitoring(f.stack, 'Monitoring', { topic: operations.topic, vpc: f.vpc, backup, rpo: Duration.hours(26) });
  return { ...f, operations, backup, monitoring, template: Template.fromStack(f.stack) };
}

describe('OperationsTopic', () => {
  it('is KMS-encrypted, TLS-only, with email, HTTPS and chat subscriptions', () => {
    const { template } = monitored();
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue(), DisplayName: 'cdk-backup-dr operations' });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://hooks.example.com/backups' });
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', { SlackWorkspaceId: 'T0123ABCD', SlackChannelId: 'C0123ABCD' });
    expect(JSON.stringify(template.findResources('AWS::Chatbot::SlackChannelConfiguration'))).toContain(':iam::aws:policy/CloudWatchReadOnlyAccess');
    template.hasResourceProperties('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', { TeamsTenantId: TENANT, TeamId: TEAM, TeamsChannelId: '19%3Aabc%40thread.tacv2' });
  });

  it('refuses an http webhook, a malformed email and a key in another region than the imported topic', () => {
    const stack = new Stack(new App(), 'S', { env: { account: '111111111111', region: 'us-east-1' } });
    expect(() => new OperationsTopic(stack, 'A', { webhooks: ['http://x.example.com'] })).toThrow(/not an https:\/\/ URL/);
    expect(() => new OperationsTopic(stack, 'B', { emails: ['nobody'] })).toThrow(/not an email address/);
    expect(() =>
      OperationsTopic.fromTopicAttributes(stack, 'C', {
        topicArn: 'arn:aws:sns:us-east-1:222222222222:ops',
        encryptionKeyArn: 'arn:aws:kms:us-west-2:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      }),
    ).toThrow(/key is in us-west-2 but the topic in us-east-1/);
    const imported = OperationsTopic.fromTopicAttributes(stack, 'D', {
      topicArn: 'arn:aws:sns:us-east-1:222222222222:ops',
      encryptionKeyArn: 'arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    });
    expect(imported.masterKey?.keyArn).toBe('arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab');
  });
});

describe('SharedBackupResources and the operations topic', () => {
  it('publishes the topic and key ARNs; another app imports them and its constructs are granted the key', () => {
    const f = fixture();
    const operations = new OperationsTopic(f.stack, 'Operations');
    new SharedBackupResources(f.stack, 'Shared', { bucket: f.bucket, store: AttributeStore.ssmParameters('/orders/backups'), operationsTopic: operations });
    const template = Template.fromStack(f.stack);
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/orders/backups/operations-topic-arn', Value: { Ref: Match.stringLikeRegexp('^OperationsTopic') } });
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/orders/backups/operations-topic-key-arn', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OperationsKey'), 'Arn'] } });
    const other = new Stack(new App(), 'OtherApp', { env: { account: '111111111111', region: 'us-east-1' } });
    const topic = SharedBackupResources.importOperationsTopic(other, 'Operations', AttributeStore.ssmParameters('/orders/backups'));
    expect(topic.masterKey).toBeDefined();
    expect(other.resolve(topic.topicArn)).toEqual({ Ref: expect.stringMatching(/^SsmParameterValue/) });
  });
});

describe('BackupMonitoring', () => {
  const m = monitored();
  const topic = { Ref: m.stack.getLogicalId(m.operations.topic.node.defaultChild as never) };
  const alarmOf = (alarm: unknown) => m.template.toJSON().Resources[m.stack.getLogicalId((alarm as { node: { defaultChild: never } }).node.defaultChild)].Properties;

  it('sends ALARM and OK of every alarm to the topic, and describes what to do', () => {
    expect(m.monitoring.alarms.length).toBeGreaterThanOrEqual(7);
    for (const alarm of m.monitoring.alarms) {
      const props = alarmOf(alarm);
      expect(props.AlarmActions).toEqual([topic]);
      expect(props.OKActions).toEqual([topic]);
      expect(props.AlarmDescription).toMatch(/What to do|Read its execution/);
    }
  });

  it('backupFailed: failed + timed out + aborted executions of the backup state machine, missing data not breaching', () => {
    const props = alarmOf(m.monitoring.backupFailed);
    expect(props).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', EvaluationPeriods: 1 });
    const expression = props.Metrics.find((q: { Expression?: string }) => q.Expression);
    expect(expression.Expression).toBe('FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)');
    expect(props.Metrics.map((q: { MetricStat?: { Metric: { MetricName: string } } }) => q.MetricStat?.Metric.MetricName).filter(Boolean).sort()).toEqual([
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
  });

  it('backupOverdue: no LastSuccessTimestamp sample for 26 hourly periods (the RPO), missing data breaching', () => {
    expect(alarmOf(m.monitoring.backupOverdue)).toMatchObject({
      MetricName: 'LastSuccessTimestamp',
      Namespace: 'CdkBackupDr',
      Dimensions: [{ Name: 'Source', Value: 'orders-db' }],
      Statistic: 'SampleCount',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('dumpNearTimeout: the dump function\'s longest invocation of an hour above 70 % of its 15-minute timeout', () => {
    const props = alarmOf(m.monitoring.dumpNearTimeout);
    expect(props).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: m.stack.getLogicalId(m.backup.dumpFunction!.node.defaultChild as never) } }],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 630_000,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(props.AlarmDescription).toContain('DumpCompression.gzip(1)');
    expect(props.AlarmDescription).toContain('runner: BackupRunner.fargate({ cpu, memoryLimitMiB })');
    // Without a RecoveryTest there is no restore to watch.
    expect(m.monitoring.restoreNearTimeout).toBeUndefined();
  });

  it('dumpNearTimeout is not created on the Fargate runner (no dump function, no 15-minute limit); the other alarms are', () => {
    const fargate = monitored({ runner: BackupRunner.fargate() });
    expect(fargate.monitoring.dumpNearTimeout).toBeUndefined();
    expect(fargate.monitoring.backupFailed).toBeDefined();
    const durationAlarms = Object.values(fargate.template.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'Duration');
    expect(durationAlarms).toEqual([]);
  });

  it('backupTooSmall: the freshness size ratio under half the median, missing data ignored', () => {
    expect(alarmOf(m.monitoring.backupTooSmall)).toMatchObject({ MetricName: 'LatestBackupSizeRatio', Threshold: 0.5, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'ignore' });
  });

  it('cleanup and snapshot quota: the cleanup state machine, and used / quota above 80 %', () => {
    expect(alarmOf(m.monitoring.cleanupFailed)).toMatchObject({ Threshold: 1, TreatMissingData: 'notBreaching' });
    const quota = alarmOf(m.monitoring.snapshotQuota);
    expect(quota).toMatchObject({ Threshold: 80, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'ignore' });
    expect(quota.Metrics.find((q: { Expression?: string }) => q.Expression).Expression).toBe('100 * used0 / quota0');
  });

  it('functionErrors: errors and throttles of every function, at most 10 metrics per alarm', () => {
    expect(m.monitoring.functionErrors.length).toBeGreaterThanOrEqual(1);
    for (const alarm of m.monitoring.functionErrors) {
      const metrics = alarmOf(alarm).Metrics.filter((q: { MetricStat?: unknown }) => q.MetricStat);
      expect(metrics.length).toBeLessThanOrEqual(10);
      expect(alarmOf(alarm)).toMatchObject({ Threshold: 1, TreatMissingData: 'notBreaching' });
    }
  });

  it('a freshness state machine runs the freshness function hourly; the function reads only the backup reports', () => {
    m.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)' });
    const fn = m.template.toJSON().Resources[m.stack.getLogicalId(m.monitoring.freshnessFunction!.node.defaultChild as never)];
    const targets = JSON.parse(fn.Properties.Environment.Variables.FRESHNESS_TARGETS['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(targets).toEqual([{ kind: 'backup', bucket: 'BUCKET', source: 'orders-db', lookBackSeconds: (8 + 2) * 86400 }]);
  });

  it('has a dashboard with the backup age, sizes, storage classes, snapshots and Lambda errors', () => {
    const [dashboard] = Object.values(m.template.findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: unknown } }>;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of ['Last successful backup age (hours) vs RPO', 'Backup size (bytes) and duration (s)', 'Backup bucket: bytes per storage class', 'Manual snapshots vs quota', 'Lambda errors']) {
      expect(body).toContain(title);
    }
    expect(body).toContain('LatestBackupAgeSeconds');
    expect(body).toContain('GlacierInstantRetrievalStorage');
  });

  it('restoreNearTimeout: the recovery test\'s restore function, at 70 % of its timeout', () => {
    const f = fixture();
    const operations = new OperationsTopic(f.stack, 'Operations', { emails: ['oncall@example.com'] });
    const layer = lambda.LayerVersion.fromLayerVersionArn(f.stack, 'Layer', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1');
    const recoveryTest = new RecoveryTest(f.stack, 'RecoveryTest', { bucket: f.bucket, sourceName: 'orders-db', vpc: f.vpc, pgToolsLayer: layer, postgresVersion: 15,
      scratchSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
    const monitoring = new BackupMonitoring(f.stack, 'M4', { topic: operations.topic, vpc: f.vpc, recoveryTest });
    const restore = recoveryTest.restoreFunction!;
    const alarm = Template.fromStack(f.stack).toJSON().Resources[f.stack.getLogicalId(monitoring.restoreNearTimeout!.node.defaultChild as never)].Properties;
    expect(alarm).toMatchObject({
      MetricName: 'Duration',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: f.stack.getLogicalId(restore.node.defaultChild as never) } }],
      Statistic: 'Maximum',
      Threshold: Math.round(restore.timeout!.toMilliseconds() * 0.7),
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(monitoring.dumpNearTimeout).toBeUndefined();
  });

  it('refuses an RPO shorter than the backup interval and a fraction outside (0, 1)', () => {
    const f = monitored();
    expect(() => new BackupMonitoring(f.stack, 'M2', { topic: f.operations.topic, vpc: f.vpc, backup: f.backup, rpo: Duration.hours(2) })).toThrow(/shorter than the backup interval/);
    expect(() => new BackupMonitoring(f.stack, 'M3', { topic: f.operations.topic, vpc: f.vpc, backup: f.backup, smallBackupFraction: 2 })).toThrow(/smallBackupFraction must be between 0 and 1/);
  });

  it('adds no cdk-nag finding beyond the constructs it watches', () => {
    const baseline = fixture();
    new PostgresBackup(baseline.stack, 'Backup', {
      source: BackupSource.fromInstance(baseline.instance, { secret: baseline.instance.secret! }),
      databases: ['orders'],
      vpc: baseline.vpc,
      bucket: baseline.bucket,
      postgresVersion: 15,
      sourceName: 'orders-db',
      retention: RetentionPolicy.gfs({ daily: 7, weekly: 4 }),
    });
    expect(nagFindingsBeyondBaseline(baseline.app, monitored().app)).toEqual([]);
  });
});

/** Alarm properties of `alarm` in `template`. */
function alarmProps(stack: Stack, template: Template, alarm: unknown): Record<string, unknown> & { Metrics?: Array<Record<string, never>> } {
  return template.toJSON().Resources[stack.getLogicalId((alarm as { node: { defaultChild: never } }).node.defaultChild)].Properties;
}

/** Names of the metrics an alarm's math expression uses. */
function metricNames(props: { Metrics?: Array<{ MetricStat?: { Metric: { MetricName: string } } }> }): string[] {
  return (props.Metrics ?? []).map((q) => q.MetricStat?.Metric.MetricName).filter((n): n is string => n !== undefined).sort();
}

describe('BackupMonitoring of a replicating bucket', () => {
  const m = monitored({ replicate: true });
  const topic = { Ref: m.stack.getLogicalId(m.operations.topic.node.defaultChild as never) };

  it('replicationLatency: AWS/S3 ReplicationLatency of the rule to the replica above 15 min for three 5-minute periods', () => {
    const props = alarmProps(m.stack, m.template, m.monitoring.replicationLatency);
    expect(props).toMatchObject({
      Namespace: 'AWS/S3',
      MetricName: 'ReplicationLatency',
      Statistic: 'Maximum',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
    });
    expect((props.Dimensions as Array<{ Name: string }>).map((d) => d.Name).sort()).toEqual(['DestinationBucket', 'RuleId', 'SourceBucket']);
  });

  it('replicationFailed: any failed replication operation', () => {
    expect(alarmProps(m.stack, m.template, m.monitoring.replicationFailed)).toMatchObject({
      Namespace: 'AWS/S3',
      MetricName: 'OperationsFailedReplication',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
    });
  });

  it('has a replication latency widget against the threshold; a bucket that does not replicate has neither alarm nor widget', () => {
    const [dashboard] = Object.values(m.template.findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: unknown } }>;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('Replication latency (s)');
    expect(body).toMatch(/\\"value\\":900,\\"label\\":\\"threshold\\"/);
    const plain = monitored();
    expect(plain.monitoring.replicationLatency).toBeUndefined();
    expect(plain.monitoring.replicationFailed).toBeUndefined();
    expect(JSON.stringify(plain.template.toJSON())).not.toContain('ReplicationLatency');
  });
});

describe('BackupMonitoring of a recovery test and a failover (DR stack)', () => {
  function drMonitored(options: { rto?: boolean; withoutMonitoring?: boolean } = { rto: true }) {
    const app = new App();
    const stack = new Stack(app, 'Dr', { env: { account: '111111111111', region: 'us-west-2' } });
    const vpc = threeTierVpc(stack);
    const bucket = new BackupBucket(stack, 'ReplicaBackups');
    const operations = new OperationsTopic(stack, 'Operations', { emails: ['oncall@example.com'] });
    const layer = lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', 'arn:aws:lambda:us-west-2:111111111111:layer:pg-tools:3');
    const recoveryTest = new RecoveryTest(stack, 'RecoveryTest', {
      bucket,
      sourceName: 'orders-db',
      vpc,
      pgToolsLayer: layer,
      postgresVersion: 16,
      notificationTopic: operations.topic,
      rpo: Duration.hours(26),
      ...(options.rto ? { rto: Duration.hours(2) } : {}),
    });
    const failover = new Failover(stack, 'Failover', {
      source: FailoverSource.instance('orders-db'),
      primaryRegion: 'us-east-1',
      database: 'orders',
      strategies: [FailoverStrategy.restoreSnapshot({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO) })],
      rpo: Duration.hours(24),
      bucket,
      vpc,
      sourceName: 'orders-db',
      notificationTopic: operations.topic,
      ...(options.rto ? { rto: Duration.hours(1) } : {}),
    });
    if (options.withoutMonitoring) return { app };
    const monitoring = new BackupMonitoring(stack, 'Monitoring', { topic: operations.topic, vpc, recoveryTest, failover });
    const template = Template.fromStack(stack);
    const topic = { Ref: stack.getLogicalId(operations.topic.node.defaultChild as never) };
    const alarm = (a: unknown) => alarmProps(stack, template, a);
    return { app, stack, recoveryTest, failover, monitoring, template, topic, alarm };
  }
  const m = drMonitored() as Required<ReturnType<typeof drMonitored>>;

  it('recoveryTestFailed: failed + timed out + aborted executions of the recovery-test state machine', () => {
    const props = m.alarm(m.monitoring.recoveryTestFailed);
    expect(props).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching', AlarmActions: [m.topic], OKActions: [m.topic] });
    expect(props.Metrics?.find((q: { Expression?: string }) => q.Expression)).toMatchObject({ Expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)' });
    expect(metricNames(props as never)).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    const machineRef = { Ref: m.stack.getLogicalId(m.recoveryTest.stateMachine.node.defaultChild as never) };
    expect(JSON.stringify(props.Metrics)).toContain(JSON.stringify(machineRef));
    expect(props.AlarmDescription).toMatch(/What to do/);
  });

  it('recoveryTestOverdue: the freshness age above the weekly interval plus the 1-day margin, missing data breaching', () => {
    expect(m.alarm(m.monitoring.recoveryTestOverdue)).toMatchObject({
      Namespace: 'CdkBackupDr',
      MetricName: 'LatestPassedRecoveryTestAgeSeconds',
      Dimensions: [{ Name: 'Source', Value: 'orders-db' }],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 8 * 86400,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      TreatMissingData: 'breaching',
      AlarmActions: [m.topic],
      OKActions: [m.topic],
    });
  });

  it('recoveryTestRto and recoveryTestDataAge: the measured RTO above rto, the data age above rpo, missing data ignored', () => {
    expect(m.alarm(m.monitoring.recoveryTestRto)).toMatchObject({
      MetricName: 'RecoveryTestRtoSeconds',
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 7200,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'ignore',
      AlarmActions: [m.topic],
      OKActions: [m.topic],
    });
    expect(m.alarm(m.monitoring.recoveryTestDataAge)).toMatchObject({
      MetricName: 'BackupAgeSeconds',
      Threshold: 26 * 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'ignore',
      AlarmActions: [m.topic],
    });
  });

  it('failoverFailed: failed + timed out + aborted executions of the failover state machine', () => {
    const props = m.alarm(m.monitoring.failoverFailed);
    expect(props).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', AlarmActions: [m.topic], OKActions: [m.topic] });
    expect(metricNames(props as never)).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    expect(JSON.stringify(props.Metrics)).toContain(JSON.stringify({ Ref: m.stack.getLogicalId(m.failover.stateMachine.node.defaultChild as never) }));
  });

  it('rehearsalOverdue: no successful rehearsal within 90 days (freshness), missing data breaching', () => {
    expect(m.alarm(m.monitoring.rehearsalOverdue)).toMatchObject({
      MetricName: 'LatestFailoverRehearsalAgeSeconds',
      Dimensions: [{ Name: 'Source', Value: 'orders-db' }],
      Threshold: 90 * 86400,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      TreatMissingData: 'breaching',
      AlarmActions: [m.topic],
      OKActions: [m.topic],
    });
  });

  it('rehearsalRto: the rehearsals\' measured RTO (Mode rehearsal) above the failover rto', () => {
    const props = m.alarm(m.monitoring.rehearsalRto);
    expect(props).toMatchObject({ MetricName: 'FailoverRtoSeconds', Threshold: 3600, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'ignore', AlarmActions: [m.topic] });
    expect(props.Dimensions).toEqual(expect.arrayContaining([{ Name: 'Source', Value: 'orders-db' }, { Name: 'Mode', Value: 'rehearsal' }]));
  });

  it('without rto there are no RTO alarms and the RTO widgets have no target line', () => {
    const plain = drMonitored({ rto: false }) as Required<ReturnType<typeof drMonitored>>;
    expect(plain.monitoring.recoveryTestRto).toBeUndefined();
    expect(plain.monitoring.rehearsalRto).toBeUndefined();
    const [dashboard] = Object.values(plain.template.findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: unknown } }>;
    expect(JSON.stringify(dashboard.Properties.DashboardBody)).not.toContain('\\"label\\":\\"RTO\\"');
  });

  it('the freshness function measures the recovery tests and rehearsals of the source (interval + margin + 2 days; 90 + 2 days)', () => {
    const fn = m.template.toJSON().Resources[m.stack.getLogicalId(m.monitoring.freshnessFunction!.node.defaultChild as never)];
    const targets = JSON.parse(fn.Properties.Environment.Variables.FRESHNESS_TARGETS['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(targets).toEqual([
      { kind: 'recovery-test', bucket: 'BUCKET', source: 'orders-db', lookBackSeconds: (7 + 1 + 2) * 86400 },
      { kind: 'failover', bucket: 'BUCKET', source: 'orders-db', lookBackSeconds: (90 + 2) * 86400 },
    ]);
  });

  it('adds no cdk-nag finding beyond the recovery test and failover it watches', () => {
    expect(nagFindingsBeyondBaseline(drMonitored({ rto: true, withoutMonitoring: true }).app, m.app)).toEqual([]);
  });

  it('dashboard: recovery-test outcomes, RTO and data age against their targets, days since the last test and rehearsal', () => {
    const [dashboard] = Object.values(m.template.findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } } }>;
    const text = dashboard.Properties.DashboardBody['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    const widgets = (JSON.parse(text) as { widgets: Array<{ properties: { title: string; metrics: unknown[][]; annotations?: { horizontal?: Array<{ value: number; label: string }> } } }> }).widgets;
    const byTitle = (title: string) => {
      const found = widgets.find((w) => w.properties.title === title);
      if (!found) throw new Error(`no widget "${title}" among ${widgets.map((w) => w.properties.title).join(', ')}`);
      return found.properties;
    };
    const lines = (title: string) => byTitle(title).annotations?.horizontal?.map((a) => [a.label, a.value]);
    const metricsOf = (title: string) => JSON.stringify(byTitle(title).metrics);
    expect(lines('Recovery test: measured RTO (s) vs target')).toEqual([['RTO', 7200]]);
    expect(metricsOf('Recovery test: measured RTO (s) vs target')).toContain('RecoveryTestRtoSeconds');
    expect(lines('Recovery test: data age (hours) vs RPO')).toEqual([['RPO', 26]]);
    expect(metricsOf('Recovery test: data age (hours) vs RPO')).toContain('BackupAgeSeconds');
    expect(metricsOf('Recovery tests: passed (1) / failed (0)')).toContain('RecoveryTestSucceeded');
    expect(lines('Days since the last passing recovery test')).toEqual([['interval', 7]]);
    expect(metricsOf('Days since the last passing recovery test')).toContain('LatestPassedRecoveryTestAgeSeconds');
    expect(lines('Days since the last successful failover rehearsal')).toEqual([['rehearsal interval', 90]]);
    expect(lines('Failover rehearsal: measured RTO (s) vs target')).toEqual([['RTO', 3600]]);
    expect(metricsOf('Failover rehearsal: measured RTO (s) vs target')).toContain('FailoverRtoSeconds');
    expect(byTitle('Backup bucket: bytes per storage class')).toBeDefined();
    expect(metricsOf('Lambda errors')).toContain('Errors');
    // No backup watched: no backup widgets.
    expect(widgets.map((w) => w.properties.title)).not.toContain('Last successful backup age (hours) vs RPO');
  });
});
