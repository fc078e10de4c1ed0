import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { CleanupEvent, ConfirmWritableEvent, CreateEvent, PromoteEvent, SetPasswordEvent, WaitEvent } from '../../lambda/failover/failover-act.handler';
import type { PreflightEvent, ReplicaLagEvent, ValidateEvent } from '../../lambda/failover/failover-preflight.handler';
import type { FailoverReportEvent } from '../../lambda/reporting/failover-report.handler';
import type { RecoveryVerifyInput } from '../../lambda/restore/recovery-verify.handler';
import type { RepointInput } from '../../lambda/failover/repoint.handler';
import type { RestoreInput } from '../../lambda/restore/restore.handler';
import type { RestoreVerifyInput } from '../../lambda/restore/restore-verify.handler';
import { ConfigurationError } from '../common/errors';
import { taskInput } from '../common/payload';
import {
  cleanupParallel,
  EXECUTION_FIELDS,
  invokeTask,
  pollAttempts,
  reportAndNotify,
  retryThrottling,
  retryWhileNotReady,
  THROTTLING_ERRORS,
  workflowStateMachine,
} from '../common/workflow';
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
  /** Where the outcome of every run is published. */
  readonly notificationTopic: sns.ITopic;
  /** @default - none */
  readonly validationQueries?: ReadonlyArray<{ readonly name: string; readonly sql: string }>;
  /** restore-dump: recreate the roles before the restore. @default false */
  readonly restoreRoles?: boolean;
  /** KMS key of the state machine's log group. */
  readonly logsKey: kms.IKey;
  /** How long the state machine's execution logs are kept. */
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
      throw new ConfigurationError('restore-dump needs restoreFunction and dumpVerifyFunction.', this, { subject: 'FailoverWorkflow' });
    }
    if (props.strategies.some((s) => s !== 'restore-dump') && !props.verifyFunction) {
      throw new ConfigurationError('every strategy but restore-dump needs verifyFunction.', this, { subject: 'FailoverWorkflow' });
    }
    const waitAttempts = pollAttempts(props.waitTimeout ?? Duration.hours(2), FAILOVER_POLL_INTERVAL);
    const queries = (props.validationQueries ?? []).map((q) => ({ name: q.name, sql: q.sql }));
    const databaseTarget = {
      'secretArn.$': '$.database.secretArn',
      'host.$': '$.database.endpoint.host',
      'port.$': '$.database.endpoint.port',
      database: props.database,
      // No sslMode: the handlers' default, verify-full against the Amazon RDS CA bundle.
    };

    // --- report, notify, outcome (every path ends here) ------------------------------------------------------------
    const report = reportAndNotify(this, {
      workflow: 'failover',
      title: 'failover',
      reportFunction: props.reportFunction,
      reportPayload: taskInput<FailoverReportEvent>({
        workflow: 'failover',
        ...EXECUTION_FIELDS,
        'startedAt.$': '$$.Execution.StartTime',
        repointConfigured: props.repointFunction !== undefined,
        'state.$': '$',
      }),
      topic: props.notificationTopic,
      states: S,
      errors: { failed: 'FailoverFailed', reportFailed: 'FailoverReportFailed', notifyFailed: 'FailoverNotificationFailed' },
    });

    // --- dry-run cleanup -------------------------------------------------------------------------------------------
    const cleanupScope = { action: 'delete-database', ...EXECUTION_FIELDS, 'resource.$': '$.plan.names.resource' } as const;
    const deleteDatabase = invokeTask(this, S.deleteDatabase, props.actFunction, taskInput<CleanupEvent>(cleanupScope), '$');
    retryWhileNotReady(deleteDatabase, FAILOVER_POLL_INTERVAL, pollAttempts(props.cleanupTimeout ?? Duration.hours(1), FAILOVER_POLL_INTERVAL));
    const deleteSecret = invokeTask(this, S.deleteSecret, props.actFunction, taskInput<CleanupEvent>({ ...cleanupScope, action: 'delete-secret' }), '$');
    const cleanup = cleanupParallel(
      this,
      S.cleanup,
      'Deletes what a dry run created, after success and after every caught failure; each branch retries on its own and records its own failure.',
      [
        { task: deleteDatabase, what: 'database', failedStateName: S.deleteDatabaseFailed },
        { task: deleteSecret, what: 'secret', failedStateName: S.deleteSecretFailed },
      ],
    );
    cleanup.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.cleanupError' });
    cleanup.next(report);
    const cleanupChoice = new sfn.Choice(this, S.cleanupChoice, { comment: 'Only a dry run deletes what it created; a real failover keeps the new database.' })
      .when(sfn.Condition.and(sfn.Condition.booleanEquals('$.plan.dryRun', true), sfn.Condition.isPresent('$.plan.names')), cleanup)
      .otherwise(report);

    // --- validate, preflight ---------------------------------------------------------------------------------------
    const start = new sfn.Pass(this, S.start, { comment: 'Keep the input as given under $.input (the report records it).', parameters: { 'input.$': '$' } });
    const validate = invokeTask(this, S.validate, props.preflightFunction, taskInput<ValidateEvent>({ action: 'validate', 'input.$': '$.input' }), '$.request');
    const preflight = invokeTask(this, S.preflight, props.preflightFunction, taskInput<PreflightEvent>({ action: 'preflight', ...EXECUTION_FIELDS, 'request.$': '$.request' }), '$.plan');
    retryThrottling(preflight);
    for (const step of [validate, preflight]) step.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    start.next(validate);
    validate.next(preflight);

    // --- verify ----------------------------------------------------------------------------------------------------
    const checksPassed = new sfn.Choice(this, S.checksPassed);
    let verify: tasks.LambdaInvoke | undefined;
    if (props.verifyFunction) {
      verify = invokeTask(this, S.verify, props.verifyFunction, taskInput<RecoveryVerifyInput>({ target: databaseTarget, validationQueries: queries, throwOnFailure: false }), '$.verify');
      verify.addCatch(cleanupChoice, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      verify.next(checksPassed);
    }

    // --- by strategy -----------------------------------------------------------------------------------------------
    const strategyChoice = new sfn.Choice(this, S.strategy);
    preflight.next(strategyChoice);

    if (has('promote-replica') && verify) {
      const lag = invokeTask(this, 
        S.lag,
        props.preflightFunction,
        taskInput<ReplicaLagEvent>({
          action: 'replica-lag',
          target: {
            'secretArn.$': '$.plan.replica.secretArn',
            'host.$': '$.plan.replica.endpoint.host',
            'port.$': '$.plan.replica.endpoint.port',
            database: props.database,
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
      const promote = invokeTask(this, S.promote, props.actFunction, taskInput<PromoteEvent>({ action: 'promote', 'acceptDataLoss.$': '$.plan.acceptDataLoss' }), '$.promotion');
      const waitPromoted = invokeTask(this, 
        S.waitPromoted,
        props.actFunction,
        taskInput<WaitEvent>({
          action: 'wait',
          subject: 'replica',
          ...EXECUTION_FIELDS,
          'secretArn.$': '$.plan.replica.secretArn',
          ...(props.globalSecondary ? { 'globalAction.$': '$.promotion.globalAction' } : {}),
        }),
        '$.database',
      );
      retryWhileNotReady(waitPromoted, FAILOVER_POLL_INTERVAL, waitAttempts);
      const confirmWritable = invokeTask(this, S.confirmWritable, props.actFunction, taskInput<ConfirmWritableEvent>({ action: 'confirm-writable', target: databaseTarget }), '$.writable');
      retryWhileNotReady(confirmWritable, FAILOVER_POLL_INTERVAL, waitAttempts);
      // promote-replica creates nothing: a failure goes straight to the report.
      for (const step of [lag, promote, waitPromoted, confirmWritable]) step.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      promote.next(waitPromoted).next(confirmWritable).next(verify);
      lag.next(new sfn.Choice(this, S.promoteOrCheck).when(sfn.Condition.booleanEquals('$.plan.dryRun', true), useReplica).otherwise(promote));
      strategyChoice.when(sfn.Condition.stringEquals('$.plan.strategy', 'promote-replica'), lag);
    }

    if (restores.length > 0) {
      const create = invokeTask(this, S.create, props.actFunction, taskInput<CreateEvent>({ action: 'create', ...EXECUTION_FIELDS, 'plan.$': '$.plan' }), '$.created');
      retryThrottling(create);
      const waitFor = (name: string) => {
        const task = invokeTask(this, 
          name,
          props.actFunction,
          taskInput<WaitEvent>({ action: 'wait', subject: 'created', ...EXECUTION_FIELDS, 'resource.$': '$.plan.names.resource', 'secretArn.$': '$.created.secretArn' }),
          '$.database',
        );
        retryWhileNotReady(task, FAILOVER_POLL_INTERVAL, waitAttempts);
        return task;
      };
      const wait = waitFor(S.wait);
      const steps: tasks.LambdaInvoke[] = [create, wait];
      create.next(wait);
      let restoreDump: tasks.LambdaInvoke | undefined;
      if (has('restore-dump') && props.restoreFunction && props.dumpVerifyFunction) {
        restoreDump = invokeTask(this, 
          S.restore,
          props.restoreFunction,
          taskInput<RestoreInput>({
            'manifestKey.$': '$.plan.dump.manifestKey',
            target: databaseTarget,
            createDatabase: true,
            ...(props.restoreRoles ? { restoreRoles: true } : {}),
          }),
          '$.restore',
        );
        const verifyDump = invokeTask(this, 
          S.verifyDump,
          props.dumpVerifyFunction,
          taskInput<RestoreVerifyInput>({ 'manifestKey.$': '$.plan.dump.manifestKey', target: databaseTarget, validationQueries: queries, throwOnFailure: false }),
          '$.verify',
        );
        verifyDump.addCatch(cleanupChoice, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
        restoreDump.next(verifyDump);
        verifyDump.next(checksPassed);
        steps.push(restoreDump);
      }
      let setPassword: tasks.LambdaInvoke | undefined;
      if ((has('restore-snapshot') || has('point-in-time')) && verify) {
        setPassword = invokeTask(this, 
          S.setPassword,
          props.actFunction,
          taskInput<SetPasswordEvent>({ action: 'set-password', ...EXECUTION_FIELDS, 'resource.$': '$.plan.names.resource', 'dryRun.$': '$.plan.dryRun' }),
          '$.password',
        );
        retryWhileNotReady(setPassword, FAILOVER_POLL_INTERVAL, 20);
        const waitPassword = waitFor(S.waitPassword);
        setPassword.next(waitPassword).next(verify);
        steps.push(setPassword, waitPassword);
      }
      if (restoreDump && setPassword) {
        wait.next(new sfn.Choice(this, S.dumpOrPassword).when(sfn.Condition.stringEquals('$.plan.strategy', 'restore-dump'), restoreDump).otherwise(setPassword));
      } else {
        wait.next((restoreDump ?? setPassword) as tasks.LambdaInvoke);
      }
      for (const step of steps) step.addCatch(cleanupChoice, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
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
      const repoint = invokeTask(this, S.repoint, props.repointFunction, taskInput<RepointInput>({ 'endpoint.$': '$.database.endpoint', 'executionId.$': '$$.Execution.Id' }), '$.repoint');
      repoint.addRetry({ errors: [...THROTTLING_ERRORS, 'PriorRequestNotComplete'], interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2 });
      repoint.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      repoint.next(report);
      afterChecks.when(sfn.Condition.booleanEquals('$.plan.dryRun', false), repoint);
    }
    afterChecks.otherwise(cleanupChoice);

    this.stateMachine = workflowStateMachine(this, {
      definition: start,
      comment: `cdk-backup-dr failover (${props.strategies.join(', ')}): validate, preflight, act in the DR region, verify, repoint or clean up, report`,
      timeout: props.timeout ?? Duration.hours(8),
      logsKey: props.logsKey,
      logRetention: props.logRetention,
      topic: props.notificationTopic,
      workflow: 'failover',
      afterwards:
        'A real failover may have stopped before or during the repoint: check what the application reads (the SSM ' +
        'parameter, the secret, the DNS record) and the DR database (cdkbdr-fo-…). A dry run did not clean up: delete by ' +
        'hand the database (cdkbdr-fo-…) and secret (cdk-backup-dr/failover/…) tagged with this execution.',
    });
  }
}
