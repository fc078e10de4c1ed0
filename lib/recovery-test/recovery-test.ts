import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { HandlerFunction, LAMBDA_MAX_TIMEOUT } from '../common/handler-function';
import { checkDatabaseSubnets, checkRpo, checkRto, checkValidationQueries, checkWaitTimeouts, rtoEnvironment, type InvalidProps, type RtoProps } from '../common/validation';
import { Operations } from '../common/operations';
import { PgToolsLayer } from '../database/pg-tools-layer';
import { checkRestoreMemorySize, createRestoreFunction } from '../common/restore-function';
import type { BackupRunner } from '../common/backup-runner';
import { RUNNER_TASK_APIS, RunnerTask } from '../common/runner-task';
import { acknowledgeWildcardResource } from '../common/nag';
import { grantRdsKeyUse } from '../common/kms-grants';
import { createScheduleRole } from '../common/schedule-role';
import { AwsApi, FunctionNetwork } from '../common/network';
import { acknowledgeStateMachineFindings } from '../database/backup-workflow';
import type { IBackupBucket } from '../storage/backup-bucket-base';
import { RecoveryTestSchedule } from './recovery-test-schedule';
import { RecoveryTestWorkflow, SCRATCH_POLL_INTERVAL, ValidationQuery } from './recovery-test-workflow';
import { TestedBackups } from './tested-backups';
import { METRIC_DIMENSIONS, RECOVERY_TEST_METRICS } from '../../lambda/common/metrics';
import { packageMetric } from '../common/metrics';
import {
  CREATOR_TAG,
  CREATOR_TAG_VALUE,
  DATABASE_NAME_HINT,
  isDatabaseName,
  isSourceName,
  PURPOSE_TAG,
  RECOVERY_REPORT_PREFIX,
  RECOVERY_TEST_PURPOSE,
  SCRATCH_ID_PREFIX,
  SCRATCH_SECRET_PREFIX,
  SNAPSHOT_ID_PREFIX,
  SOURCE_NAME_HINT,
} from '../../lambda/common/names';

/** Props for {@link RecoveryTest}. */
export interface RecoveryTestProps extends RtoProps {
  /**
   * The bucket the backups are in (and the reports go to, under `reports/recovery-test/`): a BackupBucket of this app
   * or one imported from the app that owns it (`BackupBucket.fromBucketAttributes`, `SharedBackupResources.importBucket`).
   */
  readonly bucket: IBackupBucket;
  /** The source name the backups were written under (`postgres/<sourceName>/…`, PostgresBackup's `sourceName`). */
  readonly sourceName: string;
  /**
   * Which backups are restored.
   * @default TestedBackups.dumps() - the newest dump of any database of the source
   */
  readonly backups?: TestedBackups;
  /** The VPC of the scratch database and of the recovery-test Lambdas. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the scratch database (a DB subnet group is created from them); at least two Availability Zones.
   * @default - the VPC's isolated subnets
   */
  readonly scratchSubnets?: ec2.SubnetSelection;
  /**
   * Subnets of the recovery-test Lambdas. They call S3, Secrets Manager and RDS, so they need a route to those
   * (NAT or VPC endpoints), and they reach the scratch database on port 5432.
   * @default - the VPC's private subnets with egress
   */
  readonly lambdaSubnets?: ec2.SubnetSelection;
  /**
   * Create the VPC endpoints of the AWS APIs the recovery-test Lambdas call (an S3 gateway endpoint; interface
   * endpoints with private DNS for Secrets Manager and RDS), once per VPC, reachable on 443 from the Lambdas; then
   * the Lambdas can run in isolated subnets.
   * @default false - the Lambda subnets need a route to a NAT gateway, or endpoints you add
   */
  readonly vpcEndpoints?: boolean;
  /**
   * The Lambda layer with `pg_restore` (a `PgToolsLayer`); its major version must be at least the dumps' pg_dump
   * major version. Required to test dumps.
   * @default - none; required for TestedBackups.dumps()
   */
  readonly pgToolsLayer?: lambda.ILayerVersion;
  /**
   * PostgreSQL major version of the empty scratch instance a dump is restored into (e.g. 16); use the source's major
   * version or a newer one. Required to test dumps; snapshots keep their own version.
   * @default - none; required for TestedBackups.dumps()
   */
  readonly postgresVersion?: number;
  /**
   * Instance type of the scratch database.
   * @default - db.t4g.micro, or db.t4g.medium for an Aurora cluster (Aurora PostgreSQL's smallest)
   */
  readonly scratchInstanceType?: ec2.InstanceType;
  /**
   * Storage of the empty scratch instance for dumps, GiB (20–65536); give room for the restored database.
   * @default 20
   */
  readonly scratchAllocatedStorageGiB?: number;
  /**
   * SQL checks that must return `true` on the restored database, run after the row-count comparison (dumps) or the
   * table check (snapshots).
   * @default - none
   */
  readonly validationQueries?: ValidationQuery[];
  /**
   * Recreate the source's roles (saved beside each dump) in the scratch instance before the restore, then restore
   * owners and privileges, so the test also proves the roles come back. The scratch instance's master user is not a
   * superuser: superuser-only attributes are reported, not restored (see the README, "Roles and globals").
   * Dump recovery tests only.
   * @default false - objects belong to the master user, no GRANTs restored
   */
  readonly restoreRoles?: boolean;
  /**
   * When the test runs by itself.
   * @default RecoveryTestSchedule.weekly() - Sundays 05:00 UTC
   */
  readonly schedule?: RecoveryTestSchedule;
  /**
   * Where the outcome of every test is published.
   * @default - a new KMS-encrypted, TLS-only topic (`notificationTopic`)
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * The recovery point objective: a test whose restored data is older than this fails (after restoring and
   * cleaning up), so a backup schedule that silently stopped is caught.
   * @default - no RPO check; the data age is still measured and published
   */
  readonly rpo?: Duration;
  /**
   * KMS key of the log groups (and of the topic this construct creates). Its policy must let CloudWatch Logs of
   * this region use it.
   * @default - a new key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long Lambda and state machine logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the restore of a dump runs: `BackupRunner.lambda()` (at most 15 minutes) or `BackupRunner.fargate({ cpu,
   * memoryLimitMiB })`, an ECS Fargate task in `lambdaSubnets` with the same security group, for dumps that take
   * longer to restore (its image is built by CDK at deploy time, with the client tools of `postgresVersion`).
   * Dump tests only.
   * @default BackupRunner.lambda({ memorySize: restoreMemorySize })
   */
  readonly runner?: BackupRunner;
  /**
   * Memory of the restore Lambda (with the Lambda runner), MiB, from 1769 to 10240. Lambda allots CPU by memory and pg_restore decompresses on
   * it: 1769 MiB is one full vCPU.
   * @default 1769
   */
  readonly restoreMemorySize?: number;
  /**
   * How long to wait for the scratch database to become available (creation or snapshot restore).
   * @default Duration.hours(1)
   */
  readonly scratchWaitTimeout?: Duration;
  /**
   * How long the cleanup waits for the scratch database to be deleted.
   * @default Duration.hours(1)
   */
  readonly cleanupTimeout?: Duration;
}

/** One wildcard resource a policy needs, with the reason it cannot be narrower. */
interface AcknowledgedWildcard {
  readonly resourceOrAction: string;
  readonly reason: string;
}

/**
 * Proves the backups restore: an automated recovery test.
 *
 * A state machine (weekly by default) picks the newest usable backup (or one named in the input, or a random one
 * within N days), creates a throw-away scratch database in isolated subnets (an empty RDS PostgreSQL instance for a
 * dump, or a restore of an RDS/Aurora snapshot), restores the dump into it with pg_restore streamed from S3 (SHA-256
 * checked), verifies it (per-table row counts equal to the manifest, plus your validation queries), ALWAYS deletes
 * the scratch database and its secret, writes a JSON report to `reports/recovery-test/…` in the bucket, publishes
 * RecoveryTestSucceeded / RestoreDurationSeconds (the measured RTO) / BackupAgeSeconds (the data age, i.e. the
 * achieved RPO), and sends the outcome to SNS. A failed test ends FAILED.
 *
 * The scratch database's password is generated in the scratch Lambda and kept in a new secret
 * `cdk-backup-dr/scratch/<name>`; it never passes through the state machine. Scratch resources are named
 * `cdkbdr-rt-<execution>-<hash>` and tagged `cdk-backup-dr:purpose=recovery-test`; the IAM policies are scoped to
 * those prefixes.
 *
 * Start one by hand with
 * `aws stepfunctions start-execution --state-machine-arn <arn> --input '{"selection":{"latest":true}}'`.
 *
 * @example
 * const test = new RecoveryTest(this, 'RecoveryTest', {
 *   bucket: backups,
 *   sourceName: 'prod-db',
 *   vpc,
 *   pgToolsLayer: new PgToolsLayer(this, 'PgTools', { postgresVersion: 16 }),
 *   postgresVersion: 16,
 *   validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM app.orders' }],
 *   rpo: Duration.hours(26),
 *   schedule: RecoveryTestSchedule.weekly({ weekDay: 'SUN', hour: 6 }),
 * });
 * new cloudwatch.Alarm(this, 'RecoveryTestFailed', {
 *   metric: test.metricRecoveryTestSucceeded(),
 *   threshold: 1,
 *   comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
 *   evaluationPeriods: 1,
 * });
 */
export class RecoveryTest extends Construct {
  /** The recovery-test state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** Where the outcome of every test is published. */
  public readonly notificationTopic: sns.ITopic;
  /** The security group of the scratch database (ingress on 5432 from the Lambdas only). */
  public readonly scratchSecurityGroup: ec2.SecurityGroup;
  /** The security group of the recovery-test Lambdas. */
  public readonly lambdaSecurityGroup: ec2.SecurityGroup;
  /** The DB subnet group of the scratch database. */
  public readonly scratchSubnetGroup: rds.SubnetGroup;
  /** The schedule, unless disabled. */
  public readonly schedule?: scheduler.Schedule;
  /** Picks the backup to test (newest usable, named, or random within N days). */
  public readonly pickFunction: lambda.Function;
  /** Creates, waits for and deletes the scratch database and its secret. */
  public readonly scratchFunction: lambda.Function;
  /** pg_restore of the dump into the scratch database (dump backups only). */
  public readonly restoreFunction?: lambda.Function;
  /** The restore's Fargate task, when testing dumps with `BackupRunner.fargate`. */
  public readonly restoreTask?: RunnerTask;
  /** Checks the restored database: row counts against the manifest (dumps) or tables present, and validation queries. */
  public readonly verifyFunction: lambda.Function;
  /** Writes the recovery-test report and decides the run's outcome. */
  public readonly reportFunction: lambda.Function;
  /** The source name used in keys and metrics. */
  public readonly sourceName: string;
  /** Which backups are tested. */
  public readonly backups: TestedBackups;
  /** The bucket the backups are read from and the reports written to. */
  public readonly bucket: IBackupBucket;
  /** When the test runs by itself. */
  public readonly testSchedule: RecoveryTestSchedule;
  /** The RPO a test's data age is checked against, when set. */
  public readonly rpo?: Duration;
  /** The RTO a test's measured RTO is checked against, when set. */
  public readonly rto?: Duration;

  constructor(scope: Construct, id: string, props: RecoveryTestProps) {
    super(scope, id);
    const backups = props.backups ?? TestedBackups.dumps();
    this.backups = backups;
    this.sourceName = props.sourceName;
    this.bucket = props.bucket;
    this.testSchedule = props.schedule ?? RecoveryTestSchedule.weekly();
    this.rpo = props.rpo;
    this.rto = props.rto;
    const invalid = (message: string, cause?: unknown) => new ConfigurationError(message, this, { subject: 'RecoveryTest', cause });
    validateProps(props, backups, invalid);
    const stack = Stack.of(this);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const operations = new Operations(this, 'Default', {
      vpc: props.vpc,
      keyPurpose: 'recovery test logs and notifications',
      encryptionKey: props.encryptionKey,
      topicDisplayName: `cdk-backup-dr recovery tests of ${props.sourceName}`,
      notificationTopic: props.notificationTopic,
      lambdaSecurityGroupDescription: 'recovery-test Lambdas (S3, Secrets Manager, RDS APIs; scratch database)',
    });
    const key = operations.key;
    this.notificationTopic = operations.notificationTopic;
    this.lambdaSecurityGroup = operations.lambdaSecurityGroup;

    // --- network ---------------------------------------------------------------------------------------------------
    const scratchSubnets = props.scratchSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    checkDatabaseSubnets(props.vpc, scratchSubnets, 'scratchSubnets', invalid);
    this.scratchSubnetGroup = new rds.SubnetGroup(this, 'ScratchSubnetGroup', {
      vpc: props.vpc,
      vpcSubnets: scratchSubnets,
      description: `cdk-backup-dr recovery test scratch databases of ${props.sourceName}`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.scratchSecurityGroup = operations.addDatabaseSecurityGroup(
      'ScratchSecurityGroup',
      'scratch databases, reachable only from the recovery-test Lambdas',
      'recovery-test Lambdas to the scratch database',
    );

    // --- functions -------------------------------------------------------------------------------------------------
    const common = {
      vpc: props.vpc,
      vpcSubnets: props.lambdaSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.lambdaSecurityGroup],
      logsKey: key,
      logRetention,
    };
    const backupObjects = `postgres/${props.sourceName}/*`;
    const arn = (resource: string, resourceName: string, service = 'rds') =>
      stack.formatArn({ service, resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const scratchSecrets = arn('secret', `${SCRATCH_SECRET_PREFIX}*`, 'secretsmanager');
    const wildcards = new Map<lambda.Function | RunnerTask, AcknowledgedWildcard[]>();
    const note = (fn: lambda.Function | RunnerTask, ...items: AcknowledgedWildcard[]) => wildcards.set(fn, [...(wildcards.get(fn) ?? []), ...items]);
    const backupObjectsWildcard = (): AcknowledgedWildcard => ({
      resourceOrAction: `${props.bucket.bucket.bucketArn}/${backupObjects}`,
      reason: `Backups are new objects every night under postgres/${props.sourceName}/; read access is limited to that source's prefix.`,
    });
    const scratchSecretsWildcard: AcknowledgedWildcard = {
      resourceOrAction: scratchSecrets,
      reason: `Each test creates its own secret ${SCRATCH_SECRET_PREFIX}<scratch name>; access is limited to that prefix, which holds only throw-away scratch passwords.`,
    };

    const pickEnv: Record<string, string> = { BUCKET_NAME: props.bucket.bucket.bucketName, SOURCE_ID: props.sourceName };
    if (backups.database !== undefined && backups.kind === 'dump') pickEnv.DATABASE = backups.database;
    if (backups.kind === 'snapshot') {
      pickEnv.SNAPSHOT_KIND = backups.scratchResource;
      pickEnv.SNAPSHOT_SOURCE_IDENTIFIER = backups.snapshotSourceIdentifier ?? '';
    }
    if (props.rpo) pickEnv.RPO_SECONDS = String(props.rpo.toSeconds());
    this.pickFunction = new HandlerFunction(this, 'PickFunction', {
      ...common,
      handlerName: 'recovery-pick',
      description: `cdk-backup-dr: picks the ${backups.kind} of ${props.sourceName} a recovery test restores`,
      timeout: Duration.minutes(2),
      environment: pickEnv,
    });
    if (backups.kind === 'dump') {
      props.bucket.grantReadBackups(this.pickFunction, backupObjects);
      note(this.pickFunction, backupObjectsWildcard());
    } else {
      const isCluster = backups.scratchResource === 'cluster';
      const ownSnapshots = arn(isCluster ? 'cluster-snapshot' : 'snapshot', `${SNAPSHOT_ID_PREFIX}*`);
      this.pickFunction.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'DescribeOwnSnapshots',
          actions: [isCluster ? 'rds:DescribeDBClusterSnapshots' : 'rds:DescribeDBSnapshots'],
          resources: [arn(isCluster ? 'cluster' : 'db', backups.snapshotSourceIdentifier ?? ''), ownSnapshots],
        }),
      );
      note(this.pickFunction, {
        resourceOrAction: ownSnapshots,
        reason: `The backup workflow names its snapshots ${SNAPSHOT_ID_PREFIX}<source>-<time>; the pick only describes those (read-only).`,
      });
    }

    const instanceType = props.scratchInstanceType ?? (backups.scratchResource === 'cluster' ? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM) : ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO));
    const scratchEnv: Record<string, string> = {
      SCRATCH_SUBNET_GROUP_NAME: this.scratchSubnetGroup.subnetGroupName,
      SCRATCH_SECURITY_GROUP_IDS: this.scratchSecurityGroup.securityGroupId,
      SCRATCH_INSTANCE_CLASS: `db.${instanceType.toString()}`,
    };
    if (backups.kind === 'dump') {
      scratchEnv.SCRATCH_ENGINE_VERSION = String(props.postgresVersion);
      scratchEnv.SCRATCH_ALLOCATED_STORAGE_GIB = String(props.scratchAllocatedStorageGiB ?? 20);
    }
    this.scratchFunction = new HandlerFunction(this, 'ScratchFunction', {
      ...common,
      handlerName: 'scratch',
      description: `cdk-backup-dr: creates and deletes the scratch databases of ${props.sourceName} recovery tests`,
      timeout: Duration.minutes(1),
      environment: scratchEnv,
    });
    note(this.scratchFunction, ...this.grantScratch(this.scratchFunction, backups, arn, scratchSecrets));

    const readScratchSecret = (fn: lambda.Function | RunnerTask) => {
      fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadScratchSecrets', actions: ['secretsmanager:GetSecretValue'], resources: [scratchSecrets] }));
      note(fn, scratchSecretsWildcard);
    };

    if (backups.kind === 'dump') {
      const fargate = props.runner?.fargateSettings;
      let restorer: lambda.Function | RunnerTask;
      if (fargate) {
        restorer = this.restoreTask = new RunnerTask(this, 'RestoreTask', {
          handlerName: 'restore',
          description: `pg_restore of a ${props.sourceName} dump streamed from S3 into a scratch database`,
          settings: fargate,
          postgresVersion: props.postgresVersion as number,
          vpc: props.vpc,
          vpcSubnets: props.lambdaSubnets,
          securityGroup: this.lambdaSecurityGroup,
          logsKey: key,
          logRetention,
          environment: { BUCKET_NAME: props.bucket.bucket.bucketName },
        });
      } else {
        restorer = this.restoreFunction = createRestoreFunction(this, 'RestoreFunction', {
          ...common,
          description: `cdk-backup-dr: pg_restore of a ${props.sourceName} dump streamed from S3 into a scratch database`,
          // validateProps requires the layer for dumps on Lambda.
          pgToolsLayer: props.pgToolsLayer as lambda.ILayerVersion,
          bucketName: props.bucket.bucket.bucketName,
          memorySize: props.runner?.memorySize ?? props.restoreMemorySize,
        });
      }
      props.bucket.grantReadBackups(restorer, backupObjects);
      note(restorer, backupObjectsWildcard());
      readScratchSecret(restorer);

      this.verifyFunction = new HandlerFunction(this, 'VerifyFunction', {
        ...common,
        handlerName: 'restore-verify',
        description: `cdk-backup-dr: compares a restored ${props.sourceName} dump with its manifest and runs the validation queries`,
        timeout: LAMBDA_MAX_TIMEOUT,
        memorySize: 512,
        environment: { BUCKET_NAME: props.bucket.bucket.bucketName, PG_TOOLS_LIB_DIR: PgToolsLayer.LIB_DIR },
      });
      props.bucket.grantReadBackups(this.verifyFunction, backupObjects);
      note(this.verifyFunction, backupObjectsWildcard());
    } else {
      this.verifyFunction = new HandlerFunction(this, 'VerifyFunction', {
        ...common,
        handlerName: 'recovery-verify',
        description: `cdk-backup-dr: checks a restored ${props.sourceName} snapshot with the validation queries`,
        timeout: LAMBDA_MAX_TIMEOUT,
        memorySize: 512,
      });
    }
    readScratchSecret(this.verifyFunction);

    this.reportFunction = new HandlerFunction(this, 'ReportFunction', {
      ...common,
      handlerName: 'recovery-report',
      description: `cdk-backup-dr: recovery test reports and metrics for ${props.sourceName}`,
      environment: {
        BUCKET_NAME: props.bucket.bucket.bucketName,
        BUCKET_KMS_KEY_ARN: props.bucket.encryptionKey.keyArn,
        SOURCE_ID: props.sourceName,
        ...rtoEnvironment(props),
      },
    });
    props.bucket.grantWriteBackups(this.reportFunction, `${RECOVERY_REPORT_PREFIX}*`);
    note(this.reportFunction, {
      resourceOrAction: `${props.bucket.bucket.bucketArn}/${RECOVERY_REPORT_PREFIX}*`,
      reason: `Every run writes a new report under ${RECOVERY_REPORT_PREFIX}<date>/; write access is limited to that prefix.`,
    });

    const network = new FunctionNetwork(this, {
      vpc: props.vpc,
      subnets: common.vpcSubnets,
      securityGroup: this.lambdaSecurityGroup,
      vpcEndpoints: props.vpcEndpoints ?? false,
      subject: 'RecoveryTest',
    });
    network.register(this.pickFunction, [backups.kind === 'dump' ? AwsApi.S3 : AwsApi.RDS]);
    network.register(this.scratchFunction, [AwsApi.RDS, AwsApi.SECRETS_MANAGER]);
    const restorer = this.restoreFunction ?? this.restoreTask;
    if (restorer) network.register(restorer, [AwsApi.S3, AwsApi.SECRETS_MANAGER, ...(restorer === this.restoreTask ? RUNNER_TASK_APIS : [])]);
    network.register(this.verifyFunction, backups.kind === 'dump' ? [AwsApi.S3, AwsApi.SECRETS_MANAGER] : [AwsApi.SECRETS_MANAGER]);
    network.register(this.reportFunction, [AwsApi.S3]);

    // --- state machine ---------------------------------------------------------------------------------------------
    const workflow = new RecoveryTestWorkflow(this, 'Workflow', {
      sourceName: this.sourceName,
      kind: backups.kind,
      scratchResource: backups.scratchResource,
      pickFunction: this.pickFunction,
      scratchFunction: this.scratchFunction,
      restoreFunction: this.restoreFunction,
      restoreTask: this.restoreTask,
      verifyFunction: this.verifyFunction,
      reportFunction: this.reportFunction,
      notificationTopic: this.notificationTopic,
      snapshotDatabase: backups.kind === 'snapshot' ? backups.database : undefined,
      validationQueries: props.validationQueries,
      restoreRoles: props.restoreRoles,
      logsKey: key,
      logRetention,
      scratchWaitTimeout: props.scratchWaitTimeout,
      cleanupTimeout: props.cleanupTimeout,
      timeout: requiredTimeout(props, backups),
    });
    this.stateMachine = workflow.stateMachine;
    this.restoreTask?.grantAnswer(this.stateMachine);

    const schedule = this.testSchedule;
    if (schedule.enabled) {
      const scheduleRole = createScheduleRole(this, 'ScheduleRole', `EventBridge Scheduler starts the ${props.sourceName} recovery test`);
      this.schedule = new scheduler.Schedule(this, 'Schedule', {
        description: `cdk-backup-dr ${props.sourceName}: recovery test of the newest ${backups.kind}`,
        schedule: schedule.toScheduleExpression(),
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          role: scheduleRole,
          input: scheduler.ScheduleTargetInput.fromObject({ selection: { latest: true } }),
          retryAttempts: 3,
        }),
      });
    }

    // --- acknowledged findings (HandlerFunction and the workflow acknowledge what every function/machine has) -------
    for (const [fn, items] of wildcards) {
      for (const item of items) acknowledgeWildcardResource(fn, item.resourceOrAction, item.reason);
    }
    acknowledgeStateMachineFindings(
      this.stateMachine,
      [this.pickFunction, this.scratchFunction, this.restoreFunction, this.verifyFunction, this.reportFunction].filter(
        (fn): fn is lambda.Function => fn !== undefined,
      ),
      this.restoreTask ? [this.restoreTask] : [],
    );
  }

  /** Whether a test passed (1) or failed (0), per run; from the report Lambda's EMF metrics. */
  public metricRecoveryTestSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(RECOVERY_TEST_METRICS.succeeded, 'Minimum', props);
  }

  /** The measured RTO of successful tests: scratch creation to verification done, seconds. */
  public metricRestoreDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(RECOVERY_TEST_METRICS.restoreDurationSeconds, 'Maximum', props);
  }

  /** The age of the restored data at test time (the achieved RPO), seconds. */
  public metricBackupAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(RECOVERY_TEST_METRICS.backupAgeSeconds, 'Maximum', props);
  }

  /** Failed executions of the state machine (including those that failed before writing a report). */
  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed(props);
  }

  /** The measured RTO of every test whose verification ran, passed or not, seconds (compare with `rto`). */
  public metricRto(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(RECOVERY_TEST_METRICS.rtoSeconds, 'Maximum', props);
  }

  /** Lets `grantee` start a recovery test by hand. */
  public grantStartRecoveryTest(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private metric(metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return packageMetric(metricName, { [METRIC_DIMENSIONS.source]: this.sourceName }, { period: Duration.days(1), statistic }, props);
  }

  /**
   * The scratch Lambda's permissions: create/restore, describe, modify and delete only `cdkbdr-rt-*` databases
   * (create only with the recovery-test purpose tag, modify/delete only when they carry it), in this construct's
   * subnet group, from the backup workflow's own snapshots; and the `cdk-backup-dr/scratch/*` secrets.
   * Returns the wildcards it needed.
   */
  private grantScratch(
    fn: lambda.Function,
    backups: TestedBackups,
    arn: (resource: string, resourceName: string, service?: string) => string,
    scratchSecrets: string,
  ): AcknowledgedWildcard[] {
    const scratchDb = arn('db', `${SCRATCH_ID_PREFIX}*`);
    const scratchCluster = arn('cluster', `${SCRATCH_ID_PREFIX}*`);
    const subnetGroup = arn('subgrp', this.scratchSubnetGroup.subnetGroupName);
    const defaultParameterGroups = arn('pg', 'default.*');
    const defaultOptionGroups = arn('og', 'default:*');
    const defaultClusterParameterGroups = arn('cluster-pg', 'default.*');
    const ownSnapshots = arn('snapshot', `${SNAPSHOT_ID_PREFIX}*`);
    const ownClusterSnapshots = arn('cluster-snapshot', `${SNAPSHOT_ID_PREFIX}*`);
    const isCluster = backups.scratchResource === 'cluster';
    const purposeRequested = { StringEquals: { 'aws:RequestTag/cdk-backup-dr:purpose': 'recovery-test' } };
    const purposeTagged = { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:purpose': 'recovery-test' } };
    const scratch = isCluster ? [scratchDb, scratchCluster] : [scratchDb];

    const createActions: string[] = [];
    const createResources = [scratchDb, subnetGroup, defaultParameterGroups, defaultOptionGroups];
    const used: AcknowledgedWildcard[] = [];
    const reason = {
      scratch: `Each test creates its own database named ${SCRATCH_ID_PREFIX}<execution>-<hash>; access is limited to that prefix and, for changes, to resources tagged cdk-backup-dr:purpose=recovery-test.`,
      groups: 'RDS checks the default parameter/option groups a new database uses; their names depend on the engine version (default.postgres16, default:postgres-16).',
      snapshots: `The backup workflow names its snapshots ${SNAPSHOT_ID_PREFIX}<source>-<time>; only those can be restored.`,
    };
    used.push({ resourceOrAction: scratchDb, reason: reason.scratch });
    used.push({ resourceOrAction: defaultParameterGroups, reason: reason.groups }, { resourceOrAction: defaultOptionGroups, reason: reason.groups });
    if (backups.kind === 'dump') {
      createActions.push('rds:CreateDBInstance');
    } else if (!isCluster) {
      createActions.push('rds:RestoreDBInstanceFromDBSnapshot');
      createResources.push(ownSnapshots);
      used.push({ resourceOrAction: ownSnapshots, reason: reason.snapshots });
    } else {
      createActions.push('rds:RestoreDBClusterFromSnapshot', 'rds:CreateDBInstance');
      createResources.push(scratchCluster, ownClusterSnapshots, defaultClusterParameterGroups);
      used.push(
        { resourceOrAction: scratchCluster, reason: reason.scratch },
        { resourceOrAction: ownClusterSnapshots, reason: reason.snapshots },
        { resourceOrAction: defaultClusterParameterGroups, reason: reason.groups },
      );
    }
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'CreateScratchDatabase', actions: createActions, resources: createResources, conditions: purposeRequested }));
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'TagScratchDatabase', actions: ['rds:AddTagsToResource'], resources: scratch, conditions: purposeRequested }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DescribeScratchDatabase',
        actions: isCluster ? ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'] : ['rds:DescribeDBInstances'],
        resources: scratch,
      }),
    );
    const changeActions = isCluster
      ? ['rds:DeleteDBInstance', 'rds:DeleteDBCluster', 'rds:ModifyDBCluster']
      : backups.kind === 'snapshot'
        ? ['rds:DeleteDBInstance', 'rds:ModifyDBInstance']
        : ['rds:DeleteDBInstance'];
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ChangeOwnScratchDatabase', actions: changeActions, resources: scratch, conditions: purposeTagged }));
    if (backups.snapshotEncryptionKey) {
      grantRdsKeyUse(fn, backups.snapshotEncryptionKey, 'RestoreEncryptedSnapshots', 'the tested snapshots');
    }
    // The ownership tags the scratch handler writes on its secret: created only with them, deleted only when they are there.
    const ownSecret = (tag: 'aws:RequestTag' | 'aws:ResourceTag') => ({
      StringEquals: { [`${tag}/${PURPOSE_TAG}`]: RECOVERY_TEST_PURPOSE, [`${tag}/${CREATOR_TAG}`]: CREATOR_TAG_VALUE },
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'CreateScratchSecrets', actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'], resources: [scratchSecrets], conditions: ownSecret('aws:RequestTag') }),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'DescribeScratchSecrets', actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resources: [scratchSecrets] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'DeleteOwnScratchSecrets', actions: ['secretsmanager:DeleteSecret'], resources: [scratchSecrets], conditions: ownSecret('aws:ResourceTag') }));
    used.push({
      resourceOrAction: scratchSecrets,
      reason: `Each test creates, reads and deletes its own secret ${SCRATCH_SECRET_PREFIX}<scratch name>; access is limited to that prefix, creation and deletion to secrets tagged ${PURPOSE_TAG}=${RECOVERY_TEST_PURPOSE} and ${CREATOR_TAG}=${CREATOR_TAG_VALUE}.`,
    });
    return used;
  }
}

function validateProps(props: RecoveryTestProps, backups: TestedBackups, invalid: InvalidProps): void {
  if (!Token.isUnresolved(props.sourceName) && !isSourceName(props.sourceName)) {
    throw invalid(`sourceName ${SOURCE_NAME_HINT} (the name the backups are written under); got ${JSON.stringify(props.sourceName)}.`);
  }
  if (props.runner?.kind === 'fargate') {
    if (backups.kind !== 'dump') throw invalid('runner: BackupRunner.fargate runs the restore of a dump; a snapshot test restores no dump, so remove runner.');
    if (props.pgToolsLayer) throw invalid(`pgToolsLayer is for the restore Lambda, but runner is BackupRunner.fargate (its image installs the client tools of postgresVersion); remove pgToolsLayer.`);
    if (props.restoreMemorySize !== undefined) throw invalid('restoreMemorySize sizes the restore Lambda, but runner is BackupRunner.fargate; remove restoreMemorySize and size the task with BackupRunner.fargate({ cpu, memoryLimitMiB }).');
  }
  if (backups.kind === 'dump') {
    if (!props.pgToolsLayer && props.runner?.kind !== 'fargate') throw invalid('testing dumps needs pgToolsLayer (a PgToolsLayer with pg_restore at least as new as the dumps\' pg_dump).');
    if (props.postgresVersion === undefined) {
      throw invalid('testing dumps needs postgresVersion, the major version of the scratch instance the dump is restored into (the source\'s major or newer).');
    }
  }
  if (props.postgresVersion !== undefined && (!Number.isInteger(props.postgresVersion) || props.postgresVersion < 11 || props.postgresVersion > 99)) {
    throw invalid(`postgresVersion must be a PostgreSQL major version such as 16; got ${props.postgresVersion}.`);
  }
  const storage = props.scratchAllocatedStorageGiB;
  if (storage !== undefined && (!Number.isInteger(storage) || storage < 20 || storage > 65536)) {
    throw invalid(`scratchAllocatedStorageGiB must be a whole number from 20 to 65536; got ${storage}.`);
  }
  checkRestoreMemorySize(props.restoreMemorySize, 'restoreMemorySize', invalid);
  checkValidationQueries(props.validationQueries, invalid);
  if (props.restoreRoles && backups.kind !== 'dump') {
    throw invalid('restoreRoles applies to dump recovery tests only (a snapshot carries its roles); remove it.');
  }
  checkRpo(props.rpo, invalid);
  checkRto(props, invalid);
  checkWaitTimeouts({ scratchWaitTimeout: props.scratchWaitTimeout, cleanupTimeout: props.cleanupTimeout }, SCRATCH_POLL_INTERVAL, invalid);
  if (backups.kind === 'snapshot' && backups.database !== undefined && !isDatabaseName(backups.database)) {
    throw invalid(`the snapshot database ${DATABASE_NAME_HINT}.`);
  }
}

/**
 * The state machine's timeout: every bounded wait plus the Lambdas' timeouts plus a margin, so the execution can
 * never be stopped by its own timeout before the cleanup has run.
 */
function requiredTimeout(props: RecoveryTestProps, backups: TestedBackups): Duration {
  const wait = (props.scratchWaitTimeout ?? Duration.hours(1)).toMinutes({ integral: false });
  const cleanup = (props.cleanupTimeout ?? Duration.hours(1)).toMinutes({ integral: false });
  const waits = backups.kind === 'snapshot' ? 2 * wait + 10 : wait;
  const restore = props.runner?.fargateSettings?.timeout ?? LAMBDA_MAX_TIMEOUT;
  const lambdas = (backups.kind === 'dump' ? restore.toMinutes() : 0) + LAMBDA_MAX_TIMEOUT.toMinutes();
  return Duration.minutes(Math.ceil(waits + lambdas + cleanup + 30));
}
