import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { CleanupEvent, ConfirmWritableEvent, CreateEvent, PromoteEvent, SetPasswordEvent, WaitEvent } from '../../lambda/failover/failover-act.handler';
import type { PreflightEvent, ReplicaLagEvent, ValidateEvent } from '../../lambda/failover/failover-preflight.handler';
import type { FailoverReportEvent } from '../../lambda/reporting/failover-report.handler';
import type { RecoveryVerifyInput } from '../../lambda/restore/recovery-verify.handler';
import type { RepointInput } from '../../lambda/failover/repoint.handler';
import type { RestoreInput } from '../../lambda/restore/restore.handler';
import type { RestoreVerifyInput } from '../../lambda/restore/restore-verify.handler';
import { alertOnUnreportedEnd } from '../common/unreported-end-alert';
import { cleanupParallel } from '../common/cleanup';
import { taskInput } from '../common/payload';
import type { FailoverStrategyName } from './failover-strategy';

/** Props for {@link FailoverWorkflow}. */
export interface FailoverWorkflowProps {
  /** The strategies the machine has branches for. */
  readonly strategies: readonly FailoverStrategyName[];
  /** Whether promote-replica promotes an Aurora global secondary (instead of an RDS read replica). */
  readonly globalSecondary: boolean;
  /** The database the checks run in (and a dump is restored into). */
  readonly database: string;
  /** lambda/failover/failover-preflight.handler.ts. */
  readonly preflightFunction: lambda.IFunction;
  /** lambda/failover/failover-act.handler.ts. */
  readonly actFunction: lambda.IFunction;
  /**
   * lambda/restore/restore.handler.ts (restore-dump).
   * @default - none; required when the strategies include restore-dump
   */
  readonly restoreFunction?: lambda.IFunction;
  /**
   * lambda/restore/restore-verify.handler.ts: row counts against the manifest and the validation queries (restore-dump).
   * @default - none; required when the strategies include restore-dump
   */
  readonly dumpVerifyFunction?: lambda.IFunction;
  /**
   * lambda/restore/recovery-verify.handler.ts: the validation queries (every other strategy).
   * @default - none; required unless restore-dump is the only strategy
   */
  readonly verifyFunction?: lambda.IFunction;
  /**
   * lambda/failover/repoint.handler.ts.
   * @default - no repoint: a real failover ends once the new database is verified
   */
  readonly repointFunction?: lambda.IFunction;
  /** lambda/reporting/failover-report.handler.ts. */
  readonly reportFunction: lambda.IFunction;
  readonly notificationTopic: sns.ITopic;
  /** @default - none */
  readonly validationQueries?: ReadonlyArray<{ readonly name: string; readonly sql: string }>;
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /**
   * How long to wait for a restore to become available, or a promotion to finish.
   * @default Duration.hours(2)
   */
  readonly waitTimeout?: Duration;
  /**
   * How long a dry run's cleanup may wait for its database to be deleted.
   * @default Duration.hours(1)
   */
  readonly cleanupTimeout?: Duration;
  /** @default Duration.hours(8) */
  readonly timeout?: Duration;
}

/** Interval between polls of a database's status. */
export const FAILOVER_POLL_INTERVAL = Duration.seconds(30);

/** Names of the states tests and docs refer to. */
export const FAILOVER_STATES = {
  start: 'Start failover',
  validate: 'Validate input',
  preflight: 'Preflight',
  strategy: 'Which strategy?',
  unconfigured: 'Strategy not configured',
  lag: 'Measure replica lag',
  promoteOrCheck: 'Promote or rehearse?',
  useReplica: 'Rehearse on the replica',
  promote: 'Promote replica',
  waitPromoted: 'Wait for promotion',
  confirmWritable: 'Confirm writable',
  create: 'Create database',
  wait: 'Wait for database',
  dumpOrPassword: 'Restore a dump?',
  setPassword: 'Set master password',
  waitPassword: 'Wait for master password',
  restore: 'Restore dump',
  verifyDump: 'Verify restored dump',
  verify: 'Verify database',
  checksPassed: 'Checks passed?',
  repointOrRehearsal: 'Repoint or rehearsal?',
  repoint: 'Repoint application',
  cleanupChoice: 'Clean up?',
  cleanup: 'Clean up rehearsal',
  deleteDatabase: 'Delete rehearsal database',
  deleteSecret: 'Delete rehearsal secret',
  deleteDatabaseFailed: 'Rehearsal database not deleted',
  deleteSecretFailed: 'Rehearsal secret not deleted',
  report: 'Write report',
  notify: 'Notify outcome',
  notifyReportFailure: 'Notify report failure',
  outcome: 'Outcome?',
  succeeded: 'Failover succeeded',
  failed: 'Failover failed',
  reportFailed: 'Report failed',
  notifyFailed: 'Notification failed',
} as const;

/**
 * The Failover state machine:
 *
 * validate input → preflight (DR region answers, recovery point within the RPO, plan) → by strategy:
 * - promote-replica: measure the replica lag (RPO) → dry run: rehearse on the replica; real: promote → wait
 *   (Retry `NotReady`) → confirm the database accepts writes;
 * - restore-snapshot / point-in-time: create → wait → set the master password → wait;
 * - restore-dump: create → wait → pg_restore the dump;
 *
 * → verify (row counts and validation queries for a dump, validation queries otherwise) → a real failover repoints
 * the application; a dry run deletes what it created (a Parallel of database and secret, each with its own Retry) →
 * report (JSON in the bucket + metrics) → SNS message with the outcome → Succeed, or Fail.
 *
 * Every failure is caught into `$.error`; a dry run's failure still runs the cleanup, and every run reaches the report
 * and the notification. A FAILED outcome ends in a `Fail` state: a failed failover never ends SUCCEEDED. Logging ALL,
 * X-Ray tracing on.
 *
 * @example
 * new FailoverWorkflow(this, 'Workflow', {
 *   strategies: ['restore-snapshot'], globalSecondary: false, database: 'app',
 *   preflightFunction, actFunction, verifyFunction, repointFunction, reportFunction,
 *   notificationTopic, logsKey, logRetention: logs.RetentionDays.ONE_YEAR,
 * });
 */
export class FailoverWorkflow extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: FailoverWorkflowProps) {
    super(scope, id);
    const S = FAILOVER_STATES;
    const has = (name: FailoverStrategyName) => props.strategies.includes(name);
    const restores = props.strategies.filter((s) => s !== 'promote-replica');
    if (has('restore-dump') && (!props.restoreFunction || !props.dumpVerifyFunction)) {
      throw new Error('FailoverWorkflow: restore-dump needs restoreFunction and dumpVerifyFunction.');
    }
    if (props.strategies.some((s) => s !== 'restore-dump') && !props.verifyFunction) {
      throw new Error('FailoverWorkflow: every strategy but restore-dump needs verifyFunction.');
    }
    const waitAttempts = attempts(props.waitTimeout ?? Duration.hours(2));
    const execution = { 'executionId.$': '$$.Execution.Id', 'executionName.$': '$$.Execution.Name' } as const;
    const queries = (props.validationQueries ?? []).map((q) => ({ name: q.name, sql: q.sql }));
    const databaseTarget = {
      'secretArn.$': '$.database.secretArn',
      'host.$': '$.database.endpoint.host',
      'port.$': '$.database.endpoint.port',
      database: props.database,
      // RDS offers TLS (and forces it from PostgreSQL 15).
      sslMode: 'require' as const,
    };

    // --- report, notify, outcome (every path ends here) ------------------------------------------------------------
    const report = this.invoke(
      S.report,
      props.reportFunction,
      taskInput<FailoverReportEvent>({
        workflow: 'failover',
        'executionId.$': '$$.Execution.Id',
        'executionName.$': '$$.Execution.Name',
        'startedAt.$': '$$.Execution.StartTime',
        repointConfigured: props.repointFunction !== undefined,
        'state.$': '$',
      }),
      '$.report',
    );
    const reportFailed = new sfn.Fail(this, S.reportFailed, { error: 'FailoverReportFailed', causePath: '$.reportError.Cause' });
    const notifyReportFailure = new tasks.SnsPublish(this, S.notifyReportFailure, {
      topic: props.notificationTopic,
      subject: 'cdk-backup-dr failover FAILED (no report)',
      message: sfn.TaskInput.fromObject({
        workflow: 'failover',
        status: 'FAILED',
        'executionId.$': '$$.Execution.Id',
        'error.$': '$.reportError.Error',
        'cause.$': '$.reportError.Cause',
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyReportFailure.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    notifyReportFailure.addCatch(reportFailed, { errors: ['States.ALL'], resultPath: '$.notifyError' });
    notifyReportFailure.next(reportFailed);
    report.addCatch(notifyReportFailure, { errors: ['States.ALL'], resultPath: '$.reportError' });
    const notify = new tasks.SnsPublish(this, S.notify, {
      topic: props.notificationTopic,
      subject: sfn.JsonPath.stringAt('$.report.subject'),
      message: sfn.TaskInput.fromJsonPathAt('$.report.message'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notify.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    notify.addCatch(new sfn.Fail(this, S.notifyFailed, { error: 'FailoverNotificationFailed', causePath: '$.notifyError.Cause' }), {
      errors: ['States.ALL'],
      resultPath: '$.notifyError',
    });
    report.next(notify);
    notify.next(
      new sfn.Choice(this, S.outcome)
        .when(sfn.Condition.stringEquals('$.report.status', 'SUCCEEDED'), new sfn.Succeed(this, S.succeeded))
        .otherwise(new sfn.Fail(this, S.failed, { error: 'FailoverFailed', causePath: '$.report.cause' })),
    );

    // --- dry-run cleanup -------------------------------------------------------------------------------------------
    const cleanupScope = { action: 'delete-database', ...execution, 'resource.$': '$.plan.names.resource' } as const;
    const deleteDatabase = this.invoke(S.deleteDatabase, props.actFunction, taskInput<CleanupEvent>(cleanupScope), '$');
    deleteDatabase.addRetry({ errors: ['NotReady'], interval: FAILOVER_POLL_INTERVAL, maxAttempts: attempts(props.cleanupTimeout ?? Duration.hours(1)), backoffRate: 1 });
    deleteDatabase.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(10), maxAttempts: 5, backoffRate: 2 });
    const deleteSecret = this.invoke(S.deleteSecret, props.actFunction, taskInput<CleanupEvent>({ ...cleanupScope, action: 'delete-secret' }), '$');
    deleteSecret.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(10), maxAttempts: 5, backoffRate: 2 });
    const cleanup = cleanupParallel(
      this,
      S.cleanup,
      'Deletes what a dry run created, after success and after every caught failure; each branch retries on its own and records its own failure.',
      [
        { task: deleteDatabase, what: 'database', failedStateName: S.deleteDatabaseFailed },
        { task: deleteSecret, what: 'secret', failedStateName: S.deleteSecretFailed },
      ],
    );
    cleanup.addCatch(report, { errors: ['States.ALL'], resultPath: '$.cleanupError' });
    cleanup.next(report);
    const cleanupChoice = new sfn.Choice(this, S.cleanupChoice, { comment: 'Only a dry run deletes what it created; a real failover keeps the new database.' })
      .when(sfn.Condition.and(sfn.Condition.booleanEquals('$.plan.dryRun', true), sfn.Condition.isPresent('$.plan.names')), cleanup)
      .otherwise(report);

    // --- validate, preflight ---------------------------------------------------------------------------------------
    const start = new sfn.Pass(this, S.start, { comment: 'Keep the input as given under $.input (the report records it).', parameters: { 'input.$': '$' } });
    const validate = this.invoke(S.validate, props.preflightFunction, taskInput<ValidateEvent>({ action: 'validate', 'input.$': '$.input' }), '$.request');
    const preflight = this.invoke(S.preflight, props.preflightFunction, taskInput<PreflightEvent>({ action: 'preflight', ...execution, 'request.$': '$.request' }), '$.plan');
    preflight.addRetry({ errors: ['ThrottlingException', 'Throttling', 'TooManyRequestsException'], interval: Duration.seconds(10), maxAttempts: 4, backoffRate: 2 });
    for (const step of [validate, preflight]) step.addCatch(report, { errors: ['States.ALL'], resultPath: '$.error' });
    start.next(validate);
    validate.next(preflight);

    // --- verify ----------------------------------------------------------------------------------------------------
    const checksPassed = new sfn.Choice(this, S.checksPassed);
    let verify: tasks.LambdaInvoke | undefined;
    if (props.verifyFunction) {
      verify = this.invoke(S.verify, props.verifyFunction, taskInput<RecoveryVerifyInput>({ target: databaseTarget, validationQueries: queries, throwOnFailure: false }), '$.verify');
      verify.addCatch(cleanupChoice, { errors: ['States.ALL'], resultPath: '$.error' });
      verify.next(checksPassed);
    }

    // --- by strategy -----------------------------------------------------------------------------------------------
    const strategyChoice = new sfn.Choice(this, S.strategy);
    preflight.next(strategyChoice);

    if (has('promote-replica') && verify) {
      const lag = this.invoke(
        S.lag,
        props.preflightFunction,
        taskInput<ReplicaLagEvent>({
          action: 'replica-lag',
          target: {
            'secretArn.$': '$.plan.replica.secretArn',
            'host.$': '$.plan.replica.endpoint.host',
            'port.$': '$.plan.replica.endpoint.port',
            database: props.database,
            sslMode: 'require',
          },
          'acceptDataLoss.$': '$.plan.acceptDataLoss',
          'replicaIdentifier.$': '$.plan.replica.identifier',
        }),
        '$.lag',
      );
      const useReplica = new sfn.Pass(this, S.useReplica, {
        comment: 'A dry run never promotes (irreversible): the checks run read-only on the replica.',
        parameters: {
          'identifier.$': '$.plan.replica.identifier',
          'kind.$': '$.plan.replica.kind',
          'endpoint.$': '$.plan.replica.endpoint',
          'secretArn.$': '$.plan.replica.secretArn',
          'status.$': '$.plan.replica.status',
          'availableAt.$': '$.lag.measuredAt',
        },
        resultPath: '$.database',
      });
      useReplica.next(verify);
      const promote = this.invoke(S.promote, props.actFunction, taskInput<PromoteEvent>({ action: 'promote', 'acceptDataLoss.$': '$.plan.acceptDataLoss' }), '$.promotion');
      const waitPromoted = this.invoke(
        S.waitPromoted,
        props.actFunction,
        taskInput<WaitEvent>({
          action: 'wait',
          subject: 'replica',
          ...execution,
          'secretArn.$': '$.plan.replica.secretArn',
          ...(props.globalSecondary ? { 'globalAction.$': '$.promotion.globalAction' } : {}),
        }),
        '$.database',
      );
      waitPromoted.addRetry({ errors: ['NotReady'], interval: FAILOVER_POLL_INTERVAL, maxAttempts: waitAttempts, backoffRate: 1 });
      const confirmWritable = this.invoke(S.confirmWritable, props.actFunction, taskInput<ConfirmWritableEvent>({ action: 'confirm-writable', target: databaseTarget }), '$.writable');
      confirmWritable.addRetry({ errors: ['NotReady'], interval: FAILOVER_POLL_INTERVAL, maxAttempts: waitAttempts, backoffRate: 1 });
      // promote-replica creates nothing: a failure goes straight to the report.
      for (const step of [lag, promote, waitPromoted, confirmWritable]) step.addCatch(report, { errors: ['States.ALL'], resultPath: '$.error' });
      promote.next(waitPromoted).next(confirmWritable).next(verify);
      lag.next(new sfn.Choice(this, S.promoteOrCheck).when(sfn.Condition.booleanEquals('$.plan.dryRun', true), useReplica).otherwise(promote));
      strategyChoice.when(sfn.Condition.stringEquals('$.plan.strategy', 'promote-replica'), lag);
    }

    if (restores.length > 0) {
      const create = this.invoke(S.create, props.actFunction, taskInput<CreateEvent>({ action: 'create', ...execution, 'plan.$': '$.plan' }), '$.created');
      create.addRetry({ errors: ['ThrottlingException', 'Throttling', 'TooManyRequestsException'], interval: Duration.seconds(10), maxAttempts: 4, backoffRate: 2 });
      const waitFor = (name: string) => {
        const task = this.invoke(
          name,
          props.actFunction,
          taskInput<WaitEvent>({ action: 'wait', subject: 'created', ...execution, 'resource.$': '$.plan.names.resource', 'secretArn.$': '$.created.secretArn' }),
          '$.database',
        );
        task.addRetry({ errors: ['NotReady'], interval: FAILOVER_POLL_INTERVAL, maxAttempts: waitAttempts, backoffRate: 1 });
        return task;
      };
      const wait = waitFor(S.wait);
      const steps: tasks.LambdaInvoke[] = [create, wait];
      create.next(wait);
      let restoreDump: tasks.LambdaInvoke | undefined;
      if (has('restore-dump') && props.restoreFunction && props.dumpVerifyFunction) {
        restoreDump = this.invoke(
          S.restore,
          props.restoreFunction,
          taskInput<RestoreInput>({ 'manifestKey.$': '$.plan.dump.manifestKey', target: databaseTarget, createDatabase: true }),
          '$.restore',
        );
        const verifyDump = this.invoke(
          S.verifyDump,
          props.dumpVerifyFunction,
          taskInput<RestoreVerifyInput>({ 'manifestKey.$': '$.plan.dump.manifestKey', target: databaseTarget, validationQueries: queries, throwOnFailure: false }),
          '$.verify',
        );
        verifyDump.addCatch(cleanupChoice, { errors: ['States.ALL'], resultPath: '$.error' });
        restoreDump.next(verifyDump);
        verifyDump.next(checksPassed);
        steps.push(restoreDump);
      }
      let setPassword: tasks.LambdaInvoke | undefined;
      if ((has('restore-snapshot') || has('point-in-time')) && verify) {
        setPassword = this.invoke(
          S.setPassword,
          props.actFunction,
          taskInput<SetPasswordEvent>({ action: 'set-password', ...execution, 'resource.$': '$.plan.names.resource', 'dryRun.$': '$.plan.dryRun' }),
          '$.password',
        );
        setPassword.addRetry({ errors: ['NotReady'], interval: FAILOVER_POLL_INTERVAL, maxAttempts: 20, backoffRate: 1 });
        const waitPassword = waitFor(S.waitPassword);
        setPassword.next(waitPassword).next(verify);
        steps.push(setPassword, waitPassword);
      }
      if (restoreDump && setPassword) {
        wait.next(new sfn.Choice(this, S.dumpOrPassword).when(sfn.Condition.stringEquals('$.plan.strategy', 'restore-dump'), restoreDump).otherwise(setPassword));
      } else {
        wait.next((restoreDump ?? setPassword) as tasks.LambdaInvoke);
      }
      for (const step of steps) step.addCatch(cleanupChoice, { errors: ['States.ALL'], resultPath: '$.error' });
      for (const name of restores) strategyChoice.when(sfn.Condition.stringEquals('$.plan.strategy', name), create);
    }
    strategyChoice.otherwise(
      new sfn.Pass(this, S.unconfigured, {
        comment: 'Unreachable after a valid input; kept so that a hand-edited plan still ends in a report.',
        parameters: { Error: 'InvalidInput', 'Cause.$': "States.Format('strategy {} has no branch in this state machine', $.plan.strategy)" },
        resultPath: '$.error',
      }).next(report),
    );

    // --- after the checks: repoint (real) or clean up (dry run) ----------------------------------------------------
    const afterChecks = new sfn.Choice(this, S.repointOrRehearsal);
    checksPassed.when(sfn.Condition.booleanEquals('$.verify.passed', true), afterChecks).otherwise(cleanupChoice);
    if (props.repointFunction) {
      const repoint = this.invoke(S.repoint, props.repointFunction, taskInput<RepointInput>({ 'endpoint.$': '$.database.endpoint', 'executionId.$': '$$.Execution.Id' }), '$.repoint');
      repoint.addRetry({ errors: ['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'PriorRequestNotComplete'], interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2 });
      repoint.addCatch(report, { errors: ['States.ALL'], resultPath: '$.error' });
      repoint.next(report);
      afterChecks.when(sfn.Condition.booleanEquals('$.plan.dryRun', false), repoint);
    }
    afterChecks.otherwise(cleanupChoice);

    const logGroup = new logs.LogGroup(this, 'Logs', { encryptionKey: props.logsKey, retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `cdk-backup-dr failover (${props.strategies.join(', ')}): validate, preflight, act in the DR region, verify, repoint or clean up, report`,
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      timeout: props.timeout ?? Duration.hours(8),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    alertOnUnreportedEnd(this, 'TimedOutOrAborted', {
      stateMachine: this.stateMachine,
      topic: props.notificationTopic,
      workflow: 'failover',
      afterwards:
        'A real failover may have stopped before or during the repoint: check what the application reads (the SSM ' +
        'parameter, the secret, the DNS record) and the DR database (cdkbdr-fo-…). A dry run did not clean up: delete by ' +
        'hand the database (cdkbdr-fo-…) and secret (cdk-backup-dr/failover/…) tagged with this execution.',
    });
  }

  /** A Lambda task whose result (the handler's return value) goes to `resultPath`. */
  private invoke(name: string, fn: lambda.IFunction, payload: sfn.TaskInput, resultPath: string): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, name, { lambdaFunction: fn, payload, payloadResponseOnly: true, retryOnServiceExceptions: true, resultPath });
  }
}

/** Polls of {@link FAILOVER_POLL_INTERVAL} that fit in `timeout` (at least 1). */
function attempts(timeout: Duration): number {
  return Math.max(1, Math.ceil(timeout.toSeconds() / FAILOVER_POLL_INTERVAL.toSeconds()));
}
