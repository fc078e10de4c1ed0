/**
 * PostgresBackup with `retention`: the cleanup function, state machine and schedule, least-privilege IAM (deleting
 * only tagged snapshots of this package, only objects under the source's prefix), the synth checks, and cdk-nag.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { CfnElement } from 'aws-cdk-lib';

type Policy = { Properties: { Roles: unknown[]; PolicyDocument: { Statement: Array<Record<string, unknown>> } } };
import { BackupBucket, BackupSource, PostgresBackup, RetentionPolicy } from '../../../lib';
import { nagFindingsBeyondBaseline } from '../../support/nag';

const ACCOUNT = '111111111111';

function build(withRetention: boolean, bucketProps: ConstructorParameters<typeof BackupBucket>[2] = {}, retention = RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12, yearly: 3 })) {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const bucket = new BackupBucket(stack, 'Backups', bucketProps);
  const instance = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    instanceIdentifier: 'orders-db',
    storageEncrypted: true,
  });
  const backup = new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromInstance(instance, { secret: instance.secret! }),
    databases: ['orders'],
    vpc,
    bucket,
    postgresVersion: 15,
    sourceName: 'orders-db',
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:1`),
    snapshotCopy: { region: 'us-west-2', encryptionKeyArn: `arn:aws:kms:us-west-2:${ACCOUNT}:alias/dr` },
    ...(withRetention ? { retention } : {}),
  });
  return { app, stack, backup };
}

describe('PostgresBackup retention', () => {
  it('creates the cleanup function with the policy, a daily schedule and a state machine that fails after notifying', () => {
    const { stack, backup } = build(true);
    const template = Template.fromStack(stack);
    const fnId = stack.getLogicalId(backup.retention!.cleanupFunction.node.defaultChild as lambda.CfnFunction);
    const env = template.toJSON().Resources[fnId].Properties.Environment.Variables;
    expect(JSON.parse(env.RETENTION_POLICY)).toEqual({ daily: 7, weekly: 4, monthly: 12, yearly: 3, minimumKeep: 1, timeZone: 'Etc/UTC' });
    expect(env).toMatchObject({ SOURCE_ID: 'orders-db', SNAPSHOT_KIND: 'instance', SNAPSHOT_SOURCE: { Ref: expect.stringMatching(/^Db/) }, DR_REGION: 'us-west-2', REMOVE_VERSIONS: 'false' });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 5 * * ? *)',
      Target: Match.objectLike({ Input: JSON.stringify({ target: 'primary', dryRun: false }) }),
    });
    const smId = stack.getLogicalId(backup.retention!.stateMachine.node.defaultChild as CfnElement);
    const definition = JSON.stringify(stack.resolve(template.toJSON().Resources[smId].Properties.DefinitionString));
    expect(definition).toContain('Notify failure');
    expect(definition).toContain('\\"Error\\":\\"CleanupFailed\\"');
  });

  it('deletes only snapshots with the creator tag and only objects under the source prefix', () => {
    const { stack, backup } = build(true);
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify((p as Policy).Properties.Roles).includes(stack.getLogicalId(backup.retention!.cleanupFunction.role!.node.defaultChild as CfnElement)))
      .flatMap((p) => (p as Policy).Properties.PolicyDocument.Statement);
    const byId = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(byId('DeleteOwnTaggedSnapshots')).toMatchObject({
      Action: 'rds:DeleteDBSnapshot',
      Condition: { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:creator': 'cdk-backup-dr' } },
    });
    expect(JSON.stringify(byId('DeleteOwnTaggedSnapshots').Resource)).toContain(':snapshot:cdkbdr-*');
    expect(JSON.stringify(byId('DeleteOwnTaggedSnapshots').Resource)).toContain('us-west-2');
    expect(JSON.stringify(byId('DeleteOwnDumps').Resource)).toContain('/postgres/orders-db/*');
    expect(byId('ListOwnDumps').Condition).toEqual({ StringLike: { 's3:prefix': ['postgres/orders-db/*'] } });
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('Delete')).every((s) => s.Resource !== '*')).toBe(true);
  });

  it('refuses, with what to change, a policy that fights the lifecycle or the Object Lock', () => {
    expect(() => build(true, {}, RetentionPolicy.keepLast(45))).toThrow(/BackupRetention Primary\/Backup\/Retention: dumps: .*early-deletion fee/);
    expect(() => build(true, { objectLock: s3.ObjectLockRetention.governance(Duration.days(400)) }, RetentionPolicy.gfs({ daily: 7, weekly: 4 }))).toThrow(
      /Object Lock retains every dump for 400 days/,
    );
  });

  it('reads only the executions of the named state machines whose picks it protects', () => {
    const { stack, backup } = build(true);
    const retention = backup.retention!;
    const built = new sfn.StateMachine(stack, 'RecoveryTestMachine', { definition: new sfn.Pass(stack, 'Pick') });
    retention.protectBackupsPickedBy(built);
    retention.protectBackupsPickedBy(sfn.StateMachine.fromStateMachineArn(stack, 'Failover', `arn:aws:states:us-west-2:${ACCOUNT}:stateMachine:Failover`));
    const template = Template.fromStack(stack);
    const fnId = stack.getLogicalId(retention.cleanupFunction.node.defaultChild as CfnElement);
    const env = template.toJSON().Resources[fnId].Properties.Environment.Variables;
    expect(JSON.stringify(env.IN_USE_STATE_MACHINES)).toContain(`arn:aws:states:us-west-2:${ACCOUNT}:stateMachine:Failover`);
    expect(JSON.stringify(env.IN_USE_STATE_MACHINES)).toContain(stack.getLogicalId(built.node.defaultChild as CfnElement));
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify((p as Policy).Properties.Roles).includes(stack.getLogicalId(retention.cleanupFunction.role!.node.defaultChild as CfnElement)))
      .flatMap((p) => (p as Policy).Properties.PolicyDocument.Statement);
    const states = statements.filter((st) => JSON.stringify(st.Action).includes('states:'));
    expect(states.map((st) => st.Action)).toEqual(['states:ListExecutions', ['states:DescribeExecution', 'states:GetExecutionHistory'], 'states:ListExecutions', ['states:DescribeExecution', 'states:GetExecutionHistory']]);
    const resources = JSON.stringify(states.map((st) => st.Resource));
    expect(resources).toContain(`:states:us-west-2:${ACCOUNT}:execution:Failover:*`);
    expect(resources).toContain(`"Fn::GetAtt":["${stack.getLogicalId(built.node.defaultChild as CfnElement)}","Name"]`);
    expect(states.every((st) => st.Resource !== '*')).toBe(true);
  });

  it('adds no cdk-nag finding that is not acknowledged with a reason', () => {
    const withPickers = build(true);
    withPickers.backup.retention!.protectBackupsPickedBy(sfn.StateMachine.fromStateMachineArn(withPickers.stack, 'Failover', `arn:aws:states:us-west-2:${ACCOUNT}:stateMachine:Failover`));
    expect(nagFindingsBeyondBaseline(build(false).app, withPickers.app)).toEqual([]);
  });
});
