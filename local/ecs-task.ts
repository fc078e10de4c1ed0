/**
 * Runs an `arn:aws:states:::ecs:runTask.waitForTaskToken` task the way Fargate and Step Functions would, without
 * Docker: the container's command runs as a CHILD PROCESS with the task definition's environment, the state's
 * container overrides (the task token among them) and what an SDK client needs to reach the emulator. Its Step
 * Functions client is pointed (AWS_ENDPOINT_URL_SFN) at a loopback endpoint of this process that accepts
 * SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat for the tokens it handed out, so the token flow is real:
 * the state ends with the output or the error the child sent. A heartbeat timeout (no heartbeat for HeartbeatSeconds)
 * kills the child and fails the state with States.HeartbeatTimeout; so does a child that exits without answering, at
 * once instead of after HeartbeatSeconds (listed in the run's `emulated`).
 *
 * The child also reports the AWS SDK calls it makes (local/task-child-recorder.ts, preloaded) to the same endpoint,
 * so they can be attributed to the task role ({@link childCallListeners}).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { outsideTask } from './caller';
import { LocalWorkflowError, TaskFailure } from './errors';
import { DEFAULT_PASSTHROUGH } from './in-process-lambda';
import type { JsonValue } from './template-resolver';

/** One AWS SDK call a task's child process made, as it reports it. */
export interface ChildSdkCall {
  readonly service: string;
  readonly operation: string;
  readonly region: string;
  readonly input: Record<string, JsonValue>;
}

/** How to run the container of a task definition locally. */
export interface LocalTaskBinding {
  /** The TypeScript (or JavaScript) entrypoint the container runs, run with `node --import tsx`. */
  readonly entrypoint: string;
  /**
   * Rewrites the state's container overrides before the task starts, outside any task's calls: where a test maps what
   * the emulator cannot serve (a moto RDS endpoint to a local database), as it wraps a Lambda handler. The caller
   * reports what it mapped.
   * @default - the overrides as the state evaluated them
   */
  readonly prepareOverrides?: (overrides: Readonly<Record<string, string>>) => Promise<Record<string, string>>;
}

/** What the runner knows about the task it starts. */
export interface LocalTaskSpec {
  /** Logical id of the `AWS::ECS::TaskDefinition`. */
  readonly logicalId: string;
  /** Its ARN (the `Ref`), the cluster the state names, and the task and execution roles RunTask passes. */
  readonly taskDefinitionArn: string;
  readonly cluster: string;
  readonly roleArns: readonly string[];
  /** The container's environment from the task definition, resolved. */
  readonly variables: Readonly<Record<string, string>>;
  /** The state's container overrides (`Environment`), already evaluated. */
  readonly overrides: Readonly<Record<string, string>>;
  /** The state's HeartbeatSeconds, if any. */
  readonly heartbeatSeconds?: number;
  readonly region: string;
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly passthroughEnv?: readonly string[];
}

/** Path of the preload that reports the child's SDK calls. */
const CHILD_RECORDER = join(__dirname, 'task-child-recorder.ts');

interface Waiting {
  readonly resolve: (output: JsonValue) => void;
  readonly reject: (failure: Error) => void;
  readonly heartbeat: () => void;
  readonly onCall: (call: ChildSdkCall) => void;
}

/**
 * The loopback Step Functions endpoint of one run and the tasks waiting on it; {@link close} at the end of the run.
 */
export class LocalTaskTokens {
  private server: Server | undefined;
  private url: Promise<string> | undefined;
  private readonly waiting = new Map<string, Waiting>();

  /** Runs one task to its answer: the output of SendTaskSuccess, or throws the TaskFailure Step Functions would. */
  async run(binding: LocalTaskBinding, spec: LocalTaskSpec, onCall: (call: ChildSdkCall) => void, notes: Set<string>): Promise<JsonValue> {
    const endpoint = await this.endpoint();
    const token = `local-${randomUUID()}`;
    const overrides = { ...spec.overrides };
    const tokenVariables = Object.entries(overrides).filter(([, value]) => value === LOCAL_TASK_TOKEN_PLACEHOLDER);
    if (tokenVariables.length === 0) throw new LocalWorkflowError(`task ${spec.logicalId}: no container override carries $$.Task.Token, so the task could never answer`);
    const prepared = binding.prepareOverrides === undefined ? overrides : await outsideTask(() => binding.prepareOverrides!(overrides));
    for (const [name] of tokenVariables) prepared[name] = token;
    const env = this.environment(spec, prepared, endpoint, token);

    return new Promise<JsonValue>((resolve, reject) => {
      let settled = false;
      let heartbeatTimer: NodeJS.Timeout | undefined;
      const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(CHILD_RECORDER).href, binding.entrypoint], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const finish = (action: () => void): void => {
        if (settled) return;
        settled = true;
        if (heartbeatTimer !== undefined) clearTimeout(heartbeatTimer);
        this.waiting.delete(token);
        action();
      };
      const armHeartbeat = (): void => {
        if (spec.heartbeatSeconds === undefined) return;
        if (heartbeatTimer !== undefined) clearTimeout(heartbeatTimer);
        heartbeatTimer = setTimeout(() => {
          child.kill('SIGKILL');
          finish(() => reject(new TaskFailure('States.HeartbeatTimeout', `the task sent no heartbeat for ${spec.heartbeatSeconds} s`)));
        }, spec.heartbeatSeconds * 1000);
      };
      // The child's stdout is the container's log stream (EMF metrics included), as awslogs would ship it.
      child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-4000);
      });
      child.on('error', (error) => finish(() => reject(new LocalWorkflowError(`task ${spec.logicalId}: the child process could not start: ${error.message}`))));
      child.on('exit', (code, signal) => {
        // Answered or not, give the answer a moment to arrive (it is sent before the process exits).
        setTimeout(() => {
          finish(() => {
            notes.add(
              `task ${spec.logicalId}: its child process exited (${signal ?? `code ${code}`}) without answering; the state failed with States.HeartbeatTimeout at once, where AWS would wait HeartbeatSeconds`,
            );
            reject(new TaskFailure('States.HeartbeatTimeout', `the task stopped without answering (exit ${signal ?? code}): ${stderr.trim().slice(-1000)}`));
          });
        }, 200);
      });
      this.waiting.set(token, {
        resolve: (output) => finish(() => resolve(output)),
        reject: (failure) => finish(() => reject(failure)),
        heartbeat: armHeartbeat,
        onCall,
      });
      armHeartbeat();
    });
  }

  /** Stops the endpoint. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.url = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private environment(spec: LocalTaskSpec, overrides: Record<string, string>, endpoint: string, token: string): NodeJS.ProcessEnv {
    const env: Record<string, string> = {};
    const extra = new Set(spec.passthroughEnv ?? []);
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && (extra.has(name) || DEFAULT_PASSTHROUGH.some((pattern) => pattern.test(name)))) env[name] = value;
    }
    delete env.NODE_OPTIONS;
    Object.assign(env, { AWS_REGION: spec.region, AWS_DEFAULT_REGION: spec.region }, spec.variables, overrides, spec.extraEnv ?? {});
    env.AWS_ENDPOINT_URL_SFN = endpoint;
    env.CDK_BACKUP_DR_LOCAL_TASK_RECORDER = `${endpoint}/record/${token}`;
    return env;
  }

  private endpoint(): Promise<string> {
    this.url ??= new Promise<string>((resolve, reject) => {
      const server = createServer((request, response) => void this.handle(request, response));
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      this.server = server;
    });
    return this.url;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const reply = (status: number, payload: object): void => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(payload));
    };
    const recordPath = /^\/record\/(.+)$/.exec(request.url ?? '');
    if (recordPath !== null) {
      this.waiting.get(recordPath[1])?.onCall(JSON.parse(body) as ChildSdkCall);
      reply(200, {});
      return;
    }
    const action = String(request.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
    const input = JSON.parse(body || '{}') as { taskToken?: string; output?: string; error?: string; cause?: string };
    const waiting = input.taskToken === undefined ? undefined : this.waiting.get(input.taskToken);
    if (waiting === undefined) {
      reply(400, { __type: 'TaskDoesNotExist', message: 'Task Token does not exist or has already completed' });
      return;
    }
    switch (action) {
      case 'SendTaskHeartbeat':
        waiting.heartbeat();
        break;
      case 'SendTaskSuccess':
        try {
          waiting.resolve(JSON.parse(input.output ?? 'null') as JsonValue);
        } catch {
          reply(400, { __type: 'InvalidOutput', message: 'output is not JSON' });
          return;
        }
        break;
      case 'SendTaskFailure':
        waiting.reject(new TaskFailure(input.error ?? '', input.cause ?? ''));
        break;
      default:
        reply(400, { __type: 'UnknownOperationException', message: `${action} is not served by the local task endpoint` });
        return;
    }
    reply(200, {});
  }
}

/** What `$$.Task.Token` evaluates to in the local context; each task start replaces it with a token of its own. */
export const LOCAL_TASK_TOKEN_PLACEHOLDER = 'local-task-token-placeholder';
