/**
 * The local runner's ecs:runTask.waitForTaskToken tasks (local/ecs-task.ts) on a toy template: the container is a
 * child process with the task definition's environment and the state's overrides, and the state ends with what the
 * child answers on the loopback endpoint; a child that stops without answering, or sends no heartbeat within
 * HeartbeatSeconds, fails the state with States.HeartbeatTimeout, which Catch sees as in AWS.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { type JsonValue, LocalWorkflow, logicalIdOf } from '../support/workflow-harness';

function toyWorkflow(mode: string, heartbeatSeconds = 30): { workflow: LocalWorkflow; taskDefinition: string } {
  const stack = new Stack(new App(), 'ToyEcs', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
  const container = taskDefinition.addContainer('Toy', { image: ecs.ContainerImage.fromRegistry('toy'), environment: { TOY_DEFINED: 'from the task definition', TOY_MODE: mode } });
  const run = new tasks.EcsRunTask(stack, 'Run toy', {
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    cluster,
    taskDefinition,
    launchTarget: new tasks.EcsFargateLaunchTarget(),
    subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    containerOverrides: [
      {
        containerDefinition: container,
        environment: [
          { name: 'TASK_TOKEN', value: sfn.JsonPath.taskToken },
          { name: 'TASK_INPUT', value: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.event')) },
        ],
      },
    ],
    heartbeatTimeout: sfn.Timeout.duration(Duration.seconds(heartbeatSeconds)),
    resultPath: '$.result',
  });
  run.addCatch(new sfn.Pass(stack, 'Caught', { parameters: { 'error.$': '$.error' } }), { resultPath: '$.error' });
  const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(run) });
  const id = logicalIdOf(taskDefinition);
  const workflow = new LocalWorkflow({
    template: Template.fromStack(stack).toJSON(),
    stateMachine: logicalIdOf(machine),
    handlers: {},
    tasks: { [id]: { entrypoint: 'test/workflows/support/toy-task.ts' } },
    region: 'us-east-1',
  });
  return { workflow, taskDefinition: id };
}

describe('local runner: ecs:runTask.waitForTaskToken', () => {
  it('runs the container as a child process with the definition\'s environment and the overrides; the state gets its SendTaskSuccess output', async () => {
    const { workflow, taskDefinition } = toyWorkflow('echo');
    const result = await workflow.run({ event: { database: 'orders', tiers: ['daily'] } } as JsonValue);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ result: { fromDefinition: 'from the task definition', input: { database: 'orders', tiers: ['daily'] } } });
    expect(result.calls.map((call) => call.target)).toEqual([`ecs:${taskDefinition}`]);
    expect(result.emulated.join('\n')).toMatch(new RegExp(`task ${taskDefinition}: the container ran as a child process`));
  });

  it('SendTaskFailure fails the state with the error and cause sent, which Catch handles', async () => {
    const result = await toyWorkflow('fail').workflow.run({ event: {} });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual(['Run toy', 'Caught']);
    expect(result.output).toEqual({ error: { Error: 'Boom', Cause: 'the toy failed on purpose' } });
  });

  it('a child that exits without answering fails the state with States.HeartbeatTimeout at once, and says so in emulated', async () => {
    const result = await toyWorkflow('exit').workflow.run({ event: {} });
    expect(result.output).toMatchObject({ error: { Error: 'States.HeartbeatTimeout' } });
    expect(result.emulated.join('\n')).toMatch(/exited \(code 3\) without answering; the state failed with States.HeartbeatTimeout at once/);
  });

  it('a child that sends no heartbeat within HeartbeatSeconds is killed and the state fails with States.HeartbeatTimeout', async () => {
    const started = Date.now();
    const result = await toyWorkflow('silent', 2).workflow.run({ event: {} });
    expect(result.output).toMatchObject({ error: { Error: 'States.HeartbeatTimeout', Cause: 'the task sent no heartbeat for 2 s' } });
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
