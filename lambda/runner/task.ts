/**
 * The Fargate runner's task (lambda/runner/task-entrypoint.ts is the container's main): runs one handler of this
 * package once, with the event Step Functions passed in the container overrides, and answers the waiting task with
 * the same output (SendTaskSuccess) or the same error name and cause (SendTaskFailure) as a Lambda invocation of that
 * handler would give Step Functions, so Retry, Catch and ResultPath work unchanged. A heartbeat every
 * RUNNER_HEARTBEAT_SECONDS tells Step Functions the task still runs; a killed container stops it, and the state then
 * fails with States.HeartbeatTimeout instead of waiting until its timeout.
 *
 * Env: RUNNER_HANDLER (which handler), TASK_TOKEN and TASK_INPUT (JSON, from the container overrides),
 * RUNNER_TIMEOUT_SECONDS (the state's timeout: the handler sees what is left of it, less the container's start, as its
 * remaining time), and the handler's own.
 */
import { SFNClient, SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { handler as dump } from '../backup/dump.handler';
import { handler as verify } from '../backup/verify.handler';
import { handler as restore } from '../restore/restore.handler';

/** The context a handler gets: only the remaining time, as the handlers of this package use. */
export interface TaskContext {
  getRemainingTimeInMillis(): number;
}

type TaskHandler = (event: never, context: TaskContext) => Promise<unknown>;

/** The handlers a task can run, by RUNNER_HANDLER. */
export const TASK_HANDLERS: Readonly<Record<string, TaskHandler>> = { dump, verify: verify as TaskHandler, restore };

/** Step Functions' limits on SendTaskFailure (error 256, cause 32,768 characters). */
const MAX_ERROR = 256;
const MAX_CAUSE = 32_768;

/** What a Lambda invocation's failure looks like to Step Functions: the error name, and the runtime's JSON report as cause. */
export function failureOf(error: unknown): { error: string; cause: string } {
  const report =
    error instanceof Error
      ? { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') }
      : { errorType: typeof error, errorMessage: String(error), trace: [] as string[] };
  let cause = JSON.stringify(report);
  if (cause.length > MAX_CAUSE) cause = JSON.stringify({ ...report, trace: [] }).slice(0, MAX_CAUSE);
  return { error: report.errorType.slice(0, MAX_ERROR), cause };
}

/**
 * The time the handler is given of the state's timeout: the state's clock starts at RunTask, before the image pull and
 * the network interface (a minute or more), so the handler stops itself with its own clear error before the state
 * times out: a quarter of the timeout, at most 5 minutes, is kept for the container's start.
 */
export function handlerTimeMs(stateTimeoutMs: number): number {
  return stateTimeoutMs - Math.min(5 * 60_000, stateTimeoutMs / 4);
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set; the task definition or the state's container overrides must set it`);
  return value;
}

/**
 * Runs the task: returns the process exit code (0 answered with success, 1 answered with a failure). Throws only when
 * Step Functions could not be answered; the state then fails on its heartbeat timeout.
 */
export async function runTask(env: NodeJS.ProcessEnv = process.env, sfn: SFNClient = new SFNClient({})): Promise<number> {
  const taskToken = required(env, 'TASK_TOKEN');
  const started = Date.now();
  const timeoutMs = handlerTimeMs(Number(env.RUNNER_TIMEOUT_SECONDS ?? '0') * 1000);
  const heartbeatMs = Number(env.RUNNER_HEARTBEAT_SECONDS ?? '60') * 1000;
  const beat = () => {
    sfn.send(new SendTaskHeartbeatCommand({ taskToken })).catch((error: unknown) => {
      console.error(JSON.stringify({ level: 'WARN', message: 'heartbeat failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
    });
  };
  // At once: the container's start (image pull, network interface) already counted against the heartbeat timeout.
  beat();
  const heartbeat = setInterval(beat, heartbeatMs);
  try {
    let output: unknown;
    try {
      const name = required(env, 'RUNNER_HANDLER');
      const handler = TASK_HANDLERS[name];
      if (handler === undefined) throw new Error(`RUNNER_HANDLER ${name} is not a handler of this image (${Object.keys(TASK_HANDLERS).join(', ')})`);
      const event = JSON.parse(required(env, 'TASK_INPUT')) as never;
      const context: TaskContext = { getRemainingTimeInMillis: () => Math.max(0, started + timeoutMs - Date.now()) };
      output = await handler(event, context);
    } catch (error) {
      await sfn.send(new SendTaskFailureCommand({ taskToken, ...failureOf(error) }));
      return 1;
    }
    await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output ?? null) }));
    return 0;
  } finally {
    clearInterval(heartbeat);
  }
}
