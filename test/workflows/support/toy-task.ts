/**
 * A toy container entrypoint for the local runner's ECS task tests (test/workflows/ecs-task-runner.test.ts): what it
 * does is chosen by TOY_MODE. `echo` answers SendTaskSuccess with its environment's TOY_* and TASK_INPUT, `fail`
 * answers SendTaskFailure, `exit` exits without answering, `silent` stays alive without heartbeats or answer.
 */
import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';

async function main(): Promise<void> {
  const sfn = new SFNClient({});
  const taskToken = process.env.TASK_TOKEN ?? '';
  switch (process.env.TOY_MODE) {
    case 'echo':
      await sfn.send(
        new SendTaskSuccessCommand({
          taskToken,
          output: JSON.stringify({ fromDefinition: process.env.TOY_DEFINED, input: JSON.parse(process.env.TASK_INPUT ?? 'null') as unknown }),
        }),
      );
      return;
    case 'fail':
      await sfn.send(new SendTaskFailureCommand({ taskToken, error: 'Boom', cause: 'the toy failed on purpose' }));
      process.exitCode = 1;
      return;
    case 'exit':
      process.exit(3);
      break;
    case 'silent':
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      return;
    default:
      throw new Error(`unknown TOY_MODE ${process.env.TOY_MODE}`);
  }
}

void main();
