import { Annotations, ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
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
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { HandlerFunction, LAMBDA_MAX_TIMEOUT } from '../common/handler-function';
import { Operations } from '../common/operations';
import { acknowledgeWildcardResource, allowDatabasePortFrom } from '../common/nag';
import { grantRdsKeyUse } from '../common/kms-grants';
import { createScheduleRole } from '../common/schedule-role';
import { AwsApi, FunctionNetwork } from '../common/network';
import { BackupRunner, type FargateRunnerSettings } from '../common/backup-runner';
import { RUNNER_TASK_APIS, RunnerTask } from '../common/runner-task';
import { type IBackupBucket, type ReplicaInfo, replicaKeyPolicy } from '../storage/backup-bucket-base';
import { BackupSchedule, SCHEDULE_WARNINGS } from './backup-schedule';
import { BackupSource, validateSourceName } from './backup-source';
import { BackupWorkflow } from './backup-workflow';
import { DumpCompression } from './dump-compression';
import { PgToolsLayer } from './pg-tools-layer';
import { BACKUP_METRICS, METRIC_DIMENSIONS } from '../../lambda/common/metrics';
import { DATABASE_NAME_HINT, isDatabaseName } from '../../lambda/common/names';
import { packageMetric } from '../common/metrics';
import { BackupRetention } from '../retention/backup-retention';
import type { RetentionPolicy } from '../retention/retention-policy';

/** Where RDS snapshots are copied for disaster recovery. */
export interface SnapshotCopyOptions {
  /** The DR region (must differ from the stack's region). */
  readonly region: string;
  /**
   * ARN of the KMS key in the DR region that encrypts the copies (a key id is only known after deployment, so pass
   * the ARN, e.g. `arn:aws:kms:us-west-2:111111111111:alias/backups`). Both key ARNs and alias ARNs are accepted.
   */
  readonly encryptionKeyArn: string;
}

/** Props for {@link PostgresBackup}. */
export interface PostgresBackupProps {
  /** The PostgreSQL server to back up. */
  readonly source: BackupSource;
  /** The databases to dump (one object and manifest each, each in its own invocation of the dump function). */
  readonly databases: string[];
  /**
   * How many databases are dumped at the same time (each takes one connection and one dump Lambda); the rest wait.
   * @default 2
   */
  readonly dumpConcurrency?: number;
  /**
   * The VPC the backup Lambdas run in. They reach the database, and call S3 and Secrets Manager (and RDS for snapshots)
   * in this region, S3 in the DR region to check the replica and RDS there to copy snapshots: the last two only
   * through a NAT route (see `vpcEndpoints` for the rest).
   */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the backup Lambdas.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Create the VPC endpoints of the same-region AWS APIs the backup Lambdas call (an S3 gateway endpoint; interface
   * endpoints with private DNS for Secrets Manager, and RDS when snapshots are on), once per VPC, reachable on 443
   * from the Lambdas. They do not serve the DR region: a replica check or a snapshot copy still needs a NAT route.
   * @default false - the subnets need a route to a NAT gateway, or endpoints you add
   */
  readonly vpcEndpoints?: boolean;
  /** Where dumps, manifests and reports go: a BackupBucket, or one imported with `BackupBucket.fromBucketAttributes`. */
  readonly bucket: IBackupBucket;
  /**
   * Major version of the pg_dump put in the Lambda layer; it must be at least the server's major version
   * (pg_dump refuses to dump a newer server).
   */
  readonly postgresVersion: number;
  /**
   * A layer with pg_dump to use instead of building one (e.g. shared between several backups).
   * @default - a new {@link PgToolsLayer} of `postgresVersion`
   */
  readonly pgToolsLayer?: lambda.ILayerVersion;
  /**
   * A short name of the source used in S3 keys (`postgres/<sourceName>/...`) and as the metrics' `Source` dimension.
   * @default - the RDS instance or cluster identifier, or the endpoint's name
   */
  readonly sourceName?: string;
  /**
   * Whether to take an RDS snapshot each run too (RDS instances and Aurora clusters only).
   * @default - true for an RDS instance or Aurora cluster, false for an endpoint
   */
  readonly snapshots?: boolean;
  /**
   * Copy each snapshot to the DR region.
   * @default - snapshots stay in the primary region
   */
  readonly snapshotCopy?: SnapshotCopyOptions;
  /**
   * When backups run. Schedules that would start a run at the same time are folded into one run with the union of
   * their tiers, or refused at synth ({@link BackupSchedule.foldCoinciding}).
   * @default - [BackupSchedule.daily()]: every day at 03:00 UTC
   */
  readonly schedules?: BackupSchedule[];
  /**
   * Where failures are published.
   * @default - a new KMS-encrypted, TLS-only topic (`notificationTopic`)
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * How long Lambda and state machine logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where each dump runs: `BackupRunner.lambda()` (at most 15 minutes per database) or `BackupRunner.fargate({ cpu,
   * memoryLimitMiB })`, an ECS Fargate task in the same subnets and security group, for databases whose dump outgrows
   * Lambda (its image is built by CDK at deploy time: Docker is needed then).
   * @default BackupRunner.lambda({ memorySize: dumpMemorySize })
   */
  readonly runner?: BackupRunner;
  /**
   * Memory of the dump Lambda (with the Lambda runner). About 85% of a dump's CPU is pg_dump's compression and Lambda gives CPU in proportion to
   * memory, so the default is one full vCPU; about 3008 MB lets the upload run beside pg_dump on a second vCPU.
   * The dump itself needs under 150 MB whatever the database size.
   * @default 1769
   */
  readonly dumpMemorySize?: number;
  /**
   * How pg_dump compresses the dumps (recorded in each manifest). gzip works with every `postgresVersion`; zstd and
   * lz4 need 16 or newer. docs/benchmarks.md#compression-level compares the levels.
   * @default DumpCompression.DEFAULT - gzip level 3
   */
  readonly dumpCompression?: DumpCompression;
  /**
   * pg_dump's parallel jobs. 1: one streamed custom-format dump (`pg_dump -Fc`), no disk. 2 or more: a
   * directory-format dump (`pg_dump -Fd -j N`) into the function's /tmp, each table's file uploaded as soon as pg_dump
   * closes it and deleted locally (so /tmp needs room for about N of the largest tables, see
   * `dumpEphemeralStorageSize`); restores then run `pg_restore -j`. Only faster with as many vCPUs as jobs: Lambda
   * gives a second vCPU from 3,538 MB (`dumpMemorySize`). docs/constructs.md#parallel-dumps.
   * @default 1
   */
  readonly dumpParallelism?: number;
  /**
   * The dump function's /tmp (MiB, 512 to 10240). A parallel dump writes its files there until they are uploaded.
   * @default - 512 with dumpParallelism 1 (nothing is written to disk), 10240 with 2 or more
   */
  readonly dumpEphemeralStorageSize?: number;
  /**
   * Which dumps and snapshots to keep: a {@link BackupRetention} cleanup runs daily over the dumps and the snapshots in
   * both regions (the replica bucket in its own run) and deletes the rest.
   * @default - nothing is ever deleted (snapshots then reach RDS's quota of 100 manual snapshots per region)
   */
  readonly retention?: RetentionPolicy;
  /**
   * The policy of the replica bucket's copies.
   * @default - `retention`
   */
  readonly replicaRetention?: RetentionPolicy;
}

/**
 * Backs up a PostgreSQL database: a streamed `pg_dump -Fc` of each database into the {@link BackupBucket} with a
 * manifest and checksum, verified by re-reading it from S3; optionally an RDS/Aurora snapshot copied to the DR
 * region; all driven by the `BackupWorkflow` state machine on EventBridge Scheduler schedules.
 *
 * @example
 * new PostgresBackup(this, 'Backup', {
 *   source: BackupSource.fromInstance(db, { secret: db.secret! }),
 *   databases: ['app'],
 *   vpc,
 *   bucket: backups,
 *   postgresVersion: 15,
 *   snapshotCopy: { region: 'us-west-2', encryptionKeyArn: 'arn:aws:kms:us-west-2:111111111111:alias/dr-snapshots' },
 *   schedules: [BackupSchedule.daily({ hour: 2 }), BackupSchedule.monthly({ day: 1, hour: 4 })],
 * });
 */
export class PostgresBackup extends Construct {
  /** The BackupWorkflow state machine; start it with `{ "tiers": ["daily"] }` for a manual run. */
  public readonly stateMachine: sfn.StateMachine;
  /** The dump Lambda (with the Lambda runner). */
  public readonly dumpFunction?: lambda.Function;
  /** The dump's Fargate task (with `BackupRunner.fargate`). */
  public readonly dumpTask?: RunnerTask;
  /** The verify Lambda (Lambda runner). */
  public readonly verifyFunction?: lambda.Function;
  /**
   * The verify task (Fargate runner): a dump that outgrew Lambda is re-read and re-hashed on the same runner, sized
   * as the dump task, so verification is not bound by Lambda's 15 minutes either.
   */
  public readonly verifyTask?: RunnerTask;
  /** The report Lambda. */
  public readonly reportFunction: lambda.Function;
  /** The snapshot Lambda, when snapshots are on. */
  public readonly snapshotFunction?: lambda.Function;
  /** The security group of the backup Lambdas (allowed into the database). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** Where failures are published. */
  public readonly notificationTopic: sns.ITopic;
  /** The KMS key of the logs and the topic this construct created. */
  public readonly operationsKey: kms.Key;
  /** The source name used in keys and metrics. */
  public readonly sourceName: string;
  /** The schedules, one per {@link BackupSchedule} after folding those that would start together. */
  public readonly schedules: scheduler.Schedule[];
  /** The retention cleanup, when `retention` is set. */
  public readonly retention?: BackupRetention;
  /** Where the dumps, manifests and reports go. */
  public readonly bucket: IBackupBucket;
  /** The shortest time between two scheduled runs (1 day when a daily tier is scheduled). */
  public readonly backupInterval: Duration;

  constructor(scope: Construct, id: string, props: PostgresBackupProps) {
    super(scope, id);
    validateProps(this, props);
    const sourceName = props.sourceName ?? props.source.identifier;
    this.sourceName = sourceName;
    this.bucket = props.bucket;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const snapshotsOn = props.snapshots ?? props.source.supportsSnapshots;

    const operations = new Operations(this, 'Default', {
      vpc: props.vpc,
      keyPurpose: 'logs and notifications',
      topicDisplayName: 'cdk-backup-dr backups',
      notificationTopic: props.notificationTopic,
      lambdaSecurityGroupDescription: 'backup Lambdas (egress to the database, S3, Secrets Manager, KMS)',
      ids: { key: 'OperationsKey', lambdaSecurityGroup: 'SecurityGroup' },
    });
    // No encryptionKey is passed: the key is the one Operations created.
    this.operationsKey = operations.key as kms.Key;
    this.notificationTopic = operations.notificationTopic;
    this.securityGroup = operations.lambdaSecurityGroup;
    if (props.source.connections) allowDatabasePortFrom(props.source.connections, this.securityGroup, 'cdk-backup-dr dump');

    const common = {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [this.securityGroup],
      logsKey: this.operationsKey,
      logRetention,
    };
    const bucketEnv = {
      BUCKET_NAME: props.bucket.bucket.bucketName,
      BUCKET_KMS_KEY_ARN: props.bucket.encryptionKey.keyArn,
      SOURCE_ID: sourceName,
    };

    const runner = props.runner ?? BackupRunner.lambda({ memorySize: props.dumpMemorySize });
    const dumpEnvironment = {
      ...bucketEnv,
      PG_DUMP_PATH: `${PgToolsLayer.BIN_DIR}/pg_dump`,
      PG_DUMPALL_PATH: `${PgToolsLayer.BIN_DIR}/pg_dumpall`,
      PG_TOOLS_LIB_DIR: PgToolsLayer.LIB_DIR,
    };
    // A Fargate task of one handler, in this construct's network, with the bucket's environment.
    const runnerTask = (id: string, handlerName: string, description: string, settings: FargateRunnerSettings) =>
      new RunnerTask(this, id, {
        handlerName,
        description,
        settings,
        postgresVersion: props.postgresVersion,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroup: this.securityGroup,
        logsKey: this.operationsKey,
        logRetention,
        environment: bucketEnv,
      });
    let dumper: lambda.Function | RunnerTask;
    if (runner.fargateSettings) {
      // The image has the tools of postgresVersion at their usual paths (container/Dockerfile), not the layer's.
      dumper = this.dumpTask = runnerTask('DumpTask', 'dump', 'pg_dump streamed into S3 with a manifest and checksum', runner.fargateSettings);
    } else {
      dumper = this.dumpFunction = new HandlerFunction(this, 'DumpFunction', {
        ...common,
        handlerName: 'dump',
        description: 'cdk-backup-dr: pg_dump streamed into S3 with a manifest and checksum',
        timeout: LAMBDA_MAX_TIMEOUT,
        memorySize: runner.memorySize ?? props.dumpMemorySize ?? 1769,
        ...(dumpEphemeralStorage(props) === undefined ? {} : { ephemeralStorageSize: dumpEphemeralStorage(props) }),
        layers: [props.pgToolsLayer ?? new PgToolsLayer(this, 'PgTools', { postgresVersion: props.postgresVersion })],
        environment: dumpEnvironment,
      });
    }
    const sourceObjects = `postgres/${sourceName}/*`;
    props.bucket.grantWriteBackups(dumper, sourceObjects);
    acknowledgeWildcardResource(dumper, props.bucket.bucket.arnForObjects(sourceObjects), 'Writes (and, after a failed manifest write, deletes) dumps and manifests under this source\'s own prefix, whose object names include the run time.');
    // A dump whose manifest could not be written is deleted again, so no half-written backup remains.
    dumper.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:DeleteObjectVersion', 's3:DeleteObject'],
        resources: [props.bucket.bucket.arnForObjects(sourceObjects)],
      }),
    );
    // The size of the completed upload is checked with a HEAD of the version it created, which S3 authorizes as
    // GetObjectVersion (GetObject on an unversioned bucket, where there is no version id).
    dumper.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'CheckUploadedDumps',
        actions: [props.bucket.versioned ? 's3:GetObjectVersion' : 's3:GetObject'],
        resources: [props.bucket.bucket.arnForObjects(sourceObjects)],
      }),
    );
    if (props.bucket.objectLock) {
      // A failed dump in a locked bucket cannot be deleted; its error then says until when the lock holds.
      dumper.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ReadLockOfFailedDumps',
          actions: ['s3:GetObjectRetention'],
          resources: [props.bucket.bucket.arnForObjects(sourceObjects)],
        }),
      );
    }
    // A failed upload that lib-storage could not abort in time is found and aborted by listing the open uploads.
    dumper.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FindOpenUploadsOfFailedDumps',
        actions: ['s3:ListBucketMultipartUploads'],
        resources: [props.bucket.bucket.bucketArn],
      }),
    );
    props.source.secret.grantRead(dumper);
    props.source.caCertificate?.grantRead(dumper);

    let verifier: lambda.Function | RunnerTask;
    if (runner.fargateSettings) {
      // The dump task's cluster: one cluster per PostgresBackup.
      verifier = this.verifyTask = runnerTask('VerifyTask', 'verify', 're-hash dumps from S3 (and the replica) against their manifests', {
        ...runner.fargateSettings,
        cluster: this.dumpTask?.cluster,
      });
    } else {
      verifier = this.verifyFunction = new HandlerFunction(this, 'VerifyFunction', {
        ...common,
        handlerName: 'verify',
        description: 'cdk-backup-dr: re-hash dumps from S3 (and the replica) against their manifests',
        timeout: LAMBDA_MAX_TIMEOUT,
        memorySize: 512,
        environment: bucketEnv,
      });
    }
    props.bucket.grantReadBackups(verifier, sourceObjects);
    acknowledgeWildcardResource(verifier, props.bucket.bucket.arnForObjects(sourceObjects), 'Reads back the dumps and manifests under this source\'s own prefix to re-hash them.');
    // With replication on, verification also checks the DR copy, whether replicateTo() was called before or after.
    const addVerifierEnvironment = (name: string, value: string) =>
      verifier instanceof RunnerTask ? verifier.container.addEnvironment(name, value) : verifier.addEnvironment(name, value);
    props.bucket.onReplication((replica) => {
      addVerifierEnvironment('REPLICA_BUCKET_NAME', replica.bucketName);
      addVerifierEnvironment('REPLICA_REGION', replica.region);
      grantReadReplica(verifier, replica, sourceName);
    });

    this.reportFunction = new HandlerFunction(this, 'ReportFunction', {
      ...common,
      handlerName: 'backup-report',
      description: 'cdk-backup-dr: backup run report in S3 and EMF metrics',
      environment: bucketEnv,
    });
    props.bucket.grantWriteBackups(this.reportFunction, 'reports/backup/*');
    acknowledgeWildcardResource(this.reportFunction, props.bucket.bucket.arnForObjects('reports/backup/*'), 'Writes one report per run under reports/backup/, named by the run time.');

    let snapshotStep;
    if (snapshotsOn) {
      this.snapshotFunction = this.createSnapshotFunction(props, common, sourceName);
      snapshotStep = {
        snapshotFunction: this.snapshotFunction,
        kind: props.source.kind as 'instance' | 'cluster',
        identifier: props.source.identifier,
        copyToDrRegion: props.snapshotCopy !== undefined,
      };
    }

    const network = new FunctionNetwork(this, {
      vpc: props.vpc,
      subnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: this.securityGroup,
      vpcEndpoints: props.vpcEndpoints ?? false,
      subject: 'PostgresBackup',
    });
    network.register(dumper, [AwsApi.S3, AwsApi.SECRETS_MANAGER, ...(dumper instanceof RunnerTask ? RUNNER_TASK_APIS : [])]);
    network.register(verifier, [AwsApi.S3, ...(verifier instanceof RunnerTask ? RUNNER_TASK_APIS : [])]);
    props.bucket.onReplication((replica) => network.register(verifier, [AwsApi.S3.inRegion(replica.region)]));
    network.register(this.reportFunction, [AwsApi.S3]);
    if (this.snapshotFunction) {
      network.register(this.snapshotFunction, props.snapshotCopy ? [AwsApi.RDS, AwsApi.RDS.inRegion(props.snapshotCopy.region)] : [AwsApi.RDS]);
    }

    const workflow = new BackupWorkflow(this, 'Workflow', {
      sourceName,
      dump: {
        dumpFunction: this.dumpFunction,
        dumpTask: this.dumpTask,
        verifyFunction: this.verifyFunction,
        verifyTask: this.verifyTask,
        target: {
          secretArn: props.source.secret.secretArn,
          host: props.source.host,
          port: props.source.port,
          sslMode: props.source.sslMode,
          sslRootCertSecretArn: props.source.caCertificate?.secretArn,
        },
        databases: props.databases,
        maxConcurrency: props.dumpConcurrency,
        compression: (props.dumpCompression ?? DumpCompression.DEFAULT).toString(),
        parallelism: props.dumpParallelism,
      },
      snapshot: snapshotStep,
      reportFunction: this.reportFunction,
      notificationTopic: this.notificationTopic,
      logsKey: this.operationsKey,
      logRetention,
    });
    this.stateMachine = workflow.stateMachine;
    this.dumpTask?.grantAnswer(this.stateMachine);
    this.verifyTask?.grantAnswer(this.stateMachine);

    const { schedules, warnings } = BackupSchedule.foldCoinciding(props.schedules ?? [BackupSchedule.daily()], this);
    for (const warning of warnings) Annotations.of(this).addWarningV2(SCHEDULE_WARNINGS.mayCoincide, warning);
    const scheduleRole = createScheduleRole(this, 'ScheduleRole', `EventBridge Scheduler starts the ${sourceName} backups`);
    const seen = new Set<string>();
    this.schedules = schedules.map((schedule) => {
      const scheduleId = uniqueId(seen, schedule.id);
      return new scheduler.Schedule(this, `Schedule-${scheduleId}`, {
        description: `cdk-backup-dr ${sourceName}: ${schedule.tiers.join('+')} backup`,
        schedule: schedule.toScheduleExpression(),
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          role: scheduleRole,
          input: scheduler.ScheduleTargetInput.fromObject({ tiers: schedule.tiers }),
          retryAttempts: 3,
        }),
      });
    });

    // The most frequent tier scheduled sets the interval the synth checks compare the retention policy with.
    const tiers = new Set(schedules.flatMap((schedule) => schedule.tiers));
    const intervalDays = tiers.has('daily') ? 1 : tiers.has('weekly') ? 7 : tiers.has('monthly') ? 28 : 365;
    this.backupInterval = Duration.days(intervalDays);
    if (props.retention) {
      this.retention = new BackupRetention(this, 'Retention', {
        policy: props.retention,
        replicaPolicy: props.replicaRetention,
        bucket: props.bucket,
        sourceName,
        backupInterval: this.backupInterval,
        orphanGracePeriod: orphanGracePeriodFor(runner),
        ...(snapshotsOn
          ? { snapshots: { kind: props.source.kind as 'instance' | 'cluster', identifier: props.source.identifier, drRegion: props.snapshotCopy?.region } }
          : {}),
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroup: this.securityGroup,
        logsKey: this.operationsKey,
        notificationTopic: this.notificationTopic,
        logRetention,
      });
    }
  }

  /** Whether a backup run succeeded (1) or failed (0), per run; from the report Lambda's EMF metrics. */
  public metricBackupSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.backupMetric(BACKUP_METRICS.succeeded, 'Minimum', props);
  }

  /** Bytes of the dumps of a run. */
  public metricBackupBytes(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.backupMetric(BACKUP_METRICS.bytes, 'Maximum', props);
  }

  /** How long a run took, in seconds. */
  public metricBackupDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.backupMetric(BACKUP_METRICS.durationSeconds, 'Maximum', props);
  }

  /** Epoch seconds of the last successful run; `now - value` is the age of the newest backup. */
  public metricLastSuccessTimestamp(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.backupMetric(BACKUP_METRICS.lastSuccessTimestamp, 'Maximum', props);
  }

  /** Failed workflow executions (including those that failed before any report). */
  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed(props);
  }

  /** Lets `grantee` start a manual backup run. */
  public grantStartBackup(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private backupMetric(metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return packageMetric(metricName, { [METRIC_DIMENSIONS.source]: this.sourceName }, { period: Duration.hours(1), statistic }, props);
  }

  private createSnapshotFunction(
    props: PostgresBackupProps,
    common: Omit<ConstructorParameters<typeof HandlerFunction>[2], 'handlerName' | 'description'>,
    sourceName: string,
  ): lambda.Function {
    const stack = Stack.of(this);
    const environment: Record<string, string> = { SOURCE_ID: sourceName };
    if (props.snapshotCopy) {
      environment.DR_REGION = props.snapshotCopy.region;
      environment.DR_KMS_KEY_ARN = props.snapshotCopy.encryptionKeyArn;
    }
    const fn = new HandlerFunction(this, 'SnapshotFunction', {
      ...common,
      handlerName: 'snapshot',
      description: 'cdk-backup-dr: RDS snapshots and their DR-region copies',
      environment,
    });
    const isCluster = props.source.kind === 'cluster';
    const snapshotResource = isCluster ? 'cluster-snapshot' : 'snapshot';
    const snapshotArn = (region: string) =>
      stack.formatArn({ service: 'rds', region, resource: snapshotResource, resourceName: 'cdkbdr-*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const ownSnapshots = [snapshotArn(stack.region)];
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'CreateOwnSnapshots',
        actions: isCluster ? ['rds:CreateDBClusterSnapshot'] : ['rds:CreateDBSnapshot'],
        resources: [props.source.resourceArn!, ...ownSnapshots],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DescribeAndTagOwnSnapshots',
        actions: [
          isCluster ? 'rds:DescribeDBClusterSnapshots' : 'rds:DescribeDBSnapshots',
          'rds:AddTagsToResource',
          'rds:ListTagsForResource',
        ],
        resources: props.snapshotCopy ? [...ownSnapshots, snapshotArn(props.snapshotCopy.region)] : ownSnapshots,
      }),
    );
    const snapshotReason = 'Only snapshots this package created: their names start with cdkbdr- and end with the run time.';
    for (const arn of props.snapshotCopy ? [...ownSnapshots, snapshotArn(props.snapshotCopy.region)] : ownSnapshots) {
      acknowledgeWildcardResource(fn, arn, snapshotReason);
    }
    if (props.snapshotCopy) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'CopyOwnSnapshotsToDrRegion',
          actions: [isCluster ? 'rds:CopyDBClusterSnapshot' : 'rds:CopyDBSnapshot'],
          resources: [...ownSnapshots, snapshotArn(props.snapshotCopy.region)],
        }),
      );
      grantRdsKeyUse(fn, props.snapshotCopy.encryptionKeyArn, 'EncryptCopiesWithDrKey', 'the DR snapshot copies');
    }
    return fn;
  }
}

function grantReadReplica(fn: lambda.Function | RunnerTask, replica: ReplicaInfo, sourceName: string): void {
  const stack = Stack.of(fn);
  const replicaBucket = `arn:${stack.partition}:s3:::${replica.bucketName}`;
  const replicaObjects = `${replicaBucket}/postgres/${sourceName}/*`;
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'ReadReplicaCopies',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [replicaObjects],
    }),
  );
  // Without it S3 answers the HEAD of a not-yet-replicated copy with 403 instead of 404. Not narrowed with an
  // s3:prefix condition: a HEAD carries no s3:prefix, so such a condition would never let the 404 through.
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'TellMissingReplicaCopies',
      actions: ['s3:ListBucket'],
      resources: [replicaBucket],
    }),
  );
  const replicaKey = replicaKeyPolicy(replica, stack);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'DecryptReplicaCopies',
      actions: ['kms:Decrypt'],
      resources: [replicaKey.resource],
      conditions: replicaKey.conditions,
    }),
  );
  acknowledgeWildcardResource(fn, replicaObjects, "Reads the replicated copies of this source's dumps in the DR bucket to check replication.");
  if (replicaKey.conditions !== undefined) {
    acknowledgeWildcardResource(
      fn,
      replicaKey.resource,
      'The replica key id is only known after the DR stack is deployed; kms:ResourceAliases restricts this to the one key carrying the replica alias.',
    );
  }
}

function uniqueId(seen: Set<string>, base: string): string {
  let id = base;
  for (let i = 2; seen.has(id); i++) id = `${base}-${i}`;
  seen.add(id);
  return id;
}

/** Most parallel jobs a dump may ask for (pg_dump's `-j`, as the dump handler allows). */
const MAX_DUMP_PARALLELISM = 64;

/** Lambda memory from which a function has 2 vCPUs (1,769 MB is one vCPU; 3,538 MB two). */
const TWO_VCPU_MEMORY_MB = 3538;

/** The dump function's ephemeral storage: given, or 10240 MiB for a parallel dump, else Lambda's default. */
/**
 * How old a dump's objects without a manifest must be before retention sweeps them: a day, or longer than one dump can
 * run (a directory dump uploads its files as it goes and writes the manifest last; a Fargate dump may run for its
 * task's whole timeout), plus an hour.
 */
export function orphanGracePeriodFor(runner: BackupRunner): Duration {
  const longestDump = runner.fargateSettings?.timeout ?? LAMBDA_MAX_TIMEOUT;
  return Duration.seconds(Math.max(Duration.days(1).toSeconds(), longestDump.toSeconds() + Duration.hours(1).toSeconds()));
}

function dumpEphemeralStorage(props: PostgresBackupProps): number | undefined {
  if (props.dumpEphemeralStorageSize !== undefined) return props.dumpEphemeralStorageSize;
  return (props.dumpParallelism ?? 1) > 1 ? 10240 : undefined;
}

function validateProps(scope: Construct, props: PostgresBackupProps): void {
  const invalid = (message: string) => new ConfigurationError(message, scope, { subject: 'PostgresBackup' });
  if (props.databases.length === 0) {
    throw invalid(`databases is empty; name at least one database to dump.`);
  }
  const duplicates = props.databases.filter((d, i) => props.databases.indexOf(d) !== i);
  if (duplicates.length > 0) {
    throw invalid(`database(s) ${[...new Set(duplicates)].join(', ')} listed twice; name each once.`);
  }
  for (const db of props.databases) {
    if (!Token.isUnresolved(db) && !isDatabaseName(db)) {
      throw invalid(`database name '${db}' is not valid: it ${DATABASE_NAME_HINT}.`);
    }
  }
  if (props.sourceName !== undefined) validateSourceName(props.sourceName);
  if (props.snapshots === true && !props.source.supportsSnapshots) {
    throw invalid(`snapshots are on but the source is an endpoint; RDS snapshots need BackupSource.fromInstance or fromCluster.`);
  }
  if (props.snapshotCopy) {
    if (props.snapshots === false || !props.source.supportsSnapshots) {
      throw invalid(`snapshotCopy is set but no snapshots are taken; remove snapshotCopy or back up an RDS instance or cluster.`);
    }
    const region = Stack.of(scope).region;
    if (!Token.isUnresolved(region) && props.snapshotCopy.region === region) {
      throw invalid(`snapshotCopy.region is the stack's own region (${region}); copy snapshots to a different (DR) region.`);
    }
  }
  if (props.dumpConcurrency !== undefined && (!Number.isInteger(props.dumpConcurrency) || props.dumpConcurrency < 1 || props.dumpConcurrency > 10)) {
    throw invalid(`dumpConcurrency must be a whole number from 1 to 10 (databases dumped at the same time), got ${props.dumpConcurrency}.`);
  }
  if (!Number.isInteger(props.postgresVersion)) {
    throw invalid(`postgresVersion must be a major version number such as 15, got ${props.postgresVersion}.`);
  }
  if (props.runner?.kind === 'fargate' && props.dumpMemorySize !== undefined) {
    throw invalid(`dumpMemorySize sizes the dump Lambda, but runner is BackupRunner.fargate; remove dumpMemorySize and size the task with BackupRunner.fargate({ cpu, memoryLimitMiB }).`);
  }
  if (props.runner?.kind === 'fargate' && props.pgToolsLayer !== undefined) {
    throw invalid(`pgToolsLayer is for the dump Lambda, but runner is BackupRunner.fargate (its image installs pg_dump ${props.postgresVersion}); remove pgToolsLayer.`);
  }
  if (props.dumpMemorySize !== undefined && (props.dumpMemorySize < 256 || props.dumpMemorySize > 10240)) {
    throw invalid(`dumpMemorySize must be between 256 and 10240 MB, got ${props.dumpMemorySize}.`);
  }
  const compressionProblem = props.dumpCompression?.problemWith(props.postgresVersion);
  if (compressionProblem) throw invalid(compressionProblem);
  const jobs = props.dumpParallelism ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_DUMP_PARALLELISM) {
    throw invalid(`dumpParallelism must be a whole number from 1 (one streamed custom-format dump) to ${MAX_DUMP_PARALLELISM} (pg_dump -Fd -j N), got ${jobs}.`);
  }
  const storage = props.dumpEphemeralStorageSize;
  if (storage !== undefined && (!Number.isInteger(storage) || storage < 512 || storage > 10240)) {
    throw invalid(`dumpEphemeralStorageSize must be a whole number of MiB from 512 to 10240, got ${storage}.`);
  }
  const fargate = props.runner?.fargateSettings;
  if (fargate && storage !== undefined) {
    throw invalid(`dumpEphemeralStorageSize sizes the dump Lambda's /tmp, but runner is BackupRunner.fargate; remove it and size the task's disk with BackupRunner.fargate({ ephemeralStorageGiB }).`);
  }
  if (fargate) {
    const vcpus = fargate.cpu / 1024;
    if (jobs > vcpus) {
      Annotations.of(scope).addWarningV2(
        'cdk-backup-dr:dumpParallelismOneVcpu',
        `dumpParallelism is ${jobs} but the Fargate task has ${vcpus} vCPU: the jobs would share it and the dump would not be faster. ` +
          `Give the task at least ${jobs * 1024} cpu (BackupRunner.fargate({ cpu })), or lower dumpParallelism.`,
      );
    }
    return;
  }
  const memory = props.runner?.memorySize ?? props.dumpMemorySize ?? 1769;
  if (jobs > 1 && memory < TWO_VCPU_MEMORY_MB) {
    Annotations.of(scope).addWarningV2(
      'cdk-backup-dr:dumpParallelismOneVcpu',
      `dumpParallelism is ${jobs} but dumpMemorySize ${memory} MB gives the dump function one vCPU: the jobs would share it ` +
        `and the dump would not be faster. Set dumpMemorySize to at least ${TWO_VCPU_MEMORY_MB} MB (2 vCPUs; about ` +
        `${Math.min(10240, jobs * 1769)} MB for ${jobs}; Lambda has at most 6 vCPUs, at 10240 MB), or dumpParallelism to 1.`,
    );
  }
}
