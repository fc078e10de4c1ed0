/**
 * Errors of the local workflow runner.
 *
 * aws-local-stepfunctions matches `Retry`/`Catch` on `error.name` and copies `error.message` into the `Cause` of a
 * caught error, and it honours `isRetryable`/`isCatchable` getters when an error has them. The classes here use
 * exactly that contract.
 */

/**
 * A task failed the way it fails in AWS: `name` is the Step Functions error (`NotReady`,
 * `Rds.DbSnapshotNotFoundException`, `States.DataLimitExceeded`), `message` is the `Cause` Step Functions reports.
 *
 * @example
 * throw new TaskFailure('S3.NoSuchBucketException', 'The specified bucket does not exist (Service: S3, Status Code: 404, Request ID: x)');
 */
export class TaskFailure extends Error {
  constructor(
    errorName: string,
    cause: string,
    private readonly terminal = false,
  ) {
    super(cause);
    this.name = errorName;
  }

  /** False for errors Step Functions never retries (`States.DataLimitExceeded`). */
  get isRetryable(): boolean {
    return !this.terminal;
  }

  /** False for errors no `Catch` can handle (`States.DataLimitExceeded`). */
  get isCatchable(): boolean {
    return !this.terminal;
  }
}

/**
 * The local run is set up wrongly or uses something the runner cannot run (a Lambda without a local handler, a
 * parameter Step Functions would reject, JSONata...). Neither retryable nor catchable: it aborts the execution and
 * {@link LocalWorkflow.run} throws it instead of returning a FAILED result, so a configuration mistake never passes
 * for a workflow failure.
 *
 * @example
 * throw new LocalWorkflowError('state "Dump" invokes Lambda DumpFn, which has no local handler; pass handlers: { DumpFn: handler }');
 */
export class LocalWorkflowError extends Error {
  override readonly name = 'LocalWorkflowError';

  get isRetryable(): boolean {
    return false;
  }

  get isCatchable(): boolean {
    return false;
  }
}
