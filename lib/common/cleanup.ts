import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** One thing the cleanup deletes: its task, and the name of the state that records the task giving up. */
export interface CleanupBranch {
  readonly task: sfn.TaskStateBase;
  readonly what: 'database' | 'secret';
  readonly failedStateName: string;
}

/**
 * The cleanup `Parallel` of the recovery workflows, its result under `$.cleanup`: one branch per thing to delete,
 * each with its own retries. A branch that gives up records `{ what, status: 'failed', error }` as its result instead
 * of failing the `Parallel`: a failed branch would cancel the others (e.g. stop waiting for the database's deletion
 * because the secret could not be deleted) and leave their resources behind.
 */
export function cleanupParallel(scope: Construct, id: string, comment: string, branches: readonly CleanupBranch[]): sfn.Parallel {
  const cleanup = new sfn.Parallel(scope, id, { comment, resultPath: '$.cleanup' });
  for (const { task, what, failedStateName } of branches) {
    const recordFailure = new sfn.Pass(scope, failedStateName, { parameters: { what, status: 'failed', 'error.$': '$.cleanupFailure' } });
    task.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.cleanupFailure' });
    cleanup.branch(task);
  }
  return cleanup;
}
