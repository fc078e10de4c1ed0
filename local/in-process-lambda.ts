/**
 * Invokes a Lambda handler in this process the way the Lambda service would: a JSON copy of the event, the
 * function's environment from the template (and nothing else from the host except what an SDK client needs), a
 * context object with a deadline, errors reported with the Node.js runtime's `errorType`/`errorMessage`/`trace`.
 *
 * `process.env` is process-wide, so invocations hold one lock while their handler runs: Lambda tasks that AWS would
 * run concurrently (Parallel branches, Map iterations) run one after another here. A handler that outlives its
 * timeout fails the task with `Sandbox.Timedout` as in AWS, but its promise cannot be killed: it keeps running in
 * the background with the host environment restored.
 */
import { randomUUID } from 'node:crypto';
import { LocalWorkflowError, TaskFailure } from './errors';
import type { JsonValue } from './template-resolver';

/**
 * The Lambda context object handed to a handler. Structurally the `Context` of `@types/aws-lambda`, so handlers
 * typed with it accept this one.
 */
export interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  getRemainingTimeInMillis(): number;
  /** @deprecated callback-style handlers are not supported locally; return a promise. */
  done(error?: Error, result?: unknown): void;
  /** @deprecated callback-style handlers are not supported locally; return a promise. */
  fail(error: Error | string): void;
  /** @deprecated callback-style handlers are not supported locally; return a promise. */
  succeed(messageOrObject: unknown): void;
}

/**
 * A handler to run in-process. The event parameter is `never` so a handler with any event type fits
 * (`(event: DumpInput, context) => Promise<DumpOutput>`).
 */
export type LocalLambdaHandler = (event: never, context: LambdaContext) => unknown;

/**
 * A handler, or a loader called once, on the first invocation, inside the function's environment: use it for
 * handler modules that read their environment at import time, as Lambda imports them after setting it.
 */
export type LocalLambdaBinding = LocalLambdaHandler | { readonly load: () => Promise<LocalLambdaHandler> | LocalLambdaHandler };

/** What the template says about one function. */
export interface LocalFunctionSpec {
  readonly logicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** `Environment.Variables`, resolved. */
  readonly variables: Readonly<Record<string, string>>;
  /** @default 3 (the CloudFormation default) */
  readonly timeoutSeconds: number;
  /** @default 128 */
  readonly memoryMb: number;
}

/** Options that apply to every function of a run. */
export interface InProcessLambdaOptions {
  /** `AWS_REGION` the handler sees. */
  readonly region: string;
  /** Host variables (besides the defaults) copied into every function environment. @default none */
  readonly passthroughEnv?: readonly string[];
  /** Extra variables for every function, applied last. @default none */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Fail an invocation that outlives the function's `Timeout` with `Sandbox.Timedout`. @default true */
  readonly enforceTimeout?: boolean;
}

/** Host variables a handler gets in every environment: the runtime's own, and what SDK clients need to reach the emulator. */
export const DEFAULT_PASSTHROUGH: readonly RegExp[] = [
  /^PATH$/,
  /^HOME$/,
  /^LANG$/,
  /^LC_[A-Z]+$/,
  /^TMPDIR$/,
  /^NODE_[A-Z_]+$/,
  /^JEST_WORKER_ID$/,
  /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/,
  /^AWS_ACCESS_KEY_ID$/,
  /^AWS_SECRET_ACCESS_KEY$/,
  /^AWS_SESSION_TOKEN$/,
  /^AWS_EC2_METADATA_DISABLED$/,
  /^AWS_SDK_[A-Z_]+$/,
  /^AWS_MAX_ATTEMPTS$/,
  /^AWS_RETRY_MODE$/,
];

/** Serializes invocations, which swap `process.env`. One per process: the environment is process-wide. */
class EnvironmentLock {
  private tail: Promise<void> = Promise.resolve();

  /** Waits for the lock; the returned function releases it. */
  async acquire(): Promise<() => void> {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => released);
    await previous;
    return release;
  }
}

const environmentLock = new EnvironmentLock();

/** The outcome of one invocation. */
export interface InvocationResult {
  readonly payload: JsonValue;
  readonly requestId: string;
}

/**
 * One function of the template, runnable in-process.
 *
 * @example
 * const fn = new InProcessLambda(spec, handler, { region: 'us-east-1' });
 * const { payload } = await fn.invoke({ tiers: ['daily'] }); // throws TaskFailure('NotReady', ...) as Step Functions sees it
 */
export class InProcessLambda {
  private handler: LocalLambdaHandler | undefined;

  constructor(
    readonly spec: LocalFunctionSpec,
    private readonly binding: LocalLambdaBinding,
    private readonly options: InProcessLambdaOptions,
  ) {
    if (typeof binding === 'function') this.handler = binding;
  }

  /** The environment the handler runs with. */
  environment(host: NodeJS.ProcessEnv = process.env): Record<string, string> {
    const { spec } = this;
    const env: Record<string, string> = {};
    const extra = new Set(this.options.passthroughEnv ?? []);
    for (const [name, value] of Object.entries(host)) {
      if (value !== undefined && (extra.has(name) || DEFAULT_PASSTHROUGH.some((pattern) => pattern.test(name)))) env[name] = value;
    }
    Object.assign(env, {
      AWS_REGION: this.options.region,
      AWS_DEFAULT_REGION: this.options.region,
      AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(),
    });
    Object.assign(env, spec.variables, this.options.extraEnv ?? {});
    return env;
  }

  /**
   * Runs the handler with a JSON copy of `event`.
   *
   * @throws TaskFailure named after the handler's error (`error.name`), or `Sandbox.Timedout`
   */
  async invoke(event: JsonValue): Promise<InvocationResult> {
    const requestId = randomUUID();
    const eventCopy = JSON.parse(JSON.stringify(event ?? null)) as JsonValue;

    // The function's environment is in place from the handler's start until it settles or times out; a handler
    // that times out cannot be stopped and goes on in the background with the host environment back.
    const release = await environmentLock.acquire();
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const context = this.context(requestId, Date.now() + timeoutMs);
    const environment = this.environment();
    const saved = { ...process.env };
    replaceEnvironment(environment);
    let restored = false;
    const restore = (): void => {
      if (restored) return;
      restored = true;
      replaceEnvironment(saved);
      release();
    };
    let result: unknown;
    try {
      const handler = await this.resolveHandler();
      const running = Promise.resolve(handler(eventCopy as never, context));
      result = await (this.options.enforceTimeout === false ? running : raceTimeout(running, timeoutMs, requestId, this.spec.timeoutSeconds));
    } catch (error) {
      if (error instanceof TaskFailure || error instanceof LocalWorkflowError) throw error;
      throw lambdaFailure(error);
    } finally {
      restore();
    }
    let payload: JsonValue;
    try {
      payload = JSON.parse(JSON.stringify(result) ?? 'null') as JsonValue;
    } catch (error) {
      throw new TaskFailure(
        'Runtime.MarshalError',
        JSON.stringify({ errorType: 'Runtime.MarshalError', errorMessage: `Unable to marshal response: ${String(error)}` }),
      );
    }
    return { payload, requestId };
  }

  private async resolveHandler(): Promise<LocalLambdaHandler> {
    if (this.handler !== undefined) return this.handler;
    const { binding } = this;
    if (typeof binding === 'function') return binding;
    const loaded = await binding.load();
    if (typeof loaded !== 'function') throw new LocalWorkflowError(`the loader for ${this.spec.logicalId} returned ${typeof loaded}, not a handler function`);
    this.handler = loaded;
    return loaded;
  }

  private context(requestId: string, deadline: number): LambdaContext {
    const { spec } = this;
    const unsupported = (): never => {
      throw new LocalWorkflowError(`${spec.logicalId}: callback-style handlers (context.done/fail/succeed) are not supported locally; return a promise`);
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: spec.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: spec.functionArn,
      memoryLimitInMB: String(spec.memoryMb),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${spec.functionName}`,
      logStreamName: logStreamName(),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }
}

/** The Node.js runtime's report of a thrown value, as Step Functions receives it. */
export function lambdaFailure(error: unknown): TaskFailure {
  const report =
    error instanceof Error
      ? { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') }
      : { errorType: typeof error, errorMessage: String(error), trace: [] as string[] };
  return new TaskFailure(report.errorType, JSON.stringify(report));
}

function replaceEnvironment(values: Readonly<Record<string, string | undefined>>): void {
  for (const name of Object.keys(process.env)) delete process.env[name];
  for (const [name, value] of Object.entries(values)) if (value !== undefined) process.env[name] = value;
}

function raceTimeout<T>(work: Promise<T>, timeoutMs: number, requestId: string, timeoutSeconds: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const report = {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
      };
      reject(new TaskFailure(report.errorType, JSON.stringify(report)));
    }, timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : lambdaFailure(error));
      },
    );
  });
}

function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[$LATEST]${randomUUID().replace(/-/g, '')}`;
}
