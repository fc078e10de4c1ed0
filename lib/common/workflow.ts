import { Arn, ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { NotReady } from '../../lambda/common/errors';
import { NOTIFICATION_ATTRIBUTES } from '../../lambda/reporting/notification';
import type { UnreportedEndFacts } from '../../lambda/reporting/unreported-end';
import { UnreportedEndNotifier } from './unreported-end-notifier';

/**
 * What the workflow state machines (backup, recovery test, failover) share: the Lambda task and its retries, the
 * cleanup `Parallel`, the common end (report → notify → Succeed/Fail), and the state machine with its log group and
 * the alert on a run that ends without a report.
 */

/** The execution's id and name as payload fields (handlers name what they create, and their reports, after them). */
export const EXECUTION_FIELDS = { 'executionId.$': '$$.Execution.Id', 'executionName.$': '$$.Execution.Name' } as const;

/** Error names AWS APIs throttle with; a task that calls AWS APIs before anything is created retries them. */
export const THROTTLING_ERRORS: readonly string[] = ['ThrottlingException', 'Throttling', 'TooManyRequestsException'];

/** A Lambda task whose result (the handler's return value) goes to `resultPath`; Lambda service errors are retried. */
export function invokeTask(scope: Construct, id: string, fn: lambda.IFunction, payload: sfn.TaskInput, resultPath: string): tasks.LambdaInvoke {
  return new tasks.LambdaInvoke(scope, id, { lambdaFunction: fn, payload, payloadResponseOnly: true, retryOnServiceExceptions: true, resultPath });
}

/** Polls of `interval` that fit in `timeout` (at least 1). */
export function pollAttempts(timeout: Duration, interval: Duration): number {
  return Math.max(1, Math.ceil(timeout.toSeconds() / interval.toSeconds()));
}

/** Polls `task` while its handler throws {@link NotReady}: every `interval`, at most `maxAttempts` times. */
export function retryWhileNotReady(task: sfn.TaskStateBase, interval: Duration, maxAttempts: number): void {
  task.addRetry({ errors: [NotReady.NAME], interval, maxAttempts, backoffRate: 1 });
}

/** Retries AWS API throttling ({@link THROTTLING_ERRORS}): after 10 s, then doubling, 4 attempts. */
export function retryThrottling(task: sfn.TaskStateBase): void {
  task.addRetry({ errors: [...THROTTLING_ERRORS], interval: Duration.seconds(10), maxAttempts: 4, backoffRate: 2 });
}

/** One thing the cleanup deletes: its task, and the name of the state that records the task giving up. */
export interface CleanupBranch {
  readonly task: sfn.TaskStateBase;
  readonly what: 'database' | 'secret';
  readonly failedStateName: string;
}

/**
 * The cleanup `Parallel` of the recovery workflows, its result under `$.cleanup`: one branch per thing to delete,
 * each retrying any error on its own (after 10 s, doubling, 5 attempts; after the task's own retries). A branch that
 * gives up records `{ what, status: 'failed', error }` as its result instead of failing the `Parallel`: a failed
 * branch would cancel the others (e.g. stop waiting for the database's deletion because the secret could not be
 * deleted) and leave their resources behind.
 */
export function cleanupParallel(scope: Construct, id: string, comment: string, branches: readonly CleanupBranch[]): sfn.Parallel {
  const cleanup = new sfn.Parallel(scope, id, { comment, resultPath: '$.cleanup' });
  for (const { task, what, failedStateName } of branches) {
    task.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(10), maxAttempts: 5, backoffRate: 2 });
    const recordFailure = new sfn.Pass(scope, failedStateName, { parameters: { what, status: 'failed', 'error.$': '$.cleanupFailure' } });
    task.addCatch(recordFailure, { errors: [sfn.Errors.ALL], resultPath: '$.cleanupFailure' });
    cleanup.branch(task);
  }
  return cleanup;
}

/** Props of {@link reportAndNotify}. */
export interface ReportAndNotifyProps {
  /** `recovery-test` or `failover`: the `workflow` field of the message sent when no report could be written. */
  readonly workflow: string;
  /** The workflow in that message's subject, e.g. `recovery test`. */
  readonly title: string;
  /** Writes the report (JSON in the bucket, metrics) and returns `{ status, cause?, subject, message, attributes }`. */
  readonly reportFunction: lambda.IFunction;
  /** The report handler's input. */
  readonly reportPayload: sfn.TaskInput;
  readonly topic: sns.ITopic;
  /** Names of the states. */
  readonly states: {
    readonly report: string;
    readonly notifyReportFailure: string;
    readonly reportFailed: string;
    readonly notify: string;
    readonly notifyFailed: string;
    readonly outcome: string;
    readonly succeeded: string;
    readonly failed: string;
  };
  /** The `error` of the Fail states: the outcome was FAILED, the report failed, the notification failed. */
  readonly errors: { readonly failed: string; readonly reportFailed: string; readonly notifyFailed: string };
}

/**
 * The common end of the recovery workflows, where every path ends: report (its result under `$.report`) → SNS message
 * with the outcome → Succeed, or Fail when the outcome is FAILED. A failed report is notified on its own (there is no
 * report to send) and ends in Fail; so does a failed notification. Returns the report task, the entry.
 */
export function reportAndNotify(scope: Construct, props: ReportAndNotifyProps): tasks.LambdaInvoke {
  const S = props.states;
  const report = invokeTask(scope, S.report, props.reportFunction, props.reportPayload, '$.report');

  const reportFailed = new sfn.Fail(scope, S.reportFailed, { error: props.errors.reportFailed, causePath: '$.reportError.Cause' });
  const notifyReportFailure = new tasks.SnsPublish(scope, S.notifyReportFailure, {
    topic: props.topic,
    subject: `cdk-backup-dr ${props.title} FAILED (no report)`,
    message: sfn.TaskInput.fromObject({
      workflow: props.workflow,
      status: 'FAILED',
      'executionId.$': '$$.Execution.Id',
      'error.$': '$.reportError.Error',
      'cause.$': '$.reportError.Cause',
    }),
    resultPath: sfn.JsonPath.DISCARD,
  });
  retryNotification(notifyReportFailure);
  notifyReportFailure.addCatch(reportFailed, { errors: [sfn.Errors.ALL], resultPath: '$.notifyError' });
  notifyReportFailure.next(reportFailed);
  report.addCatch(notifyReportFailure, { errors: [sfn.Errors.ALL], resultPath: '$.reportError' });

  const notify = publishNotification(scope, S.notify, props.topic, '$.report');
  notify.addCatch(new sfn.Fail(scope, S.notifyFailed, { error: props.errors.notifyFailed, causePath: '$.notifyError.Cause' }), {
    errors: [sfn.Errors.ALL],
    resultPath: '$.notifyError',
  });
  report.next(notify);
  notify.next(
    new sfn.Choice(scope, S.outcome)
      .when(sfn.Condition.stringEquals('$.report.status', 'SUCCEEDED'), new sfn.Succeed(scope, S.succeeded))
      .otherwise(new sfn.Fail(scope, S.failed, { error: props.errors.failed, causePath: '$.report.cause' })),
  );
  return report;
}

/**
 * Publishes the notification a report handler formatted (lambda/reporting/notification.ts) at `path`
 * (`{ subject, message, attributes }`): one body per protocol (`MessageStructure: json`) and the message attributes
 * {@link NOTIFICATION_ATTRIBUTES}. Retried ({@link retryNotification}); the result is discarded.
 */
export function publishNotification(scope: Construct, id: string, topic: sns.ITopic, path: string): tasks.SnsPublish {
  const task = new tasks.SnsPublish(scope, id, {
    topic,
    subject: sfn.JsonPath.stringAt(`${path}.subject`),
    message: sfn.TaskInput.fromJsonPathAt(`${path}.message`),
    messagePerSubscriptionType: true,
    messageAttributes: Object.fromEntries(
      NOTIFICATION_ATTRIBUTES.map((name) => [name, { value: sfn.JsonPath.stringAt(`${path}.attributes.${name}`), dataType: tasks.MessageAttributeDataType.STRING }]),
    ),
    resultPath: sfn.JsonPath.DISCARD,
  });
  retryNotification(task);
  return task;
}

/** Retries an SNS publish: after 2 s, doubling, 3 attempts. */
export function retryNotification(task: sfn.TaskStateBase): void {
  task.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
}

/** Props of {@link workflowStateMachine}. */
export interface WorkflowStateMachineProps {
  /** The first state. */
  readonly definition: sfn.IChainable;
  readonly comment: string;
  readonly timeout: Duration;
  /** KMS key of the log group. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Where a run that times out or is aborted is told ({@link alertOnUnreportedEnd}). */
  readonly topic: sns.ITopic;
  /** `backup`, `recovery-test`, `failover`: the `workflow` field of that message. */
  readonly workflow: string;
  /**
   * The workflow as a person reads it in that message's subject, e.g. `recovery test`.
   * @default - `workflow` with spaces for hyphens
   */
  readonly what?: string;
  /**
   * The source the message names (the `source` attribute; PostgresBackup's `sourceName`).
   * @default - the stack's name (a workflow that serves no one source, e.g. the sweeper)
   */
  readonly source?: string;
  /** What the reader has to check or do after such a run, e.g. which resources may remain. */
  readonly afterwards: string;
  /**
   * Whether the definition publishes to `topic` itself (then its role gets the topic key). @default true
   */
  readonly publishesToTopic?: boolean;
  /**
   * The state machine's name, for callers that address it by name from another stack or region.
   * @default - generated by CloudFormation
   */
  readonly stateMachineName?: string;
}

/**
 * A workflow's state machine (ids `Logs`, `StateMachine`, `TimedOutOrAborted` under `scope`): logging ALL with
 * execution data to its own KMS-encrypted log group (retained), X-Ray tracing on, and {@link alertOnUnreportedEnd}.
 */
export function workflowStateMachine(scope: Construct, props: WorkflowStateMachineProps): sfn.StateMachine {
  const logGroup = new logs.LogGroup(scope, 'Logs', { encryptionKey: props.logsKey, retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineName: props.stateMachineName,
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
  });
  // SNS encrypts a message to a KMS-encrypted topic with the publisher's credentials: sns:publish tasks need the key.
  if (props.publishesToTopic ?? true) props.topic.masterKey?.grant(stateMachine, 'kms:Decrypt', 'kms:GenerateDataKey');
  const notifier = UnreportedEndNotifier.of(scope, { logsKey: props.logsKey, logRetention: props.logRetention });
  alertOnUnreportedEnd(scope, 'TimedOutOrAborted', {
    stateMachine,
    topic: props.topic,
    notifier,
    facts: {
      workflow: props.workflow,
      what: props.what ?? props.workflow.replace(/-/g, ' '),
      source: props.source ?? Stack.of(scope).stackName,
      afterwards: props.afterwards,
    },
  });
  return stateMachine;
}

/** Props of {@link alertOnUnreportedEnd}. */
export interface UnreportedEndAlertProps {
  readonly stateMachine: sfn.IStateMachine;
  /** Where the message goes. */
  readonly topic: sns.ITopic;
  /** The stack's function that formats and publishes the message. */
  readonly notifier: UnreportedEndNotifier;
  /** What the message says of the workflow: its name, source and what to check or do now. */
  readonly facts: UnreportedEndFacts;
}

/**
 * An EventBridge rule that tells the topic when an execution of the state machine times out or is stopped by hand.
 * Neither reaches a `Catch`, so the run writes no report and sends no message of its own; for the recovery workflows
 * it also means the cleanup did not run. The rule invokes the stack's {@link UnreportedEndNotifier} with
 * `{ topicArn, facts, detail }` (the event's detail), which publishes the formatted message (subject
 * `cdk-backup-dr TIMED_OUT: <what> of <source> in <region>`, the next step, the cause); the notifier may publish to
 * `topic` only. Delivery is retried by EventBridge (its default: 24 hours, 185 attempts).
 */
export function alertOnUnreportedEnd(scope: Construct, id: string, props: UnreportedEndAlertProps): events.Rule {
  for (const [name, value] of Object.entries(props.facts)) {
    if (typeof value !== 'string' || value === '') throw new Error(`${scope.node.path}/${id}: facts.${name} must be a non-empty string`);
  }
  props.notifier.serve(props.topic);
  return new events.Rule(scope, id, {
    description: `cdk-backup-dr: a ${props.facts.workflow} run timed out or was aborted`,
    eventPattern: {
      source: ['aws.states'],
      detailType: ['Step Functions Execution Status Change'],
      detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [props.stateMachine.stateMachineArn] },
    },
    targets: [
      new eventsTargets.LambdaFunction(props.notifier.function, {
        event: events.RuleTargetInput.fromObject({
          topicArn: props.topic.topicArn,
          facts: props.facts,
          detail: events.EventField.fromPath('$.detail'),
        }),
      }),
    ],
  });
}

/**
 * The ARN pattern of every execution of `stateMachine` (`arn:…:states:<its region>:<its account>:execution:<name>:*`),
 * for grants that read executions of one named state machine only. Works for a state machine of this app (its name
 * attribute) and an imported one (the name from its ARN).
 */
export function executionArnPattern(scope: Construct, stateMachine: sfn.IStateMachine): string {
  const name = stateMachine instanceof sfn.StateMachine
    ? stateMachine.stateMachineName
    : Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  return Stack.of(scope).formatArn({
    service: 'states',
    region: stateMachine.env.region,
    account: stateMachine.env.account,
    resource: 'execution',
    resourceName: `${name}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
