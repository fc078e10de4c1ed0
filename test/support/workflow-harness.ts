/**
 * Runs a synthesized state machine locally in a test: the runner of local/workflow-runner.ts (shared with the
 * drill) with the test harness' guarantees on top — the emulator must be the harness' moto on 127.0.0.1.
 *
 * @example
 * const template = Template.fromStack(stack).toJSON();
 * const bucketName = await createTestBucket({ prefix: 'reports' });
 * const result = await runLocalWorkflow({
 *   template,
 *   stateMachine: logicalIdOf(machine),
 *   handlers: { [logicalIdOf(dumpFunction)]: dumpHandler },
 *   resources: { [logicalIdOf(bucket)]: bucketName },
 *   input: { tiers: ['daily'] },
 * });
 * expect(result.status).toBe('SUCCEEDED');
 */
import {
  type JsonValue,
  type LocalRunOptions,
  LocalWorkflow,
  type LocalWorkflowOptions,
  type LocalWorkflowResult,
} from '../../local/workflow-runner';
import { harnessEnv } from './env';

export * from '../../local/workflow-runner';
export { logicalIdOf } from '../../local/logical-id';

/** Options of {@link runLocalWorkflow}: the workflow, its input and the run options in one object. */
export interface RunLocalWorkflowOptions extends LocalWorkflowOptions, LocalRunOptions {
  /** Execution input. @default {} */
  readonly input?: JsonValue;
}

/**
 * Builds a {@link LocalWorkflow} and runs one execution against the harness' moto.
 *
 * @throws when the harness environment is missing or not on 127.0.0.1, or when the workflow cannot run locally
 */
export async function runLocalWorkflow(options: RunLocalWorkflowOptions): Promise<LocalWorkflowResult> {
  const { awsRegion } = harnessEnv();
  const { input, executionName, waitMs, retryIntervalMs, ...workflowOptions } = options;
  const workflow = new LocalWorkflow({ region: awsRegion, ...workflowOptions });
  return workflow.run(input ?? {}, { executionName, waitMs, retryIntervalMs });
}
