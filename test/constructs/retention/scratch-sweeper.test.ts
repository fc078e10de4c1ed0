/** ScratchSweeper: its schedule, and IAM that deletes only our tagged scratch databases and secrets. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { BackupBucket, ScratchSweeper } from '../../../lib';

const ACCOUNT = '111111111111';

function build() {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const sweeper = new ScratchSweeper(stack, 'Sweeper', {
    workflows: [sfn.StateMachine.fromStateMachineArn(stack, 'Rt', `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:RecoveryTest`)],
    bucket: new BackupBucket(stack, 'Backups'),
    vpc,
    securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
    logsKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
    notificationTopic: new sns.Topic(stack, 'Topic'),
  });
  return { stack, sweeper, template: Template.fromStack(stack) };
}

describe('ScratchSweeper', () => {
  it('runs daily at 06:00 UTC, not as a dry run', () => {
    build().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      Target: Match.objectLike({ Input: JSON.stringify({ dryRun: false }) }),
    });
  });

  it('deletes only databases and secrets of our names with the creator and purpose tags (a failover\'s only with the dry-run tag)', () => {
    const { template } = build();
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement,
    );
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(bySid('DeleteRecoveryTestDatabases')).toMatchObject({
      Action: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:creator': 'cdk-backup-dr', 'aws:ResourceTag/cdk-backup-dr:purpose': 'recovery-test' } },
    });
    expect(JSON.stringify(bySid('DeleteRecoveryTestDatabases').Resource)).toContain(':db:cdkbdr-rt-*');
    expect(bySid('DeleteFailoverDryRunDatabases').Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/cdk-backup-dr:creator': 'cdk-backup-dr', 'aws:ResourceTag/cdk-backup-dr:purpose': 'failover', 'aws:ResourceTag/cdk-backup-dr:dry-run': 'true' },
    });
    expect(JSON.stringify(bySid('DeleteFailoverDryRunSecrets').Resource)).toContain(':secret:cdk-backup-dr/failover/*');
    expect(JSON.stringify(bySid('AskExecutions').Resource)).toContain(`:states:us-east-1:${ACCOUNT}:execution:RecoveryTest:*`);
  });

  it('refuses no workflows, saying what to give', () => {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    expect(
      () =>
        new ScratchSweeper(stack, 'Sweeper', {
          workflows: [],
          bucket: new BackupBucket(stack, 'Backups'),
          vpc,
          securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
          logsKey: new kms.Key(stack, 'Key'),
          notificationTopic: new sns.Topic(stack, 'Topic'),
        }),
    ).toThrow(/workflows is empty: give the RecoveryTest and Failover state machines/);
  });
});
