import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import { BackupRunner, Failover, FailoverSource, FailoverStrategy, FAILOVER_STATES as S } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { allStates, definitionOf, type Json } from '../../support/template-inspection';
import { logicalIdOf } from '../../support/workflow-harness';
import { threeTierVpc } from '../../support/vpc';

const small = ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO);

function fixture() {
  const app = new App();
  const stack = new Stack(app, 'Dr', { env: { account: '111111111111', region: 'us-west-2' } });
  return { app, stack, vpc: threeTierVpc(stack), bucket: new BackupBucket(stack, 'ReplicaBackups') };
}

function failover(f: ReturnType<typeof fixture>, runner = BackupRunner.fargate({ cpu: 2048, memoryLimitMiB: 4096, timeout: Duration.hours(6) })): Failover {
  return new Failover(f.stack, 'Failover', {
    source: FailoverSource.instance('orders-db'),
    primaryRegion: 'us-east-1',
    database: 'orders',
    strategies: [FailoverStrategy.restoreSnapshot({ instanceType: small }), FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, runner })],
    rpo: Duration.hours(24),
    bucket: f.bucket,
    vpc: f.vpc,
  });
}

describe('Failover restore-dump on the Fargate runner', () => {
  const f = fixture();
  const fo = failover(f);
  const template = Template.fromStack(f.stack);
  const states = allStates(definitionOf(template));

  it('restores in a Fargate task with the engine major\'s tools: no restore Lambda, no pg tools layer', () => {
    expect(fo.restoreFunction).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    const container = (template.toJSON().Resources[logicalIdOf(fo.restoreTask!.taskDefinition)].Properties.ContainerDefinitions as Json[])[0];
    const env = Object.fromEntries((container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({ RUNNER_HANDLER: 'restore', RUNNER_TIMEOUT_SECONDS: '21600' });
  });

  it('the restore-dump branch enters the Pass that builds the event, then the ecs:runTask.waitForTaskToken state, then the dump verification', () => {
    const choice = states[S.dumpOrPassword];
    expect((choice.Choices as Json[])[0]).toMatchObject({ StringEquals: 'restore-dump', Next: `${S.restore} input` });
    expect(states[`${S.restore} input`]).toMatchObject({ Type: 'Pass', ResultPath: '$.runnerInput', Next: S.restore, Parameters: { 'manifestKey.$': '$.plan.dump.manifestKey', createDatabase: true } });
    expect(states[S.restore]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::ecs:runTask.waitForTaskToken',
      HeartbeatSeconds: 300,
      TimeoutSeconds: 21600,
      ResultPath: '$.restore',
      Next: S.verifyDump,
    });
    expect((states[S.restore].Catch as Json[])[0]).toMatchObject({ ErrorEquals: ['States.ALL'], ResultPath: '$.error' });
  });

  it('refuses Lambda-only options with the Fargate runner', () => {
    const g = fixture();
    const layer = lambda.LayerVersion.fromLayerVersionArn(g.stack, 'L', 'arn:aws:lambda:us-west-2:111111111111:layer:pg:1');
    expect(() => FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, runner: BackupRunner.fargate(), pgToolsLayer: layer })).toThrow(/remove pgToolsLayer/);
    expect(() => FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16, instanceType: small, runner: BackupRunner.fargate(), restoreMemorySize: 3008 })).toThrow(/remove restoreMemorySize/);
  });

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    const g = fixture();
    failover(g);
    const baseline = fixture();
    expect(nagFindingsBeyondBaseline(baseline.app, g.app)).toEqual([]);
  });
});
