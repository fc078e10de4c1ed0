/**
 * Which principal of a template makes the AWS calls running now: the function whose handler runs, or the state
 * machine whose SDK integration task runs. The runner sets it around every task; whoever needs to attribute an SDK
 * call (the IAM contract test records every call with the role that would make it) reads it at the call site.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The principal of a task, as the template names it. */
export interface TaskCaller {
  /** What ran the task: resolves template values (ARNs, names) to the local values of this run. */
  readonly workflow: object;
  /**
   * Logical id of the `AWS::Lambda::Function`, `AWS::StepFunctions::StateMachine` or `AWS::ECS::TaskDefinition` (its
   * task role) making the calls.
   */
  readonly principal: string;
  readonly kind: 'function' | 'state-machine' | 'task';
  /**
   * Logical id of the `AWS::Events::Rule` whose target invocation runs the function now.
   * @default - the state machine invoked it
   */
  readonly invokedBy?: string;
}

/** The caller of the code running now; unset outside tasks (test setup, assertions). */
export const taskCaller = new AsyncLocalStorage<TaskCaller>();

/** Runs code that sits inside a task but is not the task's own (a test's hook in a handler wrapper) as no caller's. */
export function outsideTask<T>(work: () => Promise<T>): Promise<T> {
  return taskCaller.exit(work);
}

/**
 * Listeners of the SDK calls made by the child processes that stand in for Fargate tasks (local/ecs-task.ts): those
 * calls happen in another process, outside {@link taskCaller}, so they are handed over here with their caller.
 */
export const childCallListeners = new Set<(caller: TaskCaller, call: import('./ecs-task').ChildSdkCall) => void>();
