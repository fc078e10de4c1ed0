/**
 * Step Functions in moto for tests: a state machine whose executions stay RUNNING (moto runs nothing), as a recovery
 * test or failover in the middle of its restore looks to the cleanup and the sweeper.
 */
import { randomBytes } from 'node:crypto';
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';

/** A state machine in moto and a way to start (and stop) executions of it. */
export interface TestStateMachine {
  readonly arn: string;
  readonly name: string;
  /** Starts an execution with `input`; it stays RUNNING until {@link stop}. Returns the execution ARN. */
  start(input: object, name?: string): Promise<string>;
  stop(executionArn: string): Promise<void>;
}

/** Creates a state machine named `<prefix>-<random>` in `region` (default: the harness region). */
export async function createTestStateMachine(prefix: string, region?: string): Promise<TestStateMachine> {
  const sfn = new SFNClient(region === undefined ? {} : { region });
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name,
      definition: JSON.stringify({ StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 3600, End: true } } }),
      roleArn: 'arn:aws:iam::123456789012:role/test-state-machine',
    }),
  );
  const arn = created.stateMachineArn!;
  return {
    arn,
    name,
    async start(input, executionName = `run-${randomBytes(4).toString('hex')}`) {
      const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: executionName, input: JSON.stringify(input) }));
      return out.executionArn!;
    },
    async stop(executionArn) {
      await sfn.send(new StopExecutionCommand({ executionArn }));
    },
  };
}
