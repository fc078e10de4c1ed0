import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { PickInput } from '../../lambda/selection/recovery-pick.handler';
import type { RecoveryVerifyInput } from '../../lambda/restore/recovery-verify.handler';
import type { RestoreInput } from '../../lambda/restore/restore.handler';
import type { RestoreVerifyInput } from '../../lambda/restore/restore-verify.handler';
import type { CreateScratchInput, DeleteDatabaseInput, DeleteSecretInput, SetPasswordInput, WaitScratchInput } from '../../lambda/rds/scratch-input';
import type { RecoveryReportEvent } from '../../lambda/reporting/recovery-report';
import { ConfigurationError } from '../common/errors';
import type { RunnerTask } from '../common/runner-task';
import { taskInput } from '../common/payload';
import {
  cleanupParallel,
  EXECUTION_FIELDS,
  invokeTask,
  pollAttempts,
  reportAndNotify,
  retryThrottling,
  retryWhileNotReady,
  workflowStateMachine,
} from '../common/workflow';

/** A user-supplied check of the restored database: SQL returning one row whose first column is boolean `true`. */
export interface ValidationQuery {
  /** Names the check in the report, e.g. `orders-present`. */
  readonly name: string;
  /** e.g. `SELECT count(*) > 0 FROM app.orders`. Runs in a READ ONLY transaction with a statement timeout. */
  readonly sql: string;
}

/** Props for {@link RecoveryTestWorkflow}. */
export interface RecoveryTestWorkflowProps {
  /**
   * The source the timed-out-or-aborted message names (PostgresBackup's `sourceName`).
   * @default - the stack's name
   */
  readonly sourceName?: string;
  /** `dump`: pg_restore into an empty scratch instance; `snapshot`: restore an RDS/Aurora snapshot. */
  readonly kind: 'dump' | 'snapshot';
  /** The scratch database: an RDS instance, or (Aurora snapshots) a cluster with one instance. */
  readonly scratchResource: 'instance' | 'cluster';
  /** lambda/selection/recovery-pick.handler.ts. */
  readonly pickFunction: lambda.IFunction;
  /** lambda/rds/scratch.handler.ts. */
  readonly scratchFunction: lambda.IFunction;
  /**
   * lambda/restore/restore.handler.ts (dumps only).
   * @default - none; required for kind `dump`
   */
  readonly restoreFunction?: lambda.IFunction;
  /**
   * The restore's Fargate task, instead of `restoreFunction` (the same handler; same output and error names).
   * @default - none: `restoreFunction` runs the restore
   */
  readonly restoreTask?: RunnerTask;
  /** lambda/restore/restore-verify.handler.ts for dumps, lambda/restore/recovery-verify.handler.ts for snapshots. */
  readonly verifyFunction: lambda.IFunction;
  /** lambda/reporting/recovery-report.handler.ts. */
  readonly reportFunction: lambda.IFunction;
  /** Where the outcome of every run is published. */
  readonly notificationTopic: sns.ITopic;
  /**
   * The database inside a restored snapshot that the checks run in.
   * @default - none; required for kind `snapshot`
   */
  readonly snapshotDatabase?: string;
  /** @default - none */
  readonly validationQueries?: readonly ValidationQuery[];
  /** Recreate the roles before restoring a dump. @default false */
  readonly restoreRoles?: boolean;
  /** KMS key of the state machine's log group. */
  readonly logsKey: kms.IKey;
  /** How long the state machine's execution logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /**
   * How long to wait for the scratch database to become available (each wait: after creation, after a password reset).
   * @default Duration.hours(1)
   */
  readonly scratchWaitTimeout?: Duration;
  /**
   * How long the cleanup may wait for the scratch database to be deleted.
   * @default Duration.hours(1)
   */
  readonly cleanupTimeout?: Duration;
  /**
   * Longest run. When it is hit the cleanup cannot run, so it must exceed every wait above plus the restore and
   * verify Lambdas' timeouts (validated by RecoveryTest).
   * @default Duration.hours(4)
   */
  readonly timeout?: Duration;
}

/** Interval between polls of the scratch database's status. */
export const SCRATCH_POLL_INTERVAL = Duration.seconds(30);

/** Names of the states other code (tests, docs) refers to. */
export const RECOVERY_TEST_STATES = {
  pick: 'Pick backup',
  create: 'Create scratch database',
  wait: 'Wait for scratch database',
  setPassword: 'Set scratch password',
  waitPassword: 'Wait for scratch password',
  restore: 'Restore dump',
  verify: 'Verify restore',
  cleanup: 'Clean up',
  deleteDatabase: 'Delete scratch database',
  deleteSecret: 'Delete scratch secret',
  deleteDatabaseFailed: 'Scratch database not deleted',
  deleteSecretFailed: 'Scratch secret not deleted',
  report: 'Write report',
  notify: 'Notify outcome',
  notifyReportFailure: 'Notify report failure',
  passed: 'Recovery test passed',
  failed: 'Recovery test failed',
  reportFailed: 'Report failed',
  notifyFailed: 'Notification failed',
} as const;

/**
 * The RecoveryTest state machine:
 *
 * pick → create scratch → wait (Retry `NotReady`) → [snapshot: set password → wait] → [dump: restore] → verify →
 * clean up (ALWAYS: a Parallel of database and secret deletion, each with its own Retry) → report (JSON in the
 * bucket + metrics) → SNS message with the outcome → Succeed, or Fail.
 *
 * Every failure of pick, create, wait, restore or verify is caught into `$.error` and goes to the cleanup; a failed
 * cleanup is caught into `$.cleanupError` and goes to the report. The report decides the outcome (a failed check, a
 * caught error, data older than the RPO or a failed cleanup make it FAILED), and a FAILED outcome ends in a `Fail`
 * state: a failed test never ends SUCCEEDED. Logging ALL, X-Ray tracing on.
 *
 * @example
 * new RecoveryTestWorkflow(this, 'Workflow', {
 *   kind: 'dump', scratchResource: 'instance',
 *   pickFunction, scratchFunction, restoreFunction, verifyFunction, reportFunction,
 *   notificationTopic, logsKey, logRetention: logs.RetentionDays.ONE_YEAR,
 * });
 */
export class RecoveryTestWorkflow extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: RecoveryTestWorkflowProps) {
    super(scope, id);
    const restoreFunction = props.restoreFunction;
    if (props.kind === 'dump' && (restoreFunction === undefined) === (props.restoreTask === undefined)) {
      throw new ConfigurationError('a dump recovery test needs exactly one of restoreFunction and restoreTask.', this, { subject: 'RecoveryTestWorkflow' });
    }
    if (props.kind === 'snapshot' && props.snapshotDatabase === undefined) {
      throw new ConfigurationError('a snapshot recovery test needs snapshotDatabase (the database the checks run in).', this, { subject: 'RecoveryTestWorkflow' });
    }
    const S = RECOVERY_TEST_STATES;
    const waitAttempts = pollAttempts(props.scratchWaitTimeout ?? Duration.hours(1), SCRATCH_POLL_INTERVAL);
    const scope_ = { resource: props.scratchResource, ...EXECUTION_FIELDS } as const;

    // --- what to restore -----------------------------------------------------------------------------------------
    const defaultSelection = new sfn.Pass(this, 'Default selection', {
      comment: 'A run started without a selection tests the newest usable backup.',
      result: sfn.Result.fromObject({ latest: true }),
      resultPath: '$.selection',
    });
    const start = new sfn.Pass(this, 'Start run', {
      comment: 'Keep only the selection: everything else in $ is written by the run itself.',
      parameters: { 'selection.$': '$.selection' },
    });
    const selectionGiven = new sfn.Choice(this, 'Selection given?')
      .when(sfn.Condition.isPresent('$.selection'), start)
      .otherwise(defaultSelection.next(start));

    const pick = invokeTask(this, S.pick, props.pickFunction, taskInput<PickInput>({ kind: props.kind, 'selection.$': '$.selection' }), '$.backup');

    // --- scratch database ----------------------------------------------------------------------------------------
    const create = invokeTask(this, 
      S.create,
      props.scratchFunction,
      taskInput<CreateScratchInput>({
        action: 'create',
        ...scope_,
        source:
          props.kind === 'dump'
            ? { type: 'empty' }
            : {
                type: 'snapshot',
                'snapshotId.$': '$.backup.snapshot.snapshotId',
                'masterUsername.$': '$.backup.snapshot.masterUsername',
                ...(props.scratchResource === 'cluster' ? { 'engine.$': '$.backup.snapshot.engine' } : {}),
              },
      }),
      '$.created',
    );
    // Creation is idempotent (the handler recognises what a previous attempt of this execution created). A restored
    // Aurora cluster accepts its writer only once it is available: NotReady until then.
    retryThrottling(create);
    retryWhileNotReady(create, SCRATCH_POLL_INTERVAL, waitAttempts);

    const waitFor = (name: string) => {
      const task = invokeTask(this, name, props.scratchFunction, taskInput<WaitScratchInput>({ action: 'wait', ...scope_ }), '$.ready');
      retryWhileNotReady(task, SCRATCH_POLL_INTERVAL, waitAttempts);
      return task;
    };
    const wait = waitFor(S.wait);

    const steps: sfn.TaskStateBase[] = [pick, create, wait];
    /** The Pass that builds a Fargate task's event, entered instead of the task. */
    const entryOf = new Map<sfn.State, sfn.State>();
    if (props.kind === 'snapshot') {
      const setPassword = invokeTask(this, S.setPassword, props.scratchFunction, taskInput<SetPasswordInput>({ action: 'set-password', ...scope_ }), sfn.JsonPath.DISCARD);
      retryWhileNotReady(setPassword, SCRATCH_POLL_INTERVAL, 20);
      steps.push(setPassword, waitFor(S.waitPassword));
    }

    // --- restore and verify --------------------------------------------------------------------------------------
    const target = {
      'secretArn.$': '$.created.secretArn',
      'host.$': '$.ready.endpoint.host',
      'port.$': '$.ready.endpoint.port',
      // No sslMode: the handlers' default, verify-full against the Amazon RDS CA bundle.
      ...(props.kind === 'dump' ? { 'database.$': '$.backup.dump.database' } : { database: props.snapshotDatabase }),
    };
    const queries = (props.validationQueries ?? []).map((q) => ({ name: q.name, sql: q.sql }));
    if (props.kind === 'dump') {
      const restorePayload = taskInput<RestoreInput>({
        'manifestKey.$': '$.backup.dump.manifestKey',
        target,
        createDatabase: true,
        ...(props.restoreRoles ? { restoreRoles: true } : {}),
      });
      if (props.restoreTask) {
        const { entry, task } = props.restoreTask.step(this, S.restore, restorePayload, '$.restore');
        entryOf.set(task, entry);
        steps.push(task);
      } else {
        steps.push(invokeTask(this, S.restore, restoreFunction as lambda.IFunction, restorePayload, '$.restore'));
      }
      steps.push(
        invokeTask(this, 
          S.verify,
          props.verifyFunction,
          taskInput<RestoreVerifyInput>({ 'manifestKey.$': '$.backup.dump.manifestKey', target, validationQueries: queries, throwOnFailure: false }),
          '$.verify',
        ),
      );
    } else {
      steps.push(
        invokeTask(this, S.verify, props.verifyFunction, taskInput<RecoveryVerifyInput>({ target, validationQueries: queries, throwOnFailure: false }), '$.verify'),
      );
    }

    // --- cleanup, always -----------------------------------------------------------------------------------------
    const deleteDatabase = invokeTask(this, S.deleteDatabase, props.scratchFunction, taskInput<DeleteDatabaseInput>({ action: 'delete-database', ...scope_ }), '$');
    retryWhileNotReady(deleteDatabase, SCRATCH_POLL_INTERVAL, pollAttempts(props.cleanupTimeout ?? Duration.hours(1), SCRATCH_POLL_INTERVAL));
    const deleteSecret = invokeTask(this, S.deleteSecret, props.scratchFunction, taskInput<DeleteSecretInput>({ action: 'delete-secret', ...scope_ }), '$');
    const cleanup = cleanupParallel(this, S.cleanup, 'Runs after success and after every caught failure; each branch retries on its own and records its own failure.', [
      { task: deleteDatabase, what: 'database', failedStateName: S.deleteDatabaseFailed },
      { task: deleteSecret, what: 'secret', failedStateName: S.deleteSecretFailed },
    ]);

    for (const step of steps) step.addCatch(cleanup, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    let chain: sfn.IChainable & sfn.INextable = steps[0];
    for (const step of steps.slice(1)) {
      (chain as sfn.INextable).next(entryOf.get(step) ?? step);
      chain = step;
    }
    chain.next(cleanup);
    start.next(pick);

    // --- report, notify, outcome ---------------------------------------------------------------------------------
    const report = reportAndNotify(this, {
      workflow: 'recovery-test',
      title: 'recovery test',
      reportFunction: props.reportFunction,
      reportPayload: taskInput<RecoveryReportEvent>({
        workflow: 'recovery-test',
        ...EXECUTION_FIELDS,
        'startedAt.$': '$$.Execution.StartTime',
        kind: props.kind,
        'state.$': '$',
      }),
      topic: props.notificationTopic,
      states: { ...S, outcome: 'Outcome?', succeeded: S.passed },
      errors: { failed: 'RecoveryTestFailed', reportFailed: 'RecoveryReportFailed', notifyFailed: 'RecoveryTestNotificationFailed' },
    });
    cleanup.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.cleanupError' });
    cleanup.next(report);

    this.stateMachine = workflowStateMachine(this, {
      definition: selectionGiven,
      comment: `cdk-backup-dr recovery test (${props.kind}): pick, restore into scratch, verify, always clean up, report`,
      timeout: props.timeout ?? Duration.hours(4),
      logsKey: props.logsKey,
      logRetention: props.logRetention,
      topic: props.notificationTopic,
      source: props.sourceName,
      workflow: 'recovery-test',
      afterwards:
        'The cleanup did not run: delete by hand the scratch database (identifier starting with cdkbdr-rt-, without a final ' +
        'snapshot) and secret (cdk-backup-dr/scratch/…) tagged with this execution (cdk-backup-dr:execution).',
    });
  }
}
