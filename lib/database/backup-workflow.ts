import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { DumpInput } from '../../lambda/backup/dump.handler';
import type { VerifyOneInput } from '../../lambda/backup/verify.handler';
import { DumpFailed, InvalidInput } from '../../lambda/common/errors';
import type { CopySnapshotInput, CreateSnapshotInput, WaitSnapshotInput } from '../../lambda/rds/snapshot-input';
import type { BackupReportEvent } from '../../lambda/reporting/backup-report.handler';
import { ConfigurationError } from '../common/errors';
import { acknowledgeHipaaAndNist, acknowledgeWildcardResource } from '../common/nag';
import { taskInput } from '../common/payload';
import { EXECUTION_FIELDS, invokeTask, pollAttempts, publishNotification, retryNotification, retryWhileNotReady, workflowStateMachine } from '../common/workflow';
import { BackupSourceKind } from './backup-source';
import type { RunnerTask } from '../common/runner-task';
import type { TlsInput } from '../../lambda/postgres/tls-input';

/** The dump branch of the workflow. */
export interface BackupWorkflowDumpStep {
  /**
   * The dump Lambda (lambda/backup/dump.handler.ts).
   * @default - none: `dumpTask` runs the dumps
   */
  readonly dumpFunction?: lambda.IFunction;
  /**
   * The dump's Fargate task, instead of `dumpFunction` (the same handler; same output and error names).
   * @default - none: `dumpFunction` runs the dumps
   */
  readonly dumpTask?: RunnerTask;
  /** The verify Lambda (lambda/backup/verify.handler.ts); exactly one of this and verifyTask. */
  readonly verifyFunction?: lambda.IFunction;
  /** The same handler as an ECS Fargate task (BackupRunner.fargate). */
  readonly verifyTask?: RunnerTask;
  /** The dump target, as the dump handler takes it (`{ secretArn, host?, port?, sslMode?, sslRootCertSecretArn? }`). */
  readonly target: { readonly secretArn: string; readonly host?: string; readonly port?: string } & TlsInput;
  /** The databases to dump, one invocation of the dump function (and of the verify function) each. */
  readonly databases: string[];
  /**
   * How many databases are dumped at the same time.
   * @default 2
   */
  readonly maxConcurrency?: number;
  /**
   * pg_dump's compression as the dump handler takes it (`gzip:3`, `none`, `zstd:5`).
   * @default - the handler's default, gzip:3
   */
  readonly compression?: string;
  /**
   * pg_dump's parallel jobs as the dump handler takes them (1: custom format, 2+: directory format).
   * @default - the handler's default, 1
   */
  readonly parallelism?: number;
}

/** The snapshot branch of the workflow. */
export interface BackupWorkflowSnapshotStep {
  /** The snapshot Lambda (lambda/rds/snapshot.handler.ts). */
  readonly snapshotFunction: lambda.IFunction;
  /** instance or cluster. */
  readonly kind: Exclude<BackupSourceKind, 'endpoint'>;
  /** The RDS instance or cluster identifier. */
  readonly identifier: string;
  /** Whether the snapshot is copied to the DR region. */
  readonly copyToDrRegion: boolean;
}

/** Props for {@link BackupWorkflow}. */
export interface BackupWorkflowProps {
  /**
   * The source the timed-out-or-aborted message names (PostgresBackup's `sourceName`).
   * @default - the stack's name
   */
  readonly sourceName?: string;
  /**
   * The dump branch.
   * @default - no dump
   */
  readonly dump?: BackupWorkflowDumpStep;
  /**
   * The snapshot branch.
   * @default - no snapshot
   */
  readonly snapshot?: BackupWorkflowSnapshotStep;
  /** Writes the JSON report to the bucket and publishes the metrics (lambda/reporting/backup-report.handler.ts). */
  readonly reportFunction: lambda.IFunction;
  /** Failures are published here. */
  readonly notificationTopic: sns.ITopic;
  /** KMS key of the state machine's log group. */
  readonly logsKey: kms.IKey;
  /** How long execution logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /**
   * How long one run may take before it is stopped; a timed-out run is notified through the topic too.
   * @default - one hour for a busy source, twice `snapshotWaitTimeout` (snapshot, then its DR copy), plus one hour for
   *   dumps and verification
   */
  readonly timeout?: Duration;
  /**
   * How long to wait for a snapshot (or its copy) to become available.
   * @default Duration.hours(4)
   */
  readonly snapshotWaitTimeout?: Duration;
}

/** Interval between polls of a snapshot's status. */
const SNAPSHOT_POLL_INTERVAL = Duration.minutes(1);
/**
 * How long a snapshot waits for a busy source (another snapshot, the automated backup window, whose shortest setting is
 * 30 minutes), tried again every {@link SOURCE_BUSY_INTERVAL}.
 */
const SOURCE_BUSY_WAIT = Duration.hours(1);
const SOURCE_BUSY_INTERVAL = Duration.minutes(5);
/**
 * Minutes the dumps and their verification may take: one hour with Lambda; with Fargate, each round of tasks up to
 * its timeout twice (a failed dump is tried once more, {@link DUMP_RETRY_INTERVAL} later), then the wait for the
 * replica and the verify task up to its timeout, plus an hour.
 */
function dumpMinutes(dump: BackupWorkflowDumpStep | undefined): number {
  if (!dump?.dumpTask) return 60;
  const rounds = Math.ceil(dump.databases.length / (dump.maxConcurrency ?? DEFAULT_DUMP_CONCURRENCY));
  const attempts = DUMP_RETRIES + 1;
  const verifyMinutes = dump.verifyTask ? dump.verifyTask.timeout.toMinutes() : 0;
  const roundMinutes = attempts * dump.dumpTask.timeout.toMinutes() + DUMP_RETRIES * DUMP_RETRY_INTERVAL.toMinutes() + VERIFY_WAIT_MINUTES + verifyMinutes;
  return rounds * roundMinutes + 60;
}

/** A dropped connection or a failed upload may pass: one more try a minute later (nothing of the failed one remains). */
const DUMP_RETRIES = 1;
const DUMP_RETRY_INTERVAL = Duration.minutes(1);
/** The verifier waits up to 20 one-minute NotReady retries for a fresh object's replica (RTC: 15 minutes), plus its run. */
const VERIFY_NOT_READY_RETRIES = 20;
const VERIFY_WAIT_MINUTES = VERIFY_NOT_READY_RETRIES + 1;

/** The default number of databases dumped at the same time. */
const DEFAULT_DUMP_CONCURRENCY = 2;

/**
 * The BackupWorkflow state machine: dump (then verify each dump) and/or snapshot (then copy to the DR region), a JSON
 * report in the bucket, and on any failure an SNS notification and a `Fail` state, so a failed run never ends SUCCEEDED.
 *
 * Started by the schedules with `{ "tiers": [...] }`, or by hand the same way.
 *
 * @example
 * new BackupWorkflow(this, 'Workflow', { dump, reportFunction, notificationTopic, logsKey, logRetention: logs.RetentionDays.ONE_YEAR });
 */
export class BackupWorkflow extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: BackupWorkflowProps) {
    super(scope, id);
    if (props.dump && (props.dump.dumpFunction === undefined) === (props.dump.dumpTask === undefined)) {
      throw new ConfigurationError('the dump step needs exactly one of dumpFunction and dumpTask.', this, { subject: 'BackupWorkflow' });
    }
    if (props.dump && (props.dump.verifyFunction === undefined) === (props.dump.verifyTask === undefined)) {
      throw new ConfigurationError('the dump step needs exactly one of verifyFunction and verifyTask.', this, { subject: 'BackupWorkflow' });
    }
    if (!props.dump && !props.snapshot) {
      throw new ConfigurationError('needs a dump step, a snapshot step, or both: there is nothing to back up.', this, { subject: 'BackupWorkflow' });
    }

    const init = new sfn.Pass(this, 'Start run', {
      comment: 'Keep the tiers and when the run started; a manual run without tiers counts as daily.',
      parameters: {
        'tiers.$': '$.tiers',
        'startedAt.$': '$$.Execution.StartTime',
        ...EXECUTION_FIELDS,
      },
    });
    const defaultTiers = new sfn.Pass(this, 'Default tiers', {
      result: sfn.Result.fromArray(['daily']),
      resultPath: '$.tiers',
    });
    const hasTiers = new sfn.Choice(this, 'Tiers given?')
      .when(sfn.Condition.isPresent('$.tiers'), init)
      .otherwise(defaultTiers.next(init));

    const backup = new sfn.Parallel(this, 'Back up', { resultPath: '$.results' });
    if (props.dump) backup.branch(this.dumpBranch(props.dump));
    if (props.snapshot) backup.branch(this.snapshotBranch(props.snapshot, props.snapshotWaitTimeout ?? Duration.hours(4)));
    if (props.timeout && props.snapshot && props.timeout.toMinutes() < 2 * (props.snapshotWaitTimeout ?? Duration.hours(4)).toMinutes()) {
      throw new ConfigurationError(
        `timeout (${props.timeout.toHumanString()}) is shorter than waiting for the snapshot and its DR copy ` +
          `(2 x snapshotWaitTimeout = ${2 * (props.snapshotWaitTimeout ?? Duration.hours(4)).toMinutes()} minutes); raise timeout or lower snapshotWaitTimeout.`,
        this,
        { subject: 'BackupWorkflow' },
      );
    }

    const succeeded = new sfn.Succeed(this, 'Backup succeeded');
    const failed = new sfn.Fail(this, 'Backup failed', {
      error: 'BackupFailed',
      causePath: '$.error.Cause',
    });

    // A report was written: publish the notification it formatted. No report: a message of the state alone.
    const notify = publishNotification(this, 'Notify failure', props.notificationTopic, '$.report.notification');
    notify.next(failed);
    const notifyWithoutReport = new tasks.SnsPublish(this, 'Notify failure (no report)', {
      topic: props.notificationTopic,
      subject: 'cdk-backup-dr FAILED: backup (no report was written)',
      message: sfn.TaskInput.fromObject({
        workflow: 'backup',
        status: 'FAILED',
        'execution.$': '$$.Execution.Id',
        'tiers.$': '$.tiers',
        'error.$': '$.error.Error',
        'cause.$': '$.error.Cause',
        nextStep: 'No report was written: read the cause and the execution history, fix it, then start a backup by hand so that the RPO is met.',
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    retryNotification(notifyWithoutReport);
    notifyWithoutReport.next(failed);

    const reportFailure = this.reportTask('Report failure', props.reportFunction, 'FAILED');
    reportFailure.addCatch(notifyWithoutReport, { resultPath: '$.reportError' });
    reportFailure.next(notify);

    // The branches completed; a database whose dump or verification failed is in their results, and the report
    // decides the outcome: FAILED (with the failures as its `failure`) when any did.
    const reportSuccess = this.reportTask('Report success', props.reportFunction, 'SUCCEEDED');
    reportSuccess.addCatch(notifyWithoutReport, { resultPath: '$.error' });
    const databasesFailed = new sfn.Pass(this, 'Databases failed', {
      comment: "The report's failure (which databases or the snapshot failed, and why) is the run's error.",
      inputPath: '$.report.failure',
      resultPath: '$.error',
    });
    databasesFailed.next(notify);

    backup.addCatch(reportFailure, { resultPath: '$.error' });
    init.next(backup);
    backup.next(reportSuccess);
    reportSuccess.next(
      new sfn.Choice(this, 'Report outcome')
        .when(sfn.Condition.stringEquals('$.report.status', 'SUCCEEDED'), succeeded)
        .otherwise(databasesFailed),
    );

    const snapshotWait = props.snapshotWaitTimeout ?? Duration.hours(4);
    const timeout = props.timeout ?? Duration.minutes(SOURCE_BUSY_WAIT.toMinutes() + 2 * snapshotWait.toMinutes() + dumpMinutes(props.dump));
    this.stateMachine = workflowStateMachine(this, {
      definition: hasTiers,
      comment: 'cdk-backup-dr backup: dump + verify and/or snapshot + DR copy, report, notify on failure',
      timeout,
      logsKey: props.logsKey,
      logRetention: props.logRetention,
      topic: props.notificationTopic,
      source: props.sourceName,
      workflow: 'backup',
      afterwards:
        'No report was written for this run. Check the bucket for its manifests and the DR region for its snapshot copy; ' +
        'start a run by hand if the tiers it was meant to satisfy matter.',
    });
    const invoked = [props.dump?.dumpFunction, props.dump?.verifyFunction, props.snapshot?.snapshotFunction, props.reportFunction];
    acknowledgeStateMachineFindings(this.stateMachine, invoked.filter((fn): fn is lambda.IFunction => fn !== undefined), [props.dump?.dumpTask, props.dump?.verifyTask].filter((t): t is RunnerTask => t !== undefined));
  }

  /**
   * One dump (then its verification) per database, `maxConcurrency` at a time, each in its own invocations. Each item
   * catches its own failure into its result (`{ database, status: 'FAILED', error }`), so one failed database never
   * stops the others; the report then fails the run.
   */
  /** The state(s) running one handler: a Lambda invocation, or a Fargate task with the Pass that builds its event. */
  private runStep(
    id: string,
    fn: lambda.IFunction | undefined,
    runnerTask: RunnerTask | undefined,
    payload: sfn.TaskInput,
    resultPath: string,
  ): { readonly task: sfn.TaskStateBase; readonly entry: sfn.IChainable } {
    if (runnerTask) return runnerTask.step(this, id, payload, resultPath);
    const task = invokeTask(this, id, fn as lambda.IFunction, payload, resultPath);
    return { task, entry: task };
  }

  private dumpBranch(step: BackupWorkflowDumpStep): sfn.IChainable {
    const databases = new sfn.Pass(this, 'Databases', { result: sfn.Result.fromArray(step.databases), resultPath: '$.databases' });
    const each = new sfn.Map(this, 'Back up each database', {
      itemsPath: '$.databases',
      maxConcurrency: step.maxConcurrency ?? DEFAULT_DUMP_CONCURRENCY,
      itemSelector: { 'database.$': '$$.Map.Item.Value', 'tiers.$': '$.tiers' },
      resultPath: '$.databaseResults',
    });
    const payload = taskInput<DumpInput>({
      target: step.target,
      'database.$': '$.database',
      'tiers.$': '$.tiers',
      ...(step.compression === undefined ? {} : { compression: step.compression }),
      ...(step.parallelism === undefined || step.parallelism === 1 ? {} : { parallelism: step.parallelism }),
    });
    const { task: dump, entry: start } = this.runStep('Dump', step.dumpFunction, step.dumpTask, payload, '$.dump');
    dump.addRetry({ errors: [DumpFailed.NAME], interval: DUMP_RETRY_INTERVAL, maxAttempts: DUMP_RETRIES });
    const verifyPayload = taskInput<VerifyOneInput>({ 'manifestKey.$': '$.dump.backup.manifestKey' });
    const { task: verify, entry: verifyEntry } = this.runStep('Verify', step.verifyFunction, step.verifyTask, verifyPayload, '$.verification');
    // A fresh object is still replicating (RTC: 99.99% within 15 minutes): the verifier says NotReady until the
    // replica's copy is there; past 20 minutes the database fails.
    retryWhileNotReady(verify, Duration.minutes(1), VERIFY_NOT_READY_RETRIES);
    const backedUp = new sfn.Pass(this, 'Database backed up', {
      parameters: { 'database.$': '$.database', status: 'SUCCEEDED', 'dump.$': '$.dump.backup', 'verification.$': '$.verification' },
    });
    const failed = new sfn.Pass(this, 'Database failed', {
      parameters: { 'database.$': '$.database', status: 'FAILED', 'error.$': '$.error' },
    });
    dump.addCatch(failed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    verify.addCatch(failed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    dump.next(verifyEntry);
    verify.next(backedUp);
    each.itemProcessor(start);
    return databases.next(each).next(new sfn.Pass(this, 'Dump result', { parameters: { 'databases.$': '$.databaseResults' } }));
  }

  private snapshotBranch(step: BackupWorkflowSnapshotStep, waitTimeout: Duration): sfn.IChainable {
    const maxAttempts = pollAttempts(waitTimeout, SNAPSHOT_POLL_INTERVAL);
    /** A snapshot task; with `resultPath`, the snapshot it returns (only its fields of the report) goes there. */
    const snapshotTask = (id: string, payload: sfn.TaskInput, resultPath?: string) =>
      new tasks.LambdaInvoke(this, id, {
        lambdaFunction: step.snapshotFunction,
        payload,
        resultSelector: resultPath ? { 'kind.$': '$.Payload.kind', 'snapshotId.$': '$.Payload.snapshotId', 'snapshotArn.$': '$.Payload.snapshotArn', 'region.$': '$.Payload.region' } : undefined,
        resultPath: resultPath ?? sfn.JsonPath.DISCARD,
        retryOnServiceExceptions: true,
      });
    const waitFor = (id: string, payload: sfn.TaskInput) => {
      const task = snapshotTask(id, payload);
      retryWhileNotReady(task, SNAPSHOT_POLL_INTERVAL, maxAttempts);
      return task;
    };
    const create = snapshotTask(
      'Create snapshot',
      taskInput<CreateSnapshotInput>({
        action: 'create',
        kind: step.kind,
        identifier: step.identifier,
        'tiers.$': '$.tiers',
        // The start time fixes the snapshot id, so a retried task finds the snapshot it already started.
        'requestedAt.$': '$.startedAt',
        // ...and the execution tells two runs started in the same second apart.
        'runId.$': '$.executionId',
      }),
      // Keep the run's fields (tiers, startedAt): the snapshot goes under $.snapshot, not over the whole state.
      '$.snapshot',
    );
    // RDS refuses a snapshot while the source is busy; the handler says NotReady and the create is tried again.
    retryWhileNotReady(create, SOURCE_BUSY_INTERVAL, pollAttempts(SOURCE_BUSY_WAIT, SOURCE_BUSY_INTERVAL));
    const wait = waitFor('Wait for snapshot', taskInput<WaitSnapshotInput>({ action: 'wait', kind: step.kind, 'snapshotId.$': '$.snapshot.snapshotId' }));
    const tasksOfBranch: tasks.LambdaInvoke[] = [create, wait];
    let chain = create.next(wait);
    if (step.copyToDrRegion) {
      const copy = snapshotTask(
        'Copy snapshot to DR region',
        taskInput<CopySnapshotInput>({ action: 'copy', kind: step.kind, 'snapshotArn.$': '$.snapshot.snapshotArn', sourceIdentifier: step.identifier, 'tiers.$': '$.tiers' }),
        '$.drCopy',
      );
      const waitCopy = waitFor(
        'Wait for DR copy',
        taskInput<WaitSnapshotInput>({ action: 'wait', kind: step.kind, 'snapshotId.$': '$.drCopy.snapshotId', 'region.$': '$.drCopy.region' }),
      );
      chain = chain.next(copy).next(waitCopy);
      tasksOfBranch.push(copy, waitCopy);
    }
    // A failed snapshot must not cancel the dumps still running in the other branch (a Parallel stops every branch
    // when one fails): it becomes this branch's result, and the report fails the run after both branches finished.
    // Invalid input (e.g. unknown tiers) is the run's mistake, not the snapshot's: it still stops the whole run.
    const invalidInput = new sfn.Fail(this, 'Snapshot input invalid', { error: InvalidInput.NAME, causePath: '$.error.Cause' });
    const snapshotFailed = new sfn.Pass(this, 'Snapshot failed', { parameters: { 'snapshotError.$': '$.error' } });
    for (const task of tasksOfBranch) {
      task.addCatch(invalidInput, { errors: [InvalidInput.NAME], resultPath: '$.error' });
      task.addCatch(snapshotFailed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }
    return chain.next(
      new sfn.Pass(this, 'Snapshot result', {
        parameters: step.copyToDrRegion
          ? { 'snapshot.$': '$.snapshot', 'drCopy.$': '$.drCopy' }
          : { 'snapshot.$': '$.snapshot' },
      }),
    );
  }

  /** The report task; its result (`{ reportKey, status, failure? }`, see the report handler) goes to `$.report`. */
  private reportTask(id: string, fn: lambda.IFunction, status: 'SUCCEEDED' | 'FAILED'): tasks.LambdaInvoke {
    return invokeTask(
      this,
      id,
      fn,
      taskInput<BackupReportEvent>({
        workflow: 'backup',
        status,
        'executionId.$': '$.executionId',
        'executionName.$': '$.executionName',
        'startedAt.$': '$.startedAt',
        'tiers.$': '$.tiers',
        ...(status === 'SUCCEEDED' ? { 'results.$': '$.results' } : { 'error.$': '$.error' }),
      }),
      '$.report',
    );
  }
}

/** cdk-nag findings every workflow state machine of this package has by design, each with its reason. */
export function acknowledgeStateMachineFindings(stateMachine: sfn.StateMachine, invokedFunctions: lambda.IFunction[], runTasks: readonly RunnerTask[] = []): void {
  Validations.of(stateMachine).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Only the CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) and X-Ray tracing are granted on *: neither supports resource-level permissions.' +
      (runTasks.length > 0 ? ' With a Fargate runner also ecs:StopTask and ecs:DescribeTasks, whose task ids are only known when a task starts.' : ''),
  });
  for (const runTask of runTasks) {
    // The family ARN exactly as tasks.EcsRunTask builds its RunTask resource (the definition's ARN without its revision).
    const stack = Stack.of(stateMachine);
    const parts = stack.splitArn(runTask.taskDefinition.taskDefinitionArn, ArnFormat.SLASH_RESOURCE_NAME);
    const family = stack.formatArn({ ...parts, resourceName: parts.resourceName?.split(':')[0] });
    acknowledgeWildcardResource(stateMachine, `${family}:*`, 'Running the named task definition under any of its revisions; the family itself is named.');
  }
  for (const fn of invokedFunctions) {
    acknowledgeWildcardResource(
      stateMachine,
      `${fn.functionArn}:*`,
      'Invoking the named function under any version or alias qualifier; the function itself is named.',
    );
  }
  acknowledgeHipaaAndNist(
    stateMachine,
    'IAMNoInlinePolicy',
    "The inline default policy belongs to this state machine's own role only and is built from grants on named resources; it is deleted with the role.",
  );
}
