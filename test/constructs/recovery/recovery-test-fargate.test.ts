import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BackupRunner, RecoveryTest, type RecoveryTestProps, RECOVERY_TEST_STATES as S, TestedBackups } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { allStates, definitionOf, type Json } from '../../support/template-inspection';
import { logicalIdOf } from '../../support/workflow-harness';
import { threeTierVpc } from '../../support/vpc';

function fixture() {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: '111111111111', region: 'us-east-1' } });
  const vpc = threeTierVpc(stack, {});
  const bucket = new BackupBucket(stack, 'Backups');
  return { app, stack, vpc, bucket };
}

function recoveryTest(f: ReturnType<typeof fixture>, props: Partial<RecoveryTestProps> = {}): RecoveryTest {
  return new RecoveryTest(f.stack, 'RecoveryTest', {
    bucket: f.bucket,
    sourceName: 'orders-db',
    vpc: f.vpc,
    postgresVersion: 16,
    runner: BackupRunner.fargate({ cpu: 4096, memoryLimitMiB: 8192, ephemeralStorageGiB: 100, timeout: Duration.hours(4) }),
    ...props,
  });
}

describe('RecoveryTest of dumps on the Fargate runner', () => {
  const f = fixture();
  const test = recoveryTest(f);
  const template = Template.fromStack(f.stack);
  const states = allStates(definitionOf(template));

  it('restores in a Fargate task (no restore Lambda, no layer needed) of the size asked for, with the handler\'s environment', () => {
    expect(test.restoreFunction).toBeUndefined();
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '4096', Memory: '8192', EphemeralStorage: { SizeInGiB: 100 } });
    const container = (template.toJSON().Resources[logicalIdOf(test.restoreTask!.taskDefinition)].Properties.ContainerDefinitions as Json[])[0];
    const env = Object.fromEntries((container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({ RUNNER_HANDLER: 'restore', RUNNER_TIMEOUT_SECONDS: '14400', BUCKET_NAME: { Ref: logicalIdOf(f.bucket.bucket) } });
  });

  it('the restore state is ecs:runTask.waitForTaskToken after a Pass that builds its event; catch and cleanup as with the Lambda', () => {
    const input = states[`${S.restore} input`];
    expect(input).toMatchObject({ Type: 'Pass', ResultPath: '$.runnerInput', Next: S.restore, Parameters: { 'manifestKey.$': '$.backup.dump.manifestKey', createDatabase: true } });
    const restore = states[S.restore];
    expect(restore).toMatchObject({ Resource: 'arn:<AWS::Partition>:states:::ecs:runTask.waitForTaskToken', HeartbeatSeconds: 300, TimeoutSeconds: 14400, ResultPath: '$.restore', Next: S.verify });
    expect(restore.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: S.cleanup, ResultPath: '$.error' })]);
    // The state before the restore enters the Pass, not the task.
    expect(Object.values(states).filter((state) => state.Next === `${S.restore} input`)).toHaveLength(1);
    expect(Object.values(states).filter((state) => state.Next === S.restore)).toEqual([input]);
  });

  it('grants the task role the restore Lambda\'s reads (backups, scratch secrets) and answering its state machine', () => {
    const roleId = logicalIdOf(test.restoreTask!.taskDefinition.taskRole);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Json[] }).Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 'secretsmanager:GetSecretValue', 'states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat']));
    expect(actions.filter((a) => String(a).startsWith('s3:Put') || String(a).startsWith('s3:Delete'))).toEqual([]);
  });

  it('refuses what only applies to the Lambda, or to dumps, saying what to change', () => {
    const layer = (g: ReturnType<typeof fixture>) => lambda.LayerVersion.fromLayerVersionArn(g.stack, 'L', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1');
    const g = fixture();
    expect(() => recoveryTest(g, { pgToolsLayer: layer(g) })).toThrow(/remove pgToolsLayer/);
    expect(() => recoveryTest(fixture(), { restoreMemorySize: 3008 })).toThrow(/remove restoreMemorySize/);
    expect(() => recoveryTest(fixture(), { backups: TestedBackups.instanceSnapshots({ instanceIdentifier: 'orders-db', database: 'orders' }) })).toThrow(
      /a snapshot test restores no dump, so remove runner/,
    );
  });

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    const g = fixture();
    recoveryTest(g);
    expect(nagFindingsBeyondBaseline(fixture().app, g.app)).toEqual([]);
  });
});
