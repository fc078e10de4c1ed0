/**
 * Runs a state machine of a synthesized CDK template locally, without an AWS account.
 *
 * - The definition is the template's `DefinitionString` with its intrinsics resolved (./template-resolver).
 * - aws-local-stepfunctions 3 executes it (JSONPath, Retry/Catch, Choice, Parallel, Map, Wait, intrinsic functions).
 * - Every Task state is overridden:
 *   - Lambda tasks (`arn:aws:states:::lambda:invoke`, or a function ARN as `Resource`) call the mapped handler
 *     in-process with the function's template environment (./in-process-lambda); `lambda:invoke` results are wrapped
 *     in `{ ExecutedVersion, Payload, SdkHttpMetadata, SdkResponseMetadata, StatusCode }` as the service wraps them,
 *     so `ResultSelector`/`OutputPath` on `$.Payload` behave as in AWS;
 *   - AWS SDK integrations and `sns:publish` go to the emulator at `AWS_ENDPOINT_URL` (./sdk-integrations).
 *   Failures surface with the error names AWS uses, so `Retry`/`Catch` match as they would deployed.
 * - `Wait` states and `Retry` intervals take 0 ms unless told otherwise.
 * - What the runner maps instead of running for real is listed in the result's `emulated`, never hidden.
 *
 * The drill (`npm run drill`) and the workflow tests use this same runner.
 */
import { randomUUID } from 'node:crypto';
import { ExecutionError, ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { collectStates, type StateEntry, unsupportedFeatures } from './asl-support';
import { childCallListeners, taskCaller } from './caller';
import { LocalWorkflowError, TaskFailure } from './errors';
import { InProcessLambda, type LocalLambdaBinding } from './in-process-lambda';
import { SdkIntegrations } from './sdk-integrations';
import { LOCAL_TASK_TOKEN_PLACEHOLDER, type LocalTaskBinding, LocalTaskTokens } from './ecs-task';
import { type CfnTemplate, type JsonValue, type ResourceBinding, TemplateResolver } from './template-resolver';

export { LocalWorkflowError, TaskFailure } from './errors';
export type { LambdaContext, LocalLambdaBinding, LocalLambdaHandler } from './in-process-lambda';
export type { CfnTemplate, JsonValue, ResourceBinding } from './template-resolver';
export type { ChildSdkCall, LocalTaskBinding } from './ecs-task';

/** The largest task result Step Functions passes on (256 KiB); larger fails with `States.DataLimitExceeded`. */
const MAX_PAYLOAD_BYTES = 256 * 1024;
/** Longest timer Node.js can set (2^31-1 ms); stands in for "no timeout" (AWS: 99999999 s). */
const MAX_TIMER_SECONDS = 2_147_483;
/** Resource types whose fabricated local values need no mention: what stands in for them is reported otherwise. */
const QUIET_FABRICATIONS: ReadonlySet<string> = new Set(['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::StepFunctions::StateMachine']);
/** moto's account id, the default of `AWS::AccountId`. */
const DEFAULT_ACCOUNT_ID = '123456789012';

/** Options of {@link LocalWorkflow}. */
export interface LocalWorkflowOptions {
  /** The synthesized template: `Template.fromStack(stack).toJSON()` or a `cdk.out/<stack>.template.json`. */
  readonly template: CfnTemplate | Readonly<Record<string, unknown>>;
  /** Logical id or construct path of the `AWS::StepFunctions::StateMachine` to run. */
  readonly stateMachine: string;
  /**
   * Local handlers by logical id (or construct path) of their `AWS::Lambda::Function`. A Lambda task whose function
   * has no handler here is a configuration error, not a task failure.
   */
  readonly handlers: Readonly<Record<string, LocalLambdaBinding>>;
  /**
   * Local values of template resources by logical id: what `Ref` returns (e.g. the name of a bucket created in the
   * emulator) and, optionally, attributes. @default - fabricated values, each listed in `emulated`
   */
  readonly resources?: Readonly<Record<string, ResourceBinding>>;
  /** Values of template parameters. @default - each parameter's `Default` */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Values of `Fn::ImportValue` by export name. @default - none */
  readonly imports?: Readonly<Record<string, string>>;
  /** @default - `AWS_REGION`, else us-east-1 */
  readonly region?: string;
  /** @default '123456789012' (moto's account) */
  readonly accountId?: string;
  /** `AWS::StackName`. @default 'LocalStack' */
  readonly stackName?: string;
  /** Variables added to every function's environment after the template's. @default none */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Host variables copied into every function's environment besides PATH, HOME and the AWS SDK ones. @default none */
  readonly passthroughEnv?: readonly string[];
  /** Fail a handler that outlives its function's `Timeout` with `Sandbox.Timedout`. @default true */
  readonly enforceLambdaTimeout?: boolean;
  /**
   * How to run the containers of `ecs:runTask.waitForTaskToken` tasks, by logical id (or construct path) of their
   * `AWS::ECS::TaskDefinition`: each run is a child process (./ecs-task). @default none
   */
  readonly tasks?: Readonly<Record<string, LocalTaskBinding>>;
}

/** Options of one {@link LocalWorkflow.run}. */
export interface LocalRunOptions {
  /** Execution name (`$$.Execution.Name`). @default - a random UUID */
  readonly executionName?: string;
  /** Milliseconds every `Wait` state waits, or per state name. @default 0 */
  readonly waitMs?: number | Readonly<Record<string, number>>;
  /** Milliseconds before each retry, or per state name (a number or one per retrier). @default 0 */
  readonly retryIntervalMs?: number | Readonly<Record<string, number | number[]>>;
}

/** One step of the execution history. */
export interface TraceEvent {
  readonly type: string;
  readonly state?: string;
  readonly stateType?: string;
  readonly input?: JsonValue;
  readonly output?: JsonValue;
  readonly error?: string;
  readonly cause?: string;
  /** For `StateRetried`: how many retries of that retrier had happened before this one. */
  readonly retryAttempt?: number;
  /** Map iteration index, for events inside a Map. */
  readonly mapIndex?: number;
  /** The Map or Parallel state an iteration/branch event belongs to. */
  readonly parentState?: string;
}

/** One call a Task state made. */
export interface TaskCall {
  readonly state: string;
  /** `lambda:<logicalId>`, `aws-sdk:<service>:<action>` or `sns:publish`. */
  readonly target: string;
  readonly input: JsonValue;
  readonly output?: JsonValue;
  readonly error?: string;
  readonly cause?: string;
}

/** The outcome of one local execution. */
export interface LocalWorkflowResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';
  readonly executionArn: string;
  /** The execution output (SUCCEEDED only). */
  readonly output?: JsonValue;
  /** The error name of a FAILED execution (`States.Timeout` when TIMED_OUT). */
  readonly error?: string;
  /** The cause of a FAILED execution. */
  readonly cause?: string;
  /**
   * Names of the states entered, in order, nested ones included. As in the AWS execution history a retry does not
   * enter the state again: retries are counted in {@link retries}, attempts are in {@link calls}.
   */
  readonly visited: readonly string[];
  /** Number of retries per state name. */
  readonly retries: Readonly<Record<string, number>>;
  /** Every call the Task states made. */
  readonly calls: readonly TaskCall[];
  /** The execution history. */
  readonly events: readonly TraceEvent[];
  /** What was mapped or stood in for instead of running as in AWS, one sentence each. */
  readonly emulated: readonly string[];
}

type LibraryEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

type TaskKind =
  | { readonly kind: 'lambda-invoke' }
  | { readonly kind: 'lambda-arn'; readonly functionName: string }
  | { readonly kind: 'aws-sdk'; readonly service: string; readonly action: string }
  | { readonly kind: 'sns-publish' }
  | { readonly kind: 'ecs-run-task' };

/**
 * A state machine of a synthesized template, runnable locally.
 *
 * @example
 * const workflow = new LocalWorkflow({
 *   template: Template.fromStack(stack).toJSON(),
 *   stateMachine: stack.getLogicalId(machine.node.defaultChild as CfnElement),
 *   handlers: { [stack.getLogicalId(dumpFn.node.defaultChild as CfnElement)]: dumpHandler },
 *   resources: { [stack.getLogicalId(bucket.node.defaultChild as CfnElement)]: 'bucket-in-moto' },
 * });
 * const result = await workflow.run({ tiers: ['daily'] });
 * // result.status === 'SUCCEEDED', result.visited, result.emulated
 */
export class LocalWorkflow {
  /** The resolved ASL definition that runs. */
  readonly definition: Readonly<Record<string, JsonValue>>;
  /** Logical id of the state machine. */
  readonly stateMachineLogicalId: string;
  private readonly machine: StateMachine;
  private readonly states: readonly StateEntry[];
  private readonly lambdas = new Map<string, InProcessLambda>();
  private readonly lambdaByName = new Map<string, string>();
  private readonly setupNotes: string[] = [];
  private readonly region: string;
  private readonly accountId: string;
  private readonly stateMachineArn: string;
  private readonly roleArn: string;
  private readonly resolverOptions: ConstructorParameters<typeof TemplateResolver>[1];
  private quietResolver: TemplateResolver | undefined;

  constructor(private readonly options: LocalWorkflowOptions) {
    ensurePromiseWithResolvers();
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    const template = options.template as CfnTemplate;
    this.resolverOptions = {
      region: this.region,
      accountId: this.accountId,
      stackName: options.stackName ?? 'LocalStack',
      resources: options.resources,
      parameters: options.parameters,
      imports: options.imports,
    };
    const resolver = new TemplateResolver(template, {
      ...this.resolverOptions,
      // Functions run in-process and roles are not evaluated (both reported on their own): only other stand-ins matter.
      onFabricated: ({ type, message }) => {
        if (!QUIET_FABRICATIONS.has(type)) this.setupNotes.push(message);
      },
    });

    const { logicalId, resource } = resolver.findResource(options.stateMachine, 'AWS::StepFunctions::StateMachine');
    this.stateMachineLogicalId = logicalId;
    this.stateMachineArn = String(resolver.ref(logicalId));
    const props = resource.Properties ?? {};
    this.roleArn = props.RoleArn === undefined ? `arn:aws:iam::${this.accountId}:role/local` : resolver.resolveString(props.RoleArn, `${logicalId}.RoleArn`);
    this.definition = resolveDefinition(resolver, logicalId, props);

    const problems = unsupportedFeatures(this.definition);
    if (problems.length > 0) {
      throw new LocalWorkflowError(`state machine ${logicalId} uses what the local runner cannot run faithfully:\n- ${problems.join('\n- ')}`);
    }
    this.states = collectStates(this.definition);
    adaptForLibrary(this.definition, this.states);

    this.bindFunctions(resolver, template);
    this.checkTasks();
    try {
      this.machine = new StateMachine(this.definition as unknown as StateMachineDefinition, {
        validationOptions: { checkArn: true, checkPaths: true },
      });
    } catch (error) {
      throw new LocalWorkflowError(`state machine ${logicalId}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The template this workflow runs. */
  get template(): CfnTemplate {
    return this.options.template as CfnTemplate;
  }

  /**
   * A template value (a policy document, an ARN) with its intrinsics resolved to this run's local values, as the
   * run resolves them; stand-ins made here are not added to the run's `emulated`.
   */
  resolve(value: unknown): JsonValue {
    this.quietResolver ??= new TemplateResolver(this.template, this.resolverOptions);
    return this.quietResolver.resolve(value);
  }

  /**
   * Runs one execution to its end.
   *
   * @returns SUCCEEDED, FAILED (with the error name and cause AWS would report) or TIMED_OUT
   * @throws LocalWorkflowError when the run cannot be carried out faithfully (a Lambda without a local handler, a
   *         parameter Step Functions refuses, an SDK client that is not installed)
   */
  async run(input: JsonValue = {}, runOptions: LocalRunOptions = {}): Promise<LocalWorkflowResult> {
    const executionName = runOptions.executionName ?? randomUUID();
    const machineName = this.stateMachineArn.slice(this.stateMachineArn.lastIndexOf(':') + 1);
    const executionArn = `arn:aws:states:${this.region}:${this.accountId}:execution:${machineName}:${executionName}`;
    const calls: TaskCall[] = [];
    const runNotes = new Set<string>();
    const sdk = new SdkIntegrations();
    const tokens = new LocalTaskTokens();

    const taskHandlers: Record<string, (taskInput: JsonValue) => Promise<JsonValue>> = {};
    const waitOverrides: Record<string, number> = {};
    const retryOverrides: Record<string, number | number[]> = {};
    for (const { name, state } of this.states) {
      if (state.Type === 'Task') taskHandlers[name] = (taskInput) => this.runTask(name, state, taskInput, { sdk, tokens, calls, notes: runNotes });
      if (state.Type === 'Wait') waitOverrides[name] = pick(runOptions.waitMs, name, 0);
      if (Array.isArray(state.Retry)) retryOverrides[name] = pick(runOptions.retryIntervalMs, name, 0);
    }

    const execution = this.machine.run(input, {
      overrides: { taskResourceLocalHandlers: taskHandlers, waitTimeOverrides: waitOverrides, retryIntervalOverrides: retryOverrides },
      context: {
        Execution: { Id: executionArn, Name: executionName, RoleArn: this.roleArn },
        StateMachine: { Id: this.stateMachineArn, Name: machineName },
        // Every task start swaps it for a token of its own (./ecs-task).
        Task: { Token: LOCAL_TASK_TOKEN_PLACEHOLDER },
      },
    });
    const libraryEvents: LibraryEvent[] = [];
    const drained = (async () => {
      for await (const event of execution.eventLogs) libraryEvents.push(event);
    })();

    let status: LocalWorkflowResult['status'];
    let output: JsonValue | undefined;
    let error: string | undefined;
    let cause: string | undefined;
    try {
      output = (await execution.result) as JsonValue;
      status = 'SUCCEEDED';
    } catch (failure) {
      if (failure instanceof ExecutionTimeoutError) {
        status = 'TIMED_OUT';
        error = 'States.Timeout';
      } else if (failure instanceof ExecutionError && failure.cause instanceof Error) {
        if (failure.cause instanceof LocalWorkflowError) {
          await drained;
          await sdk.destroy();
          await tokens.close();
          throw failure.cause;
        }
        status = 'FAILED';
        ({ error, cause } = this.failureOf(failure.cause, libraryEvents));
      } else {
        await sdk.destroy();
        await tokens.close();
        throw failure;
      }
    }
    await drained;
    await sdk.destroy();
    await tokens.close();

    const events = libraryEvents.map(toTraceEvent);
    const visited = events.filter((event) => event.type === 'StateEntered').map((event) => event.state ?? '');
    const retries: Record<string, number> = {};
    for (const event of events) if (event.type === 'StateRetried' && event.state !== undefined) retries[event.state] = (retries[event.state] ?? 0) + 1;
    const emulated = [...this.setupNotes, ...runNotes, ...this.timingNotes(events, retries, runOptions)];
    emulated.push(
      'IAM is not evaluated: tasks and handlers use the emulator credentials, not the roles and policies of the template',
      `context object: execution ${executionName} and role ${this.roleArn} are local values; $$.State and $$.Task are not provided`,
    );
    return {
      status,
      executionArn,
      ...(output === undefined ? {} : { output }),
      ...(error === undefined ? {} : { error }),
      ...(cause === undefined ? {} : { cause }),
      visited,
      retries,
      calls,
      events,
      emulated,
    };
  }

  /**
   * What EventBridge does when an execution of this state machine ends `status` (TIMED_OUT or ABORTED), which the
   * runner itself never announces: finds the one rule of the template that matches the "Step Functions Execution
   * Status Change" event of this state machine, builds the event, applies the target's input (`Input` or
   * `InputTransformer`) and invokes the target function (bound in `handlers`) in-process, as that function.
   *
   * @returns the rule's logical id, the input the function got and what it returned
   * @throws LocalWorkflowError when no rule or more than one matches, or its target is not a bound function
   */
  async deliverStatusChange(end: StatusChange): Promise<{ readonly rule: string; readonly input: JsonValue; readonly payload: JsonValue }> {
    const machineName = this.stateMachineArn.slice(this.stateMachineArn.lastIndexOf(':') + 1);
    const executionName = end.executionName ?? randomUUID();
    const executionArn = `arn:aws:states:${this.region}:${this.accountId}:execution:${machineName}:${executionName}`;
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: this.accountId,
      time: new Date(end.stopDate ?? Date.now()).toISOString(),
      region: this.region,
      resources: [executionArn],
      detail: {
        executionArn,
        stateMachineArn: this.stateMachineArn,
        name: executionName,
        status: end.status,
        startDate: end.startDate ?? null,
        stopDate: end.stopDate ?? null,
        input: JSON.stringify(end.input ?? {}),
        output: null,
        error: end.error ?? null,
        cause: end.cause ?? null,
      },
    };
    const matching = Object.entries(this.template.Resources ?? {}).filter(([, resource]) => {
      if (resource.Type !== 'AWS::Events::Rule') return false;
      const pattern = this.resolve((resource.Properties ?? {}).EventPattern ?? {}) as Record<string, JsonValue>;
      const detail = (pattern.detail ?? {}) as Record<string, JsonValue>;
      const has = (list: JsonValue | undefined, value: string) => Array.isArray(list) && list.includes(value);
      return has(pattern.source, 'aws.states') && has(pattern['detail-type'], event['detail-type']) && has(detail.status, end.status) && has(detail.stateMachineArn, this.stateMachineArn);
    });
    if (matching.length !== 1) {
      throw new LocalWorkflowError(`expected one EventBridge rule for ${end.status} executions of ${this.stateMachineLogicalId}, found ${matching.length}`);
    }
    const [rule, resource] = matching[0];
    const targets = ((resource.Properties ?? {}).Targets ?? []) as Array<Record<string, JsonValue>>;
    if (targets.length !== 1) throw new LocalWorkflowError(`rule ${rule}: expected one target, found ${targets.length}`);
    const [target] = targets;
    const functionId = (target.Arn as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
    const fn = functionId === undefined ? undefined : this.lambdas.get(functionId);
    if (functionId === undefined || fn === undefined) {
      throw new LocalWorkflowError(`rule ${rule}: its target ${JSON.stringify(target.Arn)} is not a function of the template with a local handler` + (functionId ? `; pass handlers: { ${functionId}: handler }` : ''));
    }
    const input = targetInput(rule, target, event as unknown as JsonValue, (value) => this.resolve(value));
    const { payload } = await taskCaller.run({ workflow: this, principal: fn.spec.logicalId, kind: 'function', invokedBy: rule }, () => fn.invoke(input));
    return { rule, input, payload };
  }

  private async runTask(
    stateName: string,
    state: Readonly<Record<string, JsonValue>>,
    input: JsonValue,
    run: { readonly sdk: SdkIntegrations; readonly tokens: LocalTaskTokens; readonly calls: TaskCall[]; readonly notes: Set<string> },
  ): Promise<JsonValue> {
    const task = parseResource(String(state.Resource), stateName);
    let target = '';
    try {
      let result: JsonValue;
      switch (task.kind) {
        case 'lambda-invoke': {
          const parameters = asObject(input, `state "${stateName}": lambda:invoke parameters`);
          const fn = this.lambdaFor(String(parameters.FunctionName), stateName);
          target = `lambda:${fn.spec.logicalId}`;
          run.notes.add(inProcessNote(fn));
          const invocationType = parameters.InvocationType ?? 'RequestResponse';
          if (invocationType === 'DryRun') {
            result = invokeResponse(randomUUID(), null, 204);
            break;
          }
          const { payload, requestId } = await this.asFunction(fn, () => fn.invoke(parameters.Payload ?? {}));
          if (invocationType === 'Event') {
            run.notes.add(`state "${stateName}": the asynchronous (Event) invoke of ${fn.spec.logicalId} ran to completion before the state continued`);
            result = invokeResponse(requestId, '', 202);
          } else {
            result = invokeResponse(requestId, payload, 200);
          }
          run.notes.add('lambda:invoke results: SdkHttpMetadata headers are local stand-ins (request id, executed version)');
          break;
        }
        case 'lambda-arn': {
          const fn = this.lambdaFor(task.functionName, stateName);
          target = `lambda:${fn.spec.logicalId}`;
          run.notes.add(inProcessNote(fn));
          result = (await this.asFunction(fn, () => fn.invoke(input))).payload;
          break;
        }
        case 'aws-sdk':
          target = `aws-sdk:${task.service}:${task.action}`;
          result = await this.asStateMachine(() => run.sdk.awsSdk(task.service, task.action, input, stateName));
          break;
        case 'ecs-run-task': {
          const task = this.taskFor(input, stateName);
          target = `ecs:${task.logicalId}`;
          run.notes.add(
            `task ${task.logicalId}: the container ran as a child process of this runner (node --import tsx ${task.binding.entrypoint}) with the task definition's environment and the state's overrides, ` +
              'not in its image on Fargate; its Step Functions calls (SendTaskSuccess/Failure/Heartbeat) went to a loopback endpoint of the runner',
          );
          const caller = { workflow: this, principal: task.logicalId, kind: 'task' as const };
          // Started with the state machine's role (RunTask, PassRole); the child's calls are the task role's.
          result = await this.asStateMachine(() => run.tokens.run(
            task.binding,
            {
              logicalId: task.logicalId,
              taskDefinitionArn: task.arn,
              cluster: String(asObject(input, stateName).Cluster ?? 'default'),
              roleArns: task.roleArns,
              variables: task.variables,
              overrides: task.overrides,
              heartbeatSeconds: typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined,
              region: this.region,
              extraEnv: this.options.extraEnv,
              passthroughEnv: this.options.passthroughEnv,
            },
            (call) => {
              for (const listener of childCallListeners) listener(caller, call);
            },
            run.notes,
          ));
          break;
        }
        case 'sns-publish':
          target = 'sns:publish';
          result = await this.asStateMachine(() => run.sdk.snsPublish(input, stateName));
          run.notes.add('sns:publish results: SdkHttpMetadata headers are local stand-ins (request id only)');
          break;
      }
      const size = Buffer.byteLength(JSON.stringify(result), 'utf8');
      if (size > MAX_PAYLOAD_BYTES) {
        throw new TaskFailure('States.DataLimitExceeded', `The state/task '${stateName}' returned a result with a size of ${size} bytes, over the 262144-byte limit.`, true);
      }
      run.calls.push({ state: stateName, target, input, output: result });
      return result;
    } catch (failure) {
      if (failure instanceof Error && !(failure instanceof LocalWorkflowError)) {
        run.calls.push({ state: stateName, target, input, error: failure.name, cause: failure.message });
        if (failure.name === 'Sandbox.Timedout') {
          run.notes.add(`state "${stateName}": ${target} timed out; its handler could not be stopped and went on running in this process without its environment`);
        }
      }
      throw failure;
    }
  }

  private asFunction<T>(fn: InProcessLambda, work: () => Promise<T>): Promise<T> {
    return taskCaller.run({ workflow: this, principal: fn.spec.logicalId, kind: 'function' }, work);
  }

  private asStateMachine<T>(work: () => Promise<T>): Promise<T> {
    return taskCaller.run({ workflow: this, principal: this.stateMachineLogicalId, kind: 'state-machine' }, work);
  }

  /** The task definition a RunTask names (by family, ARN or logical id), its container's environment and the overrides. */
  private taskFor(
    input: JsonValue,
    stateName: string,
  ): { logicalId: string; arn: string; roleArns: string[]; binding: LocalTaskBinding; variables: Record<string, string>; overrides: Record<string, string> } {
    const parameters = asObject(input, `state "${stateName}": ecs:runTask parameters`);
    const named = String(parameters.TaskDefinition);
    const resources = this.template.Resources ?? {};
    const family = named.includes(':task-definition/') ? named.slice(named.indexOf('/') + 1).split(':')[0] : named;
    const found = Object.entries(resources).find(
      ([id, resource]) => resource.Type === 'AWS::ECS::TaskDefinition' && (id === named || (resource.Properties ?? {}).Family === family),
    );
    if (found === undefined) throw new LocalWorkflowError(`state "${stateName}" runs task definition ${named}, which is not in the template`);
    const [logicalId, resource] = found;
    const bindings = new Map(Object.entries(this.options.tasks ?? {}).map(([key, binding]) => [this.findLogicalId(key, 'AWS::ECS::TaskDefinition'), binding]));
    const binding = bindings.get(logicalId);
    if (binding === undefined) throw new LocalWorkflowError(`state "${stateName}" runs task definition ${logicalId}, which has no local entrypoint; pass tasks: { ${logicalId}: { entrypoint } }`);
    const containers = ((resource.Properties ?? {}).ContainerDefinitions ?? []) as Array<Record<string, JsonValue>>;
    const containerOverrides = (asObjectOrEmpty(parameters.Overrides).ContainerOverrides ?? []) as Array<Record<string, JsonValue>>;
    if (containers.length !== 1) throw new LocalWorkflowError(`task definition ${logicalId} has ${containers.length} containers; the local runner runs one`);
    const [container] = containers;
    const pairs = (list: JsonValue | undefined): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const entry of (Array.isArray(list) ? list : []) as Array<Record<string, JsonValue>>) out[String(entry.Name)] = String(entry.Value);
      return out;
    };
    const variables = pairs(this.resolve(container.Environment ?? []));
    const override = containerOverrides.find((o) => o.Name === container.Name);
    if (containerOverrides.some((o) => o.Name !== container.Name)) {
      throw new LocalWorkflowError(`state "${stateName}" overrides a container that task definition ${logicalId} does not have`);
    }
    const props = resource.Properties ?? {};
    const roleArns = [props.TaskRoleArn, props.ExecutionRoleArn].filter((arn) => arn !== undefined).map((arn) => String(this.resolve(arn)));
    return { logicalId, arn: String(this.resolve({ Ref: logicalId })), roleArns, binding, variables, overrides: pairs(override?.Environment) };
  }

  private findLogicalId(idOrPath: string, type: string): string {
    this.quietResolver ??= new TemplateResolver(this.template, this.resolverOptions);
    return this.quietResolver.findResource(idOrPath, type).logicalId;
  }

  private lambdaFor(functionNameOrArn: string, stateName: string): InProcessLambda {
    const name = functionNameOf(functionNameOrArn);
    const logicalId = this.lambdaByName.get(name);
    const fn = logicalId === undefined ? undefined : this.lambdas.get(logicalId);
    if (fn === undefined) {
      const known = [...this.lambdaByName.entries()].map(([fnName, id]) => `${id} (${fnName})`).join(', ');
      throw new LocalWorkflowError(
        `state "${stateName}" invokes Lambda "${functionNameOrArn}", which has no local handler` +
          (logicalId === undefined ? `; functions of the template: ${known || 'none'}` : `; pass handlers: { ${logicalId}: handler }`),
      );
    }
    return fn;
  }

  private bindFunctions(resolver: TemplateResolver, template: CfnTemplate): void {
    const handlerIds = new Map<string, LocalLambdaBinding>();
    for (const [key, binding] of Object.entries(this.options.handlers)) {
      handlerIds.set(resolver.findResource(key, 'AWS::Lambda::Function').logicalId, binding);
    }
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const binding = handlerIds.get(logicalId);
      const functionName = String(resolver.ref(logicalId));
      this.lambdaByName.set(functionName, logicalId);
      if (binding === undefined) continue;
      const props = resource.Properties ?? {};
      const variables = resolver.resolve((props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {});
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(asObject(variables, `${logicalId}.Environment.Variables`))) {
        env[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
      const numberOr = (value: unknown, fallback: number): number => (value === undefined ? fallback : Number(resolver.resolve(value)));
      this.lambdas.set(
        logicalId,
        new InProcessLambda(
          {
            logicalId,
            functionName,
            functionArn: resolver.getAtt(logicalId, 'Arn'),
            variables: env,
            timeoutSeconds: numberOr(props.Timeout, 3),
            memoryMb: numberOr(props.MemorySize, 128),
          },
          binding,
          {
            region: this.region,
            passthroughEnv: this.options.passthroughEnv,
            extraEnv: this.options.extraEnv,
            enforceTimeout: this.options.enforceLambdaTimeout,
          },
        ),
      );
    }
  }

  /** Refuses, before running, Task states the runner cannot carry out. */
  private checkTasks(): void {
    const problems: string[] = [];
    let usesSdk = false;
    for (const { name, state } of this.states) {
      if (state.Type !== 'Task') continue;
      let task: TaskKind;
      try {
        task = parseResource(String(state.Resource), name);
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
        continue;
      }
      if (task.kind === 'aws-sdk' || task.kind === 'sns-publish') usesSdk = true;
      const staticName =
        task.kind === 'lambda-arn'
          ? task.functionName
          : task.kind === 'lambda-invoke' && typeof asObjectOrEmpty(state.Parameters).FunctionName === 'string'
            ? String(asObjectOrEmpty(state.Parameters).FunctionName)
            : undefined;
      if (staticName !== undefined && !this.lambdas.has(this.lambdaByName.get(functionNameOf(staticName)) ?? '')) {
        const logicalId = this.lambdaByName.get(functionNameOf(staticName));
        problems.push(
          logicalId === undefined
            ? `state "${name}" invokes "${staticName}", which is not a function of this template`
            : `state "${name}" invokes ${logicalId}, which has no local handler; pass handlers: { ${logicalId}: handler }`,
        );
      }
    }
    if (usesSdk && process.env.AWS_ENDPOINT_URL === undefined) {
      problems.push('AWS SDK integration tasks need AWS_ENDPOINT_URL pointing at the local emulator (moto); it is not set');
    }
    if (problems.length > 0) {
      throw new LocalWorkflowError(`state machine ${this.stateMachineLogicalId} cannot run locally:\n- ${problems.join('\n- ')}`);
    }
  }

  private failureOf(failure: Error, events: readonly LibraryEvent[]): { error?: string; cause?: string } {
    // A Fail state without Error/Cause ends the execution with neither, as in AWS (the library fills in defaults).
    const failed = [...events].reverse().find((event) => event.type === 'StateFailed' && 'state' in event && event.state.type === 'Fail');
    const failState = failed !== undefined && 'state' in failed ? this.states.find((s) => s.name === failed.state.name) : undefined;
    if (failState !== undefined) {
      const { state } = failState;
      return {
        ...('Error' in state || 'ErrorPath' in state ? { error: failure.name } : {}),
        ...('Cause' in state || 'CausePath' in state ? { cause: failure.message } : {}),
      };
    }
    return { error: failure.name, cause: failure.message };
  }

  private timingNotes(events: readonly TraceEvent[], retries: Readonly<Record<string, number>>, runOptions: LocalRunOptions): string[] {
    const notes: string[] = [];
    const waited = new Set(events.filter((event) => event.type === 'StateEntered' && event.stateType === 'Wait').map((event) => event.state ?? ''));
    for (const name of waited) notes.push(`Wait state "${name}" waited ${pick(runOptions.waitMs, name, 0)} ms instead of its configured time`);
    for (const [name, count] of Object.entries(retries)) {
      notes.push(`state "${name}" was retried ${count} time(s) after ${JSON.stringify(pick(runOptions.retryIntervalMs, name, 0))} ms instead of its Retry intervals`);
    }
    return notes;
  }
}

function resolveDefinition(resolver: TemplateResolver, logicalId: string, props: Readonly<Record<string, unknown>>): Record<string, JsonValue> {
  const substitutions = props.DefinitionSubstitutions === undefined ? {} : asObject(resolver.resolve(props.DefinitionSubstitutions), `${logicalId}.DefinitionSubstitutions`);
  const substitute = (text: string): string =>
    text.replace(/\$\{([^}]+)\}/g, (match, key: string) => {
      const value = substitutions[key];
      if (value === undefined) return match;
      return typeof value === 'string' ? value : JSON.stringify(value);
    });
  let definition: JsonValue;
  if (props.DefinitionString !== undefined) {
    const text = substitute(resolver.resolveString(props.DefinitionString, `${logicalId}.DefinitionString`));
    try {
      definition = JSON.parse(text) as JsonValue;
    } catch (error) {
      throw new LocalWorkflowError(`${logicalId}.DefinitionString is not JSON once resolved: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if (props.Definition !== undefined) {
    definition = JSON.parse(substitute(JSON.stringify(resolver.resolve(props.Definition)))) as JsonValue;
  } else {
    throw new LocalWorkflowError(`${logicalId} has neither DefinitionString nor Definition (DefinitionS3Location is not supported locally)`);
  }
  const object = asObject(definition, `${logicalId} definition`);
  if (typeof object.StartAt !== 'string' || typeof object.States !== 'object') {
    throw new LocalWorkflowError(`${logicalId} definition has no StartAt/States`);
  }
  return object;
}

/**
 * Rewrites what aws-local-stepfunctions 3.0 gets wrong into equivalent ASL it gets right:
 * - a Task without `TimeoutSeconds` times out after 60 s there (AWS: 99999999 s), and timers past 2^31-1 ms fire at
 *   once (setTimeout): such tasks get the longest timer, longer timeouts are clamped to it;
 * - `ResultPath: "$"` (in a state or a Catch) adds a field named `$` there instead of replacing the input: it is
 *   removed, which means the same (the result replaces the input).
 */
function adaptForLibrary(definition: Record<string, JsonValue>, states: readonly StateEntry[]): void {
  if (typeof definition.TimeoutSeconds === 'number') definition.TimeoutSeconds = Math.min(definition.TimeoutSeconds, MAX_TIMER_SECONDS);
  for (const { state } of states) {
    const mutable = state as Record<string, JsonValue>;
    if (mutable.ResultPath === '$') delete mutable.ResultPath;
    if (Array.isArray(mutable.Catch)) {
      for (const catcher of mutable.Catch) {
        if (typeof catcher === 'object' && catcher !== null && !Array.isArray(catcher) && catcher.ResultPath === '$') delete catcher.ResultPath;
      }
    }
    if (state.Type !== 'Task' || 'TimeoutSecondsPath' in state) continue;
    mutable.TimeoutSeconds = typeof state.TimeoutSeconds === 'number' ? Math.min(state.TimeoutSeconds, MAX_TIMER_SECONDS) : MAX_TIMER_SECONDS;
  }
}

function parseResource(resource: string, stateName: string): TaskKind {
  const integration = /^arn:[a-z-]+:states:::(.+)$/.exec(resource);
  if (integration !== null) {
    const [path] = integration.slice(1);
    if (path === 'lambda:invoke') return { kind: 'lambda-invoke' };
    if (path === 'sns:publish') return { kind: 'sns-publish' };
    if (path === 'ecs:runTask.waitForTaskToken') return { kind: 'ecs-run-task' };
    const sdk = /^aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(path);
    if (sdk !== null) return { kind: 'aws-sdk', service: sdk[1], action: sdk[2] };
    throw new LocalWorkflowError(
      `state "${stateName}": ${resource} is not supported locally (supported: lambda:invoke, sns:publish, ecs:runTask.waitForTaskToken, aws-sdk:<service>:<action>)`,
    );
  }
  const lambdaArn = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:([^:]+)(:[^:]+)?$/.exec(resource);
  if (lambdaArn !== null) return { kind: 'lambda-arn', functionName: lambdaArn[1] };
  throw new LocalWorkflowError(`state "${stateName}": Resource ${resource} is not supported locally (activities are not)`);
}

/** `name`, `name:alias`, `123456789012:function:name` or a full function ARN -> `name`. */
function functionNameOf(value: string): string {
  const marker = ':function:';
  const index = value.indexOf(marker);
  const rest = index >= 0 ? value.slice(index + marker.length) : value;
  return rest.split(':')[0];
}

function invokeResponse(requestId: string, payload: JsonValue, statusCode: number): JsonValue {
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: {
      AllHttpHeaders: { 'X-Amz-Executed-Version': ['$LATEST'], 'x-amzn-RequestId': [requestId], 'Content-Type': ['application/json'] },
      HttpHeaders: { 'X-Amz-Executed-Version': '$LATEST', 'x-amzn-RequestId': requestId, 'Content-Type': 'application/json' },
      HttpStatusCode: statusCode,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: statusCode,
  };
}

function inProcessNote(fn: InProcessLambda): string {
  return (
    `Lambda ${fn.spec.logicalId} (${fn.spec.functionName}) ran in-process with its template environment: ` +
    `no sandbox, memory limit (${fn.spec.memoryMb} MB not enforced), cold start, or concurrency; invocations run one at a time`
  );
}

function toTraceEvent(event: LibraryEvent): TraceEvent {
  const out: { -readonly [K in keyof TraceEvent]: TraceEvent[K] } = { type: event.type };
  if ('state' in event) {
    out.state = event.state.name;
    out.stateType = event.state.type;
    out.input = event.state.input as JsonValue;
    if (event.state.output !== undefined) out.output = event.state.output as JsonValue;
  }
  if ('input' in event && !('state' in event)) out.input = event.input as JsonValue;
  if ('output' in event && !('state' in event)) out.output = event.output as JsonValue;
  if ('Error' in event) {
    out.error = event.Error;
    out.cause = typeof event.Cause === 'string' ? event.Cause : event.Cause instanceof Error ? event.Cause.message : JSON.stringify(event.Cause);
  }
  if ('retry' in event) out.retryAttempt = event.retry.attempt;
  if ('index' in event && typeof event.index === 'number') out.mapIndex = event.index;
  if ('parentState' in event) out.parentState = event.parentState.name;
  return out;
}

function pick<T>(option: T | Readonly<Record<string, T>> | undefined, name: string, fallback: T): T {
  if (option === undefined) return fallback;
  if (typeof option === 'object' && option !== null && !Array.isArray(option)) return (option as Readonly<Record<string, T>>)[name] ?? fallback;
  return option as T;
}

function asObject(value: JsonValue | undefined, what: string): Record<string, JsonValue> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LocalWorkflowError(`${what} must be an object, got ${JSON.stringify(value)}`);
  return value;
}

function asObjectOrEmpty(value: JsonValue | undefined): Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}

/** aws-local-stepfunctions 3 calls `Promise.withResolvers` (Node.js 22+); add it on older runtimes. */
function ensurePromiseWithResolvers(): void {
  type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };
  const promise = Promise as PromiseConstructor & { withResolvers?: WithResolvers };
  if (typeof promise.withResolvers === 'function') return;
  const withResolvers: WithResolvers = <T>() => {
    let resolve: (value: T | PromiseLike<T>) => void = () => undefined;
    let reject: (reason?: unknown) => void = () => undefined;
    const created = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise: created, resolve, reject };
  };
  Object.defineProperty(Promise, 'withResolvers', { value: withResolvers, writable: true, configurable: true });
}

/** An execution's end as EventBridge reports it (the fields of its "Step Functions Execution Status Change" event). */
export interface StatusChange {
  readonly status: 'TIMED_OUT' | 'ABORTED';
  /** @default - a random name */
  readonly executionName?: string;
  /** Epoch milliseconds. @default null */
  readonly startDate?: number;
  /** Epoch milliseconds. @default null */
  readonly stopDate?: number;
  readonly error?: string;
  readonly cause?: string;
  /** The execution's input. @default {} */
  readonly input?: JsonValue;
}

/** The value at a simple JSONPath (`$`, `$.detail.status`) of `event`. */
function valueAtPath(event: JsonValue, path: string): JsonValue | undefined {
  if (path === '$') return event;
  if (!path.startsWith('$.')) throw new LocalWorkflowError(`input path ${path}: only $ and $.a.b paths are supported`);
  let value: JsonValue | undefined = event;
  for (const key of path.slice(2).split('.')) value = value !== null && typeof value === 'object' && !Array.isArray(value) ? value[key] : undefined;
  return value;
}

/**
 * The input EventBridge gives a target: its `Input`, `InputPath`, `InputTransformer` (a `<name>` inside quotes takes
 * the value as text, outside quotes as JSON, as EventBridge does), or else the event.
 */
function targetInput(rule: string, target: Record<string, JsonValue>, event: JsonValue, resolve: (value: unknown) => JsonValue): JsonValue {
  if (target.Input !== undefined) return JSON.parse(String(resolve(target.Input))) as JsonValue;
  if (target.InputPath !== undefined) return valueAtPath(event, String(resolve(target.InputPath))) ?? null;
  const transformer = target.InputTransformer as { InputPathsMap?: Record<string, string>; InputTemplate: JsonValue } | undefined;
  if (transformer === undefined) return event;
  const values: Record<string, JsonValue | undefined> = { 'aws.events.event': event, 'aws.events.rule-arn': `arn:aws:events:local:rule/${rule}` };
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {})) values[name] = valueAtPath(event, path);
  const text = String(resolve(transformer.InputTemplate)).replace(/("?)<([A-Za-z0-9_.-]+)>("?)/g, (whole, open: string, name: string, close: string) => {
    if (!(name in values)) return whole;
    const value = values[name] ?? null;
    if (open && close) return JSON.stringify(typeof value === 'string' ? value : JSON.stringify(value));
    return `${open}${JSON.stringify(value)}${close}`;
  });
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new LocalWorkflowError(`rule ${rule}: the transformed input is not JSON (${String(error)}): ${text}`);
  }
}
