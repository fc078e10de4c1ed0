import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
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
import { createScheduleRole } from '../common/schedule-role';
import { executionArnPattern, invokeTask, workflowStateMachine } from '../common/workflow';
import { taskInput } from '../common/payload';
import type { CleanupTaskEvent } from '../../lambda/retention/cleanup-input';
import { BackupBucket } from '../storage/backup-bucket';
import type { IBackupBucket, ReplicaInfo } from '../storage/backup-bucket-base';
import { RetentionPolicy } from './retention-policy';
import { acknowledgeStateMachineFindings } from '../database/backup-workflow';
import { CLEANUP_REPORT_PREFIX, CREATOR_TAG, CREATOR_TAG_VALUE, DUMP_KEY_PREFIX, SNAPSHOT_ID_PREFIX } from '../../lambda/common/names';
import { CleanupFailed } from '../../lambda/common/errors';
import { CLEANUP_DIMENSIONS, CLEANUP_METRICS, METRIC_DIMENSIONS, SNAPSHOT_QUOTA_METRICS } from '../../lambda/common/metrics';
import { packageMetric } from '../common/metrics';

/** The snapshots a {@link BackupRetention} cleans. */
export interface RetentionSnapshots {
  /** RDS instance snapshots or Aurora cluster snapshots. */
  readonly kind: 'instance' | 'cluster';
  /** The DB instance or cluster identifier the snapshots are taken of. */
  readonly identifier: string;
  /**
   * The DR region holding the copies.
   * @default - no copies
   */
  readonly drRegion?: string;
}

/** Props for {@link BackupRetention}. */
export interface BackupRetentionProps {
  /** Which backups to keep. */
  readonly policy: RetentionPolicy;
  /**
   * The policy of the replica bucket's copies (deletions are not replicated, so the replica is cleaned on its own).
   * @default - `policy`
   */
  readonly replicaPolicy?: RetentionPolicy;
  /** The bucket of the dumps (and, through its replication, the replica). */
  readonly bucket: IBackupBucket;
  /** The source name of the dumps (`postgres/<sourceName>/…`). */
  readonly sourceName: string;
  /**
   * The RDS / Aurora snapshots to clean, in the primary region and as DR copies.
   * @default - dumps only
   */
  readonly snapshots?: RetentionSnapshots;
  /** The shortest time between two backups, for the synth checks (1 day for daily runs). */
  readonly backupInterval: Duration;
  /** The VPC the cleanup function runs in (it calls S3, RDS and Step Functions). */
  readonly vpc: ec2.IVpc;
  /** @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The cleanup function's security group (it needs outbound 443 only). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** KMS key of the logs (and of the topic). */
  readonly logsKey: kms.IKey;
  /** Where a failed cleanup is published. */
  readonly notificationTopic: sns.ITopic;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * When the cleanup runs.
   * @default - every day at 05:00 UTC
   */
  readonly schedule?: scheduler.ScheduleExpression;
  /**
   * How old a dump without a manifest (an interrupted run or deletion) must be before it is swept. It must be longer
   * than a dump can run: a dump writes its manifest last (a parallel dump uploads its files as it goes), so a shorter
   * grace would sweep a running dump. PostgresBackup sets it from its runner (a Fargate task's timeout plus an hour).
   * @default Duration.days(1)
   */
  readonly orphanGracePeriod?: Duration;
  /**
   * Delete every version of a deleted dump and manifest at once, instead of leaving a delete marker and letting the
   * lifecycle's noncurrent-version expiry remove the old version later. Deletions then cannot be undone.
   * @default false
   */
  readonly removeVersions?: boolean;
  /**
   * The RecoveryTest and Failover state machines whose running executions may have picked a backup: such a backup is
   * never deleted (kept, "in use by execution … of …"). Every run asks Step Functions (ListExecutions RUNNING, the
   * input and history of each); when it cannot answer, the run deletes nothing and fails. More can be added with
   * {@link BackupRetention.protectBackupsPickedBy}.
   * @default - none
   */
  readonly inUseBy?: sfn.IStateMachine[];
}

/**
 * The retention cleanup: a state machine that applies a {@link RetentionPolicy} to the dumps in the backup bucket and
 * the snapshots in the primary region (target `primary`), and to the replica bucket and the DR copies in the DR region
 * (target `replica`, its own run), on a schedule each; a failed run publishes to the topic and ends FAILED. Start it by
 * hand with `{ "target": "primary", "dryRun": true }` to see the plan in the report without deleting anything.
 *
 * @example
 * new BackupRetention(this, 'Retention', {
 *   policy: RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12, yearly: 3 }),
 *   bucket, sourceName: 'prod', backupInterval: Duration.days(1), vpc, securityGroup, logsKey, notificationTopic,
 * });
 */
export class BackupRetention extends Construct {
  /** The cleanup Lambda. */
  public readonly cleanupFunction: lambda.Function;
  /** The cleanup state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** The schedules: the primary run, and the replica run once the bucket replicates. */
  public readonly schedules: scheduler.Schedule[] = [];
  private readonly pickers: sfn.IStateMachine[] = [];
  /** The source name of the metrics' `Source` dimension. */
  public readonly sourceName: string;
  /** The regions whose manual-snapshot quota the cleanup publishes (the stack's, and the DR region's); none without snapshots. */
  public readonly snapshotRegions: readonly string[];

  constructor(scope: Construct, id: string, props: BackupRetentionProps) {
    super(scope, id);
    this.sourceName = props.sourceName;
    this.snapshotRegions = props.snapshots ? [Stack.of(this).region, ...(props.snapshots.drRegion ? [props.snapshots.drRegion] : [])] : [];
    const intervalDays = Math.max(1, Math.round(props.backupInterval.toHours() / 24));
    const problems = props.policy.problems({
      description: 'dumps',
      backupIntervalDays: intervalDays,
      // An imported bucket's lifecycle is not known here; its owner's app checks it.
      transitions: (props.bucket instanceof BackupBucket ? props.bucket.lifecycle : [])
        .filter((rule) => DUMP_KEY_PREFIX.startsWith(rule.prefix) || rule.prefix.startsWith(DUMP_KEY_PREFIX))
        .flatMap((rule) => rule.transitions.map((t) => ({ day: t.after.toDays(), storageClass: t.storageClass.value, option: t.option }))),
      objectLockDays: props.bucket.objectLock?.duration.toDays(),
    });
    if (problems.length > 0) throw new ConfigurationError(problems.join(' '), this, { subject: 'BackupRetention' });

    const environment: Record<string, string> = {
      BUCKET_NAME: props.bucket.bucket.bucketName,
      BUCKET_KMS_KEY_ARN: props.bucket.encryptionKey.keyArn,
      SOURCE_ID: props.sourceName,
      RETENTION_POLICY: JSON.stringify(props.policy.rules),
      ORPHAN_GRACE_SECONDS: String((props.orphanGracePeriod ?? Duration.days(1)).toSeconds()),
      OBJECT_LOCK: String(props.bucket.objectLock !== undefined),
      REMOVE_VERSIONS: String(props.removeVersions ?? false),
      ...(props.replicaPolicy ? { REPLICA_RETENTION_POLICY: JSON.stringify(props.replicaPolicy.rules) } : {}),
      ...(props.snapshots ? { SNAPSHOT_KIND: props.snapshots.kind, SNAPSHOT_SOURCE: props.snapshots.identifier } : {}),
      ...(props.snapshots?.drRegion ? { DR_REGION: props.snapshots.drRegion } : {}),
    };
    this.cleanupFunction = new HandlerFunction(this, 'CleanupFunction', {
      handlerName: 'cleanup',
      description: 'cdk-backup-dr: retention cleanup of dumps and snapshots',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [props.securityGroup],
      timeout: Duration.minutes(15),
      memorySize: 512,
      logsKey: props.logsKey,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      environment,
    });
    this.grantBucket(props);
    if (props.snapshots) this.grantSnapshots(props.snapshots);

    // The execution input goes to the handler as it was given: it validates every field (a misspelt `dryrun` is
    // refused, never dropped into a real run) and defaults dryRun to false.
    const clean = invokeTask(this, 'Clean', this.cleanupFunction, taskInput<CleanupTaskEvent>({
      'request.$': '$',
      'executionName.$': '$$.Execution.Name',
    }), '$.result');
    const failed = new sfn.Fail(this, 'Cleanup failed', { error: CleanupFailed.NAME, causePath: '$.error.Cause' });
    const notify = new tasks.SnsPublish(this, 'Notify failure', {
      topic: props.notificationTopic,
      subject: 'cdk-backup-dr: cleanup FAILED',
      message: sfn.TaskInput.fromJsonPathAt('$.error'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    clean.addCatch(notify.next(failed), { resultPath: '$.error' });
    clean.next(new sfn.Succeed(this, 'Cleanup succeeded'));
    this.stateMachine = workflowStateMachine(this, {
      definition: clean,
      comment: 'cdk-backup-dr retention cleanup: GFS over dumps and snapshots',
      timeout: Duration.minutes(30),
      logsKey: props.logsKey,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      topic: props.notificationTopic,
      workflow: 'cleanup',
      what: 'retention cleanup',
      source: props.sourceName,
      afterwards: 'nothing to delete by hand: the next run continues where this one stopped',
    });
    acknowledgeStateMachineFindings(this.stateMachine, [this.cleanupFunction]);

    this.protectBackupsPickedBy(...(props.inUseBy ?? []));

    const role = createScheduleRole(this, 'ScheduleRole', 'Starts the cdk-backup-dr retention cleanup');
    const expression = props.schedule ?? scheduler.ScheduleExpression.cron({ minute: '0', hour: '5' });
    const addSchedule = (target: 'primary' | 'replica') =>
      this.schedules.push(
        new scheduler.Schedule(this, target === 'primary' ? 'Schedule' : 'ReplicaSchedule', {
          schedule: expression,
          description: `cdk-backup-dr retention cleanup (${target})`,
          target: new targets.StepFunctionsStartExecution(this.stateMachine, {
            role,
            input: scheduler.ScheduleTargetInput.fromObject({ target, dryRun: false }),
          }),
        }),
      );
    addSchedule('primary');
    props.bucket.onReplication((replica) => {
      this.cleanupFunction.addEnvironment('REPLICA_BUCKET_NAME', replica.bucketName);
      this.cleanupFunction.addEnvironment('DR_REGION', replica.region);
      // The replica of an imported bucket may be locked for all this app knows: then every candidate's lock is asked.
      this.cleanupFunction.addEnvironment('REPLICA_OBJECT_LOCK', String(replica.replica ? replica.replica.objectLock !== undefined : true));
      this.grantReplica(props.sourceName, replica);
      addSchedule('replica');
    });
  }

  /**
   * Never delete a backup that a running execution of one of `stateMachines` (a RecoveryTest's, a Failover's) picked:
   * the cleanup may list their running executions and read their input and history, nothing else.
   */
  public protectBackupsPickedBy(...stateMachines: sfn.IStateMachine[]): void {
    if (stateMachines.length === 0) return;
    const fn = this.cleanupFunction;
    this.pickers.push(...stateMachines);
    fn.addEnvironment('IN_USE_STATE_MACHINES', this.pickers.map((sm) => sm.stateMachineArn).join(','));
    const executions = stateMachines.map((sm) => executionArnPattern(this, sm));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: stateMachines.map((sm) => sm.stateMachineArn) }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:GetExecutionHistory'], resources: executions }));
    for (const arn of executions) {
      acknowledgeWildcardResource(fn, arn, 'Reads the executions of one named RecoveryTest or Failover state machine, to keep the backups running ones picked.');
    }
  }

  /** Whether a cleanup run of `target` deleted everything it decided to (1) or a step failed (0). */
  public metricCleanupSucceeded(target: 'primary' | 'replica' = 'primary', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return packageMetric(
      CLEANUP_METRICS.succeeded,
      { [METRIC_DIMENSIONS.source]: this.sourceName, [CLEANUP_DIMENSIONS.target]: target },
      { period: Duration.days(1), statistic: 'Minimum' },
      props,
    );
  }

  /** The account's manual snapshots in `region` (published by each cleanup run). */
  public metricManualSnapshotsUsed(region: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.quotaMetric(SNAPSHOT_QUOTA_METRICS.used, region, props);
  }

  /** RDS's manual-snapshot quota of the account in `region` (published by each cleanup run). */
  public metricManualSnapshotsQuota(region: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.quotaMetric(SNAPSHOT_QUOTA_METRICS.quota, region, props);
  }

  /** Failed, timed-out or aborted cleanup executions. */
  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed(props);
  }

  private quotaMetric(metricName: string, region: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return packageMetric(
      metricName,
      { [METRIC_DIMENSIONS.source]: this.sourceName, [CLEANUP_DIMENSIONS.region]: region },
      { period: Duration.days(1), statistic: 'Maximum' },
      props,
    );
  }

  private grantBucket(props: BackupRetentionProps): void {
    const fn = this.cleanupFunction;
    const objects = props.bucket.bucket.arnForObjects(`${DUMP_KEY_PREFIX}${props.sourceName}/*`);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListOwnDumps',
        actions: ['s3:ListBucket', 's3:ListBucketVersions'],
        resources: [props.bucket.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DUMP_KEY_PREFIX}${props.sourceName}/*`] } },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeleteOwnDumps',
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObjectRetention', 's3:GetObjectLegalHold'],
        resources: [objects],
      }),
    );
    props.bucket.grantWriteBackups(fn, `${CLEANUP_REPORT_PREFIX}*`);
    acknowledgeWildcardResource(fn, objects, "Deletes only this source's dumps and manifests, as the retention policy decides.");
    acknowledgeWildcardResource(fn, props.bucket.bucket.arnForObjects(`${CLEANUP_REPORT_PREFIX}*`), 'Writes one report per cleanup run under reports/cleanup/.');
  }

  private grantReplica(sourceName: string, { bucketName }: ReplicaInfo): void {
    const fn = this.cleanupFunction;
    const bucketArn = `arn:${Stack.of(this).partition}:s3:::${bucketName}`;
    const objects = `${bucketArn}/${DUMP_KEY_PREFIX}${sourceName}/*`;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListOwnReplicaDumps',
        actions: ['s3:ListBucket', 's3:ListBucketVersions'],
        resources: [bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DUMP_KEY_PREFIX}${sourceName}/*`] } },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeleteOwnReplicaDumps',
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObjectRetention', 's3:GetObjectLegalHold'],
        resources: [objects],
      }),
    );
    acknowledgeWildcardResource(fn, objects, "Deletes only this source's replicated dumps and manifests in the DR bucket.");
  }

  /** Describe, and delete only snapshots carrying the creator tag, in both regions; read the snapshot quota. */
  private grantSnapshots(snapshots: RetentionSnapshots): void {
    const stack = Stack.of(this);
    const fn = this.cleanupFunction;
    const isCluster = snapshots.kind === 'cluster';
    const regions = [stack.region, ...(snapshots.drRegion ? [snapshots.drRegion] : [])];
    const arns = regions.map((region) =>
      stack.formatArn({ service: 'rds', region, resource: isCluster ? 'cluster-snapshot' : 'snapshot', resourceName: `${SNAPSHOT_ID_PREFIX}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    );
    const sources = regions.map((region) =>
      stack.formatArn({ service: 'rds', region, resource: isCluster ? 'cluster' : 'db', resourceName: snapshots.identifier, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DescribeOwnSnapshots',
        actions: [isCluster ? 'rds:DescribeDBClusterSnapshots' : 'rds:DescribeDBSnapshots'],
        resources: [...arns, ...sources],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeleteOwnTaggedSnapshots',
        actions: [isCluster ? 'rds:DeleteDBClusterSnapshot' : 'rds:DeleteDBSnapshot'],
        resources: arns,
        conditions: { StringEquals: { [`aws:ResourceTag/${CREATOR_TAG}`]: CREATOR_TAG_VALUE } },
      }),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadSnapshotQuota', actions: ['rds:DescribeAccountAttributes'], resources: ['*'] }));
    for (const arn of arns) acknowledgeWildcardResource(fn, arn, 'Only snapshots this package created (cdkbdr-…), and deletion only with the creator tag.');
    acknowledgeWildcardResource(fn, '*', 'rds:DescribeAccountAttributes (the manual snapshot quota) has no resource-level permissions.');
  }
}
