/**
 * PostgresDisasterRecovery: one construct wires the bucket and its replica, PostgresBackup with snapshot copies under
 * a DR key and retention, RecoveryTest and a Failover in the DR stack, an operations topic, BackupMonitoring and a
 * ScratchSweeper in each region, the RTO and the Failover's name; its synth errors say what to change; and it adds no
 * unacknowledged cdk-nag finding over both stacks.
 */
import { App, CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  BackupMonitoring,
  BackupRunner,
  BackupSchedule,
  BackupSource,
  ChatChannel,
  ConfigurationError,
  PostgresDisasterRecovery,
  RecoveryTestSchedule,
  RetentionPolicy,
  ScratchSweeper,
  type PostgresDisasterRecoveryProps,
} from '../../../lib';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { statementsOf } from '../../support/template-inspection';
import { threeTierVpc } from '../../support/vpc';

const ACCOUNT = '111111111111';

interface Fixture {
  readonly app: App;
  readonly primary: Stack;
  readonly dr: Stack;
  readonly dr2?: PostgresDisasterRecovery;
}

/** A primary stack with a VPC and an RDS for PostgreSQL 15 instance, a DR stack with a VPC; the construct when `with`. */
function fixture(overrides: Partial<PostgresDisasterRecoveryProps> = {}, options: { with?: boolean; drRegion?: string; instanceIdentifier?: string | null } = {}): Fixture {
  const app = new App();
  const dr = new Stack(app, 'Dr', { env: { account: ACCOUNT, region: options.drRegion ?? 'us-west-2' } });
  const primary = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const vpc = threeTierVpc(primary);
  const drVpc = threeTierVpc(dr);
  const db = new rds.DatabaseInstance(primary, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    instanceIdentifier: options.instanceIdentifier === null ? undefined : (options.instanceIdentifier ?? 'orders-db'),
  });
  if (options.with === false) return { app, primary, dr };
  const dr2 = new PostgresDisasterRecovery(primary, 'Orders', {
    source: BackupSource.fromInstance(db, { secret: db.secret! }),
    databases: ['orders', 'billing'],
    postgresVersion: 15,
    vpc,
    drStack: dr,
    drVpc,
    ...overrides,
  });
  return { app, primary, dr, dr2 };
}

function envOf(stack: Stack, fn: lambda.IFunction): Record<string, unknown> {
  const resource = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)] as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  return resource.Properties.Environment.Variables;
}

function importedTopic(region: string): sns.ITopic {
  return sns.Topic.fromTopicArn(new Stack(), 'Topic', `arn:aws:sns:${region}:${ACCOUNT}:ops`);
}

function refused(overrides: Partial<PostgresDisasterRecoveryProps>, options: { drRegion?: string; instanceIdentifier?: string | null } = {}): string {
  try {
    fixture(overrides, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('PostgresDisasterRecovery wiring', () => {
  let f: Fixture;
  let primary: Template;
  let dr: Template;

  beforeAll(() => {
    f = fixture();
    primary = Template.fromStack(f.primary);
    dr = Template.fromStack(f.dr);
  });

  it('puts the replica bucket, the snapshot key and the Failover in the DR stack; bucket, backups and recovery test in the primary', () => {
    const dr2 = f.dr2!;
    expect(Stack.of(dr2.replica)).toBe(f.dr);
    expect(Stack.of(dr2.snapshotKey!)).toBe(f.dr);
    expect(Stack.of(dr2.failover)).toBe(f.dr);
    expect(Stack.of(dr2.bucket)).toBe(f.primary);
    expect(Stack.of(dr2.backup)).toBe(f.primary);
    expect(Stack.of(dr2.recoveryTest)).toBe(f.primary);
    // Primary: backup, retention (both regions' runs), recovery test, freshness, sweeper. DR: failover, freshness, sweeper.
    expect(Object.keys(primary.findResources('AWS::StepFunctions::StateMachine')).length).toBe(5);
    expect(Object.keys(dr.findResources('AWS::StepFunctions::StateMachine')).length).toBe(3);
    expect(Stack.of(dr2.monitoring)).toBe(f.primary);
    expect(Stack.of(dr2.drMonitoring)).toBe(f.dr);
    expect(Stack.of(dr2.sweeper)).toBe(f.primary);
    expect(Stack.of(dr2.drSweeper)).toBe(f.dr);
  });

  it('replicates the bucket to the replica and copies snapshots to the DR region under the DR key, named by its alias', () => {
    // The replica lives in another region, so CDK gives it a physical name that the primary's rule spells out.
    const replicaName = Object.values(dr.findResources('AWS::S3::Bucket'))
      .map((b) => (b as { Properties: { BucketName?: string } }).Properties.BucketName)
      .find((name) => typeof name === 'string' && name.includes('replica'));
    expect(replicaName).toBeDefined();
    primary.hasResourceProperties('AWS::S3::Bucket', {
      ReplicationConfiguration: { Rules: [{ Destination: { Bucket: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${replicaName}`]] } } }] },
    });
    const aliases = dr.findResources('AWS::KMS::Alias');
    const snapshotAlias = Object.values(aliases)
      .map((a) => (a as { Properties: { AliasName: string } }).Properties.AliasName)
      .find((name) => name.endsWith('-snapshots'));
    expect(snapshotAlias).toMatch(/^alias\/cdk-backup-dr\/.+-snapshots$/);
    const snapshotFunction = f.dr2!.backup.snapshotFunction!;
    const env = Template.fromStack(f.primary).toJSON().Resources[f.primary.getLogicalId(snapshotFunction.node.defaultChild as never)].Properties.Environment.Variables;
    expect(JSON.stringify(env)).toContain('us-west-2');
    expect(JSON.stringify(env)).toContain(snapshotAlias);
  });

  it('backs up daily at 03:00 UTC, keeps 7 daily, 4 weekly and 12 monthly backups, and tests weekly', () => {
    primary.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 3 * * ? *)' });
    expect(f.dr2!.backup.retention).toBeDefined();
    primary.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 5 ? * SUN *)' });
    expect(f.dr2!.rpo.toHours()).toBe(26);
    expect(f.dr2!.failover.strategyNames).toEqual(['restore-snapshot', 'restore-dump']);
  });

  it('tells each region\'s operations topic about every run: backups and recovery test in the primary, the failover in the DR region', () => {
    const dr2 = f.dr2!;
    expect(Stack.of(dr2.topic)).toBe(f.primary);
    expect(Stack.of(dr2.drTopic)).toBe(f.dr);
    expect(dr2.backup.notificationTopic).toBe(dr2.topic);
    expect(dr2.recoveryTest.notificationTopic).toBe(dr2.topic);
    expect(dr2.failover.notificationTopic).toBe(dr2.drTopic);
    // One topic per region: none of the parts creates a topic of its own.
    primary.resourceCountIs('AWS::SNS::Topic', 1);
    dr.resourceCountIs('AWS::SNS::Topic', 1);
    const topicRef = (stack: Stack, topic: sns.ITopic) => ({ Ref: stack.getLogicalId(topic.node.defaultChild as CfnElement) });
    primary.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef(f.primary, dr2.topic)] });
    dr.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef(f.dr, dr2.drTopic)] });
    expect(dr2.monitoring.backupOverdue).toBeDefined();
    expect(dr2.monitoring.recoveryTestFailed).toBeDefined();
    expect(dr2.drMonitoring.failoverFailed).toBeDefined();
    expect(dr2.drMonitoring.backupFailed).toBeUndefined();
  });

  it('warns when nobody is subscribed', () => {
    Annotations.fromStack(f.primary).hasWarning('/Primary/Orders', Match.stringLikeRegexp('notifications has no emails, webhooks or chat channels'));
  });

  it('checks every recovery test and failover against the RTO (4 hours by default), failing runs that take longer', () => {
    const dr2 = f.dr2!;
    expect(envOf(f.primary, dr2.recoveryTest.reportFunction)).toMatchObject({ RTO_SECONDS: '14400', RTO_ENFORCED: 'true' });
    expect(envOf(f.dr, dr2.failover.reportFunction)).toMatchObject({ RTO_SECONDS: '14400', RTO_ENFORCED: 'true' });
  });

  it('names the Failover state machine after the source, and the primary\'s cleanup keeps the backups its running executions picked', () => {
    const dr2 = f.dr2!;
    expect(dr2.failoverStateMachineName).toBe('cdkbdr-failover-orders-db');
    dr.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'cdkbdr-failover-orders-db' });
    const cleanup = dr2.backup.retention!.cleanupFunction;
    const inUse = JSON.stringify(envOf(f.primary, cleanup).IN_USE_STATE_MACHINES);
    expect(inUse).toContain(`:states:us-west-2:${ACCOUNT}:stateMachine:cdkbdr-failover-orders-db`);
    expect(inUse).toContain(f.primary.getLogicalId(dr2.recoveryTest.stateMachine.node.defaultChild as CfnElement));
    const statements = JSON.stringify(statementsOf(primary, cleanup));
    expect(statements).toContain(`:states:us-west-2:${ACCOUNT}:stateMachine:cdkbdr-failover-orders-db`);
    expect(statements).toContain(`:states:us-west-2:${ACCOUNT}:execution:cdkbdr-failover-orders-db:*`);
  });

  it('sweeps what aborted recovery tests left in the primary region and what aborted rehearsals left in the DR region', () => {
    const dr2 = f.dr2!;
    const swept = (stack: Stack, fn: lambda.IFunction) => JSON.stringify(envOf(stack, fn).SWEPT_STATE_MACHINES);
    expect(swept(f.primary, dr2.sweeper.sweepFunction)).toContain(f.primary.getLogicalId(dr2.recoveryTest.stateMachine.node.defaultChild as CfnElement));
    expect(swept(f.dr, dr2.drSweeper.sweepFunction)).toContain(f.dr.getLogicalId(dr2.failover.stateMachine.node.defaultChild as CfnElement));
    // A timed-out or aborted sweep's message names the source, in both regions.
    for (const [stack, template, sweeper] of [[f.primary, primary, dr2.sweeper], [f.dr, dr, dr2.drSweeper]] as const) {
      const stateMachine = stack.getLogicalId(sweeper.stateMachine.node.defaultChild as CfnElement);
      const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) => JSON.stringify(r).includes(`"Ref":"${stateMachine}"`));
      expect(rules).toHaveLength(1);
      // The source is the instance 'orders-db' (a Ref to it in the primary stack), not the stack's name, the fallback.
      expect(JSON.stringify(rules[0])).not.toContain(`\\"source\\":\\"${stack.stackName}\\"`);
      expect(JSON.stringify(rules[0])).toMatch(/\\"source\\":\\"(orders-db\\"|",\{"Ref":"Db)/);
    }
    // Its own security group: HTTPS out, nothing else (it reaches no database).
    primary.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('the sweeper function'),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }],
    });
  });

  it('alarms on a failed, timed-out or aborted sweep in each region and counts the sweep function in functionErrors', () => {
    const dr2 = f.dr2!;
    const cases: Array<[Stack, Template, BackupMonitoring, ScratchSweeper]> = [
      [f.primary, primary, dr2.monitoring, dr2.sweeper],
      [f.dr, dr, dr2.drMonitoring, dr2.drSweeper],
    ];
    for (const [stack, template, monitoring, sweeper] of cases) {
      expect(monitoring.sweepFailed).toBeDefined();
      const alarm = template.toJSON().Resources[stack.getLogicalId(monitoring.sweepFailed!.node.defaultChild as CfnElement)].Properties;
      expect(alarm).toMatchObject({ Threshold: 1, TreatMissingData: 'notBreaching' });
      const stateMachine = { Ref: stack.getLogicalId(sweeper.stateMachine.node.defaultChild as CfnElement) };
      const dimensions = alarm.Metrics.filter((q: { MetricStat?: unknown }) => q.MetricStat).map(
        (q: { MetricStat: { Metric: { Dimensions: Array<{ Value: unknown }> } } }) => q.MetricStat.Metric.Dimensions[0].Value,
      );
      expect(dimensions).toEqual([stateMachine, stateMachine, stateMachine]);
      const sweepFunction = { Ref: stack.getLogicalId(sweeper.sweepFunction.node.defaultChild as CfnElement) };
      const watched = monitoring.functionErrors.flatMap((a) =>
        template.toJSON().Resources[stack.getLogicalId(a.node.defaultChild as CfnElement)].Properties.Metrics.filter((q: { MetricStat?: unknown }) => q.MetricStat)
          .map((q: { MetricStat: { Metric: { Dimensions: Array<{ Value: unknown }> } } }) => JSON.stringify(q.MetricStat.Metric.Dimensions[0].Value)),
      );
      expect(watched).toContain(JSON.stringify(sweepFunction));
    }
  });

  it('adds no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding in either stack', () => {
    expect(nagFindingsBeyondBaseline(fixture({}, { with: false }).app, fixture().app)).toEqual([]);
  });
});

describe('PostgresDisasterRecovery notifications and RTO', () => {
  it('subscribes emails, webhooks and chat channels to an operations topic in each region', () => {
    const f = fixture({
      notifications: {
        emails: ['dba-oncall@example.com'],
        webhooks: ['https://hooks.example.com/backups'],
        chat: [ChatChannel.slack({ workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' })],
      },
      rto: Duration.hours(2),
      enforceRto: false,
    });
    for (const stack of [f.primary, f.dr]) {
      const t = Template.fromStack(stack);
      t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'dba-oncall@example.com' });
      t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://hooks.example.com/backups' });
      t.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 1);
    }
    expect(f.dr2!.operationsTopic).toBeDefined();
    expect(f.dr2!.drOperationsTopic).toBeDefined();
    Annotations.fromStack(f.primary).hasNoWarning('/Primary/Orders', Match.stringLikeRegexp('notifications has no'));
    // rto: 2 hours, reported but not failing the run.
    expect(envOf(f.primary, f.dr2!.recoveryTest.reportFunction)).toMatchObject({ RTO_SECONDS: '7200', RTO_ENFORCED: 'false' });
    expect(envOf(f.dr, f.dr2!.failover.reportFunction)).toMatchObject({ RTO_SECONDS: '7200', RTO_ENFORCED: 'false' });
  });

  it('uses your own topics, one per region, and creates none', () => {
    const topics = {
      primary: sns.Topic.fromTopicArn(new Stack(), 'P', `arn:aws:sns:us-east-1:${ACCOUNT}:ops`),
      dr: sns.Topic.fromTopicArn(new Stack(), 'D', `arn:aws:sns:us-west-2:${ACCOUNT}:ops`),
    };
    const f = fixture({ notifications: { topics } });
    expect(f.dr2!.topic).toBe(topics.primary);
    expect(f.dr2!.drTopic).toBe(topics.dr);
    expect(f.dr2!.operationsTopic).toBeUndefined();
    Template.fromStack(f.primary).resourceCountIs('AWS::SNS::Topic', 0);
    Template.fromStack(f.dr).resourceCountIs('AWS::SNS::Topic', 0);
    Template.fromStack(f.dr).hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [`arn:aws:sns:us-west-2:${ACCOUNT}:ops`] });
    // Imported by ARN alone, their keys are unknown: an encrypted topic would refuse every publish, so synth warns.
    Annotations.fromStack(f.primary).hasWarning('/Primary/Orders', Match.stringLikeRegexp('notifications.topics.primary and dr has no KMS key known to CDK'));
  });

  it('takes a failoverStateMachineName', () => {
    const f = fixture({ failoverStateMachineName: 'orders-failover' });
    Template.fromStack(f.dr).hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'orders-failover' });
    expect(JSON.stringify(envOf(f.primary, f.dr2!.backup.retention!.cleanupFunction).IN_USE_STATE_MACHINES)).toContain(':stateMachine:orders-failover');
  });
});

describe('PostgresDisasterRecovery synth errors', () => {
  it.each<[string, Partial<PostgresDisasterRecoveryProps>, RegExp, { drRegion?: string; instanceIdentifier?: string | null }]>([
    ['a DR stack in the primary region', {}, /drStack is in us-east-1, the region of the primary stack: .* Pass a stack of another region/, { drRegion: 'us-east-1' }],
    ['an RPO shorter than the backup interval', { rpo: Duration.hours(12) }, /rpo is 12 hours, but backups run only every 24 hours: .* raise rpo to at least 26 hours/, {}],
    [
      'a recovery test rarer than the retention keeps backups',
      { retention: RetentionPolicy.gfs({ daily: 3 }), recoveryTest: { schedule: RecoveryTestSchedule.cron({ expression: 'cron(0 6 1 * ? *)' }) } },
      /the recovery test runs about every 30 days, but the retention deletes .* after 3 days: .* Keep at least 30 daily backups/,
      {},
    ],
    ['a tested database that is not dumped', { recoveryTest: { database: 'crm' } }, /recoveryTest.database 'crm' is not one of databases \(orders, billing\)/, {}],
    ['no database', { databases: [] }, /databases is empty/, {}],
    ['an instance without an explicit identifier', {}, /instance has no explicit identifier.*Give it one: instanceIdentifier: 'orders-db'/, { instanceIdentifier: null }],
    [
      'both own topics and subscriptions',
      { notifications: { topics: { primary: importedTopic('us-east-1'), dr: importedTopic('us-west-2') }, emails: ['a@example.com'] } },
      /notifications has topics and emails: with your own topics, subscribe to them yourself. Pass either notifications.topics or notifications.emails, not both/,
      {},
    ],
    [
      'a DR topic of the primary region',
      { notifications: { topics: { primary: importedTopic('us-east-1'), dr: importedTopic('us-east-1') } } },
      /notifications.topics.dr is in us-east-1, but the DR stack in us-west-2: .* Pass a topic of us-west-2/,
      {},
    ],
    ['a failover state machine name with a dot', { failoverStateMachineName: 'orders.failover' }, /failoverStateMachineName "orders.failover" must be 1-80 characters of letters, digits, "-" or "_"/, {}],
  ])('refuses %s, saying what to change', (_, overrides, message, options) => {
    const text = refused(overrides, options);
    expect(text).toMatch(/PostgresDisasterRecovery/);
    expect(text).toMatch(message);
  });

  it('refuses what its parts refuse, the part saying what to change', () => {
    expect(() => fixture({ notifications: { emails: ['oncall'] } })).toThrow(/OperationsTopic Primary\/Orders\/Operations: email "oncall" is not an email address: pass name@example.com/);
    expect(() => fixture({ rto: Duration.seconds(30) })).toThrow(/rto must be at least one minute/);
  });

  it('accepts hourly-enough schedules for a short RPO: weekly backups need an RPO of at least 7 days', () => {
    expect(refused({ schedules: [BackupSchedule.weekly()], rpo: Duration.days(3) })).toMatch(/every 168 hours/);
    expect(() => fixture({ schedules: [BackupSchedule.weekly()], rpo: Duration.days(8) })).not.toThrow();
  });
});

describe('PostgresDisasterRecovery with runner: BackupRunner.fargate', () => {
  const f = fixture({ runner: BackupRunner.fargate({ cpu: 2048, memoryLimitMiB: 8192 }) });
  const template = Template.fromStack(f.primary);

  it('runs the dumps and the recovery test\'s restores in Fargate tasks of that size, and builds no pg tools layer in the primary region', () => {
    expect(f.dr2!.backup.dumpTask).toBeDefined();
    expect(f.dr2!.recoveryTest.restoreTask).toBeDefined();
    expect(f.dr2!.pgTools).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    const handlers = Object.values(template.findResources('AWS::ECS::TaskDefinition')).map((td) => {
      expect(td.Properties).toMatchObject({ Cpu: '2048', Memory: '8192' });
      const env = (td.Properties.ContainerDefinitions[0].Environment as Array<{ Name: string; Value: unknown }>).find((e) => e.Name === 'RUNNER_HANDLER');
      return env?.Value;
    });
    expect(handlers.sort()).toEqual(['dump', 'restore', 'verify']);
  });

  it('runs the default restore-dump failover in a Fargate task in the DR region too', () => {
    expect(f.dr2!.failover.restoreTask).toBeDefined();
    expect(f.dr2!.failover.restoreFunction).toBeUndefined();
    Template.fromStack(f.dr).hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '2048', Memory: '8192' });
  });
});
