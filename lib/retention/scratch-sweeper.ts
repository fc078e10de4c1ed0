import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { HandlerFunction } from '../common/handler-function';
import { acknowledgeWildcardResource } from '../common/nag';
import { taskInput } from '../common/payload';
import { createScheduleRole } from '../common/schedule-role';
import { executionArnPattern, invokeTask, workflowStateMachine } from '../common/workflow';
import type { IBackupBucket } from '../storage/backup-bucket-base';
import { acknowledgeStateMachineFindings } from '../database/backup-workflow';
import {
  CREATOR_TAG,
  CREATOR_TAG_VALUE,
  DRY_RUN_TAG,
  FAILOVER_ID_PREFIX,
  FAILOVER_SECRET_PREFIX,
  PURPOSE_TAG,
  RECOVERY_TEST_PURPOSE,
  SCRATCH_ID_PREFIX,
  SCRATCH_SECRET_PREFIX,
  SWEEP_REPORT_PREFIX,
} from '../../lambda/common/names';
import { SweepFailed } from '../../lambda/common/errors';
import type { SweepTaskEvent } from '../../lambda/retention/sweep.handler';

/** Props for {@link ScratchSweeper}. */
export interface ScratchSweeperProps {
  /**
   * The RecoveryTest and Failover state machines (in this stack's region) whose timed-out or aborted executions' scratch
   * databases and secrets are swept. Only their executions are asked about, and only their leftovers deleted.
   */
  readonly workflows: sfn.IStateMachine[];
  /** Where the sweep reports go (`reports/sweep/…`). */
  readonly bucket: IBackupBucket;
  /** The VPC the sweeper function runs in (it calls RDS, Secrets Manager, Step Functions and S3). */
  readonly vpc: ec2.IVpc;
  /** @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The sweeper function's security group (it needs outbound 443 only). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** KMS key of the logs. */
  readonly logsKey: kms.IKey;
  /** Where a failed sweep is published. */
  readonly notificationTopic: sns.ITopic;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The source a timed-out or aborted sweep's message names, so that two sweepers in one stack can be told apart.
   * @default - the stack's name
   */
  readonly sourceName?: string;
  /**
   * When the sweep runs. Leftovers of a run that is still going are never touched, so any interval is safe.
   * @default - every day at 06:00 UTC
   */
  readonly schedule?: scheduler.ScheduleExpression;
}

/**
 * The sweeper: a state machine on a schedule that deletes what recovery tests and failover rehearsals left when they
 * timed out or were aborted (such runs skip their cleanup): scratch DB instances and clusters named `cdkbdr-rt-…` /
 * `cdkbdr-fo-…` and their secrets, only when they carry this package's creator tag and a recovery-test purpose (or a
 * failover purpose with `cdk-backup-dr:dry-run=true`), and only when the execution in their execution tag belongs to
 * one of `workflows` and is no longer running. IAM enforces the same tags. It writes what it deleted to
 * `reports/sweep/…`; a refused deletion publishes to the topic and ends the run FAILED. Start it by hand with
 * `{ "dryRun": true }` to see what it would delete.
 *
 * @example
 * new ScratchSweeper(this, 'Sweeper', {
 *   workflows: [recoveryTest.stateMachine], bucket, vpc, securityGroup, logsKey, notificationTopic,
 * });
 */
export class ScratchSweeper extends Construct {
  /** The sweeper Lambda. */
  public readonly sweepFunction: lambda.Function;
  /** The sweeper state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** The schedule. */
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: ScratchSweeperProps) {
    super(scope, id);
    if (props.workflows.length === 0) {
      throw new ConfigurationError('workflows is empty: give the RecoveryTest and Failover state machines whose leftovers to sweep', this, { subject: 'ScratchSweeper' });
    }
    const stack = Stack.of(this);
    this.sweepFunction = new HandlerFunction(this, 'SweepFunction', {
      handlerName: 'sweep',
      description: 'cdk-backup-dr: deletes scratch databases and secrets that ended recovery tests and failover rehearsals left',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [props.securityGroup],
      timeout: Duration.minutes(5),
      memorySize: 256,
      logsKey: props.logsKey,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      environment: {
        BUCKET_NAME: props.bucket.bucket.bucketName,
        BUCKET_KMS_KEY_ARN: props.bucket.encryptionKey.keyArn,
        SWEPT_STATE_MACHINES: props.workflows.map((sm) => sm.stateMachineArn).join(','),
      },
    });
    this.grant(props, stack);

    const sweep = invokeTask(this, 'Sweep', this.sweepFunction, taskInput<SweepTaskEvent>({ 'request.$': '$', 'executionName.$': '$$.Execution.Name' }), '$.result');
    const notify = new tasks.SnsPublish(this, 'Notify failure', {
      topic: props.notificationTopic,
      subject: 'cdk-backup-dr: sweep FAILED',
      message: sfn.TaskInput.fromJsonPathAt('$.error'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    sweep.addCatch(notify.next(new sfn.Fail(this, 'Sweep failed', { error: SweepFailed.NAME, causePath: '$.error.Cause' })), { resultPath: '$.error' });
    sweep.next(new sfn.Succeed(this, 'Sweep succeeded'));
    this.stateMachine = workflowStateMachine(this, {
      definition: sweep,
      comment: 'cdk-backup-dr sweeper: deletes scratch databases and secrets of ended recovery tests and failover rehearsals',
      timeout: Duration.minutes(15),
      logsKey: props.logsKey,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      topic: props.notificationTopic,
      workflow: 'sweep',
      what: 'scratch sweep',
      ...(props.sourceName !== undefined ? { source: props.sourceName } : {}),
      afterwards: 'the next sweep tries again; the report lists what is left',
    });
    acknowledgeStateMachineFindings(this.stateMachine, [this.sweepFunction]);

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: props.schedule ?? scheduler.ScheduleExpression.cron({ minute: '0', hour: '6' }),
      description: 'cdk-backup-dr sweeper',
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {
        role: createScheduleRole(this, 'ScheduleRole', 'Starts the cdk-backup-dr sweeper'),
        input: scheduler.ScheduleTargetInput.fromObject({ dryRun: false }),
      }),
    });
  }

  /**
   * List databases and secrets; delete only databases and secrets of our names that carry our creator tag and a
   * recovery-test purpose (or a failover purpose and the dry-run tag); ask about the executions of `workflows` only.
   */
  private grant(props: ScratchSweeperProps, stack: Stack): void {
    const fn = this.sweepFunction;
    const rds = (resource: string, name: string) => stack.formatArn({ service: 'rds', resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const secret = (prefix: string) => stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ListDatabases', actions: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'], resources: [rds('db', '*'), rds('cluster', '*')] }),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ListSecrets', actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
    const owned = { [`aws:ResourceTag/${CREATOR_TAG}`]: CREATOR_TAG_VALUE };
    const kinds = [
      { sid: 'RecoveryTest', id: SCRATCH_ID_PREFIX, secret: SCRATCH_SECRET_PREFIX, tags: { ...owned, [`aws:ResourceTag/${PURPOSE_TAG}`]: RECOVERY_TEST_PURPOSE } },
      { sid: 'FailoverDryRun', id: FAILOVER_ID_PREFIX, secret: FAILOVER_SECRET_PREFIX, tags: { ...owned, [`aws:ResourceTag/${PURPOSE_TAG}`]: 'failover', [`aws:ResourceTag/${DRY_RUN_TAG}`]: 'true' } },
    ];
    for (const kind of kinds) {
      const databases = [rds('db', `${kind.id}*`), rds('cluster', `${kind.id}*`)];
      fn.addToRolePolicy(
        new iam.PolicyStatement({ sid: `Delete${kind.sid}Databases`, actions: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'], resources: databases, conditions: { StringEquals: kind.tags } }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({ sid: `Delete${kind.sid}Secrets`, actions: ['secretsmanager:DeleteSecret'], resources: [secret(kind.secret)], conditions: { StringEquals: kind.tags } }),
      );
      for (const arn of [...databases, secret(kind.secret)]) acknowledgeWildcardResource(fn, arn, `Deletes only ${kind.id}… databases and their secrets with this package's creator and purpose tags (IAM conditions).`);
    }
    const executions = props.workflows.map((sm) => executionArnPattern(this, sm));
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'AskExecutions', actions: ['states:DescribeExecution'], resources: executions }));
    props.bucket.grantWriteBackups(fn, `${SWEEP_REPORT_PREFIX}*`);
    for (const arn of [rds('db', '*'), rds('cluster', '*')]) acknowledgeWildcardResource(fn, arn, 'DescribeDBInstances/DescribeDBClusters without an identifier (listing) are authorized on every instance / cluster.');
    acknowledgeWildcardResource(fn, '*', 'secretsmanager:ListSecrets has no resource-level permissions.');
    for (const arn of executions) acknowledgeWildcardResource(fn, arn, 'Asks only whether executions of the watched RecoveryTest / Failover state machines still run.');
    acknowledgeWildcardResource(fn, props.bucket.bucket.arnForObjects(`${SWEEP_REPORT_PREFIX}*`), 'Writes one report per sweep under reports/sweep/.');
  }
}
