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
import { CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import {
  type JsonValue,
  type LocalRunOptions,
  LocalWorkflow,
  type LocalWorkflowOptions,
  type LocalWorkflowResult,
} from '../../local/workflow-runner';
import { harnessEnv } from './env';

export * from '../../local/workflow-runner';

/**
 * The logical id of a construct's CloudFormation resource (an L2 construct's default child, or an L1 itself), as
 * `Template.fromStack(...)` names it.
 */
export function logicalIdOf(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource as default child; pass the L1 construct`);
  }
  return Stack.of(element).resolve(element.logicalId) as string;
}

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
