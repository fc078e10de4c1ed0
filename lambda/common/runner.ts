/**
 * Which runner a handler runs on, for messages: the Fargate runner's task definition sets RUNNER_HANDLER
 * (lambda/runner/task-entrypoint.ts); a Lambda function has no such variable.
 */
export function onFargateRunner(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.RUNNER_HANDLER !== undefined && env.RUNNER_HANDLER !== '';
}

/**
 * Why a dump or restore was stopped before its runner's time limit, and what to change, as its error message says it.
 * `what` is 'dump' or 'restore'.
 */
export function timeLimitReason(what: 'dump' | 'restore', leftSeconds: number, env: NodeJS.ProcessEnv = process.env): string {
  return onFargateRunner(env)
    ? `the Fargate task was about to reach its timeout (${leftSeconds} s left) before the ${what} finished; raise BackupRunner.fargate({ timeout }) or give the task more cpu`
    : `the Lambda function was about to time out (${leftSeconds} s left) before the ${what} finished; run it on BackupRunner.fargate({ ... }) (no 15-minute limit) or give the function more memory (more CPU)`;
}

/** How to give a dump or restore more disk, for the message of one that does not fit. */
export function moreDiskAdvice(what: 'dump' | 'restore', env: NodeJS.ProcessEnv = process.env): string {
  if (onFargateRunner(env)) return 'give the Fargate task more disk (BackupRunner.fargate({ ephemeralStorageGiB }), up to 200 GiB)';
  return what === 'dump'
    ? 'give the function more ephemeral storage (PostgresBackup dumpEphemeralStorageSize, up to 10240 MiB)'
    : "raise the function's ephemeral storage (at most 10240 MiB; beyond that run the restore on BackupRunner.fargate({ ephemeralStorageGiB }))";
}
