import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { HandlerFunction, LAMBDA_MAX_TIMEOUT } from '../common/handler-function';
import { checkDatabaseSubnets, checkRpo, checkRto, checkValidationQueries, checkWaitTimeouts, rtoEnvironment, type InvalidProps, type RtoProps } from '../common/validation';
import { Operations } from '../common/operations';
import { acknowledgeWildcardResource, allowDatabasePortFrom } from '../common/nag';
import { grantRdsKeyUse } from '../common/kms-grants';
import { AwsApi, FunctionNetwork } from '../common/network';
import { acknowledgeStateMachineFindings } from '../database/backup-workflow';
import { PgToolsLayer } from '../database/pg-tools-layer';
import { createRestoreFunction } from '../common/restore-function';
import { RUNNER_TASK_APIS, RunnerTask } from '../common/runner-task';
import type { IBackupBucket } from '../storage/backup-bucket-base';
import { RepointTarget } from './failover-repoint';
import { FailoverSource, FailoverStrategy, FailoverStrategyName, GlobalSecondaryAction } from './failover-strategy';
import { FAILOVER_POLL_INTERVAL, FailoverWorkflow } from './failover-workflow';
import { DRY_RUN_TAG, FAILOVER_ID_PREFIX, FAILOVER_REPORT_PREFIX, FAILOVER_SECRET_PREFIX, isDatabaseName, isSourceName, isStateMachineName, SNAPSHOT_ID_PREFIX, STATE_MACHINE_NAME_HINT } from '../../lambda/common/names';
import { FAILOVER_METRICS, METRIC_DIMENSIONS } from '../../lambda/common/metrics';
import type { NewDatabaseSettings } from '../../lambda/failover/config';
import { packageMetric } from '../common/metrics';

/** Props for {@link Failover}. */
export interface FailoverProps extends RtoProps {
  /** The primary database the failover replaces. */
  readonly source: FailoverSource;
  /**
   * The primary's region; must differ from this (the DR) stack's region, except for a Failover of an Aurora cluster
   * whose only strategy is `pointInTime` (Aurora restores to a point in time only in the cluster's own region).
   */
  readonly primaryRegion: string;
  /**
   * The source name the backups are written under (`postgres/<sourceName>/…`, PostgresBackup's `sourceName`) and the
   * metrics' `Source` dimension.
   * @default - the source's RDS identifier (required for FailoverSource.endpoint())
   */
  readonly sourceName?: string;
  /** The database the checks run in, and whose dumps `restore-dump` restores. */
  readonly database: string;
  /** The ways to fail over; the person starting a failover picks one by name. At most one per name. */
  readonly strategies: FailoverStrategy[];
  /**
   * The recovery point objective: a failover whose freshest recovery point is older is refused unless the input says
   * `acceptDataLoss: true`.
   */
  readonly rpo: Duration;
  /**
   * The bucket in this (DR) region that holds the replicated dumps (the replica of the primary's BackupBucket) and
   * receives the reports under `reports/failover/`; a BackupBucket of this app or one imported from the app that owns it
   * (`BackupBucket.fromBucketAttributes`, `SharedBackupResources.importBucket`).
   */
  readonly bucket: IBackupBucket;
  /** The VPC (in this region) of the restored database and the failover Lambdas. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the failover Lambdas: they call RDS, S3, Secrets Manager (and SSM, Route 53 to repoint) and reach the
   * databases on port 5432.
   * @default - the VPC's private subnets with egress
   */
  readonly lambdaSubnets?: ec2.SubnetSelection;
  /**
   * Create the VPC endpoints of the AWS APIs the failover Lambdas call in this region (an S3 gateway endpoint;
   * interface endpoints with private DNS for RDS, Secrets Manager, and SSM for an SSM repoint target), once per VPC,
   * reachable on 443 from the Lambdas. Route 53 (a CNAME repoint target) is a global API no endpoint serves: it needs
   * a NAT route.
   * @default false - the Lambda subnets need a route to a NAT gateway, or endpoints you add
   */
  readonly vpcEndpoints?: boolean;
  /**
   * Subnets of a restored database (a DB subnet group is created from them); at least two Availability Zones.
   * @default - the VPC's isolated subnets
   */
  readonly databaseSubnets?: ec2.SubnetSelection;
  /**
   * Security groups added to a restored database besides the one this construct creates (`databaseSecurityGroup`),
   * e.g. the group your application is allowed into.
   * @default - none
   */
  readonly databaseSecurityGroups?: ec2.ISecurityGroup[];
  /**
   * What the application reads its endpoint from; a real failover updates each (a dry run never does).
   * @default - nothing is repointed (a warning is added): repoint by hand with the endpoint in the report
   */
  readonly repoint?: RepointTarget[];
  /**
   * SQL checks that must return `true` on the new database (and, in a rehearsal of promote-replica, on the replica).
   * @default - none: a dump is checked by its row counts, any other database by having tables
   */
  readonly validationQueries?: ReadonlyArray<{ readonly name: string; readonly sql: string }>;
  /**
   * restore-dump: recreate the source's roles (saved beside the dump) in the new instance before the restore, then
   * restore owners and privileges, so the application's users exist after the failover (passwords are not saved:
   * set them afterwards, see the README, "Roles and globals").
   * @default false - objects belong to the new instance's master user, no GRANTs restored
   */
  readonly restoreRoles?: boolean;
  /**
   * Where the outcome of every run is published.
   * @default - a new KMS-encrypted, TLS-only topic (`notificationTopic`)
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * The KMS key (in this region) the snapshot copies and replicated automated backups are encrypted with — for an
   * Aurora `pointInTime`, the source cluster's key: restoring them needs a grant on it for RDS.
   * @default - none: the copies use a key RDS may use without a grant (e.g. `aws/rds`)
   */
  readonly snapshotEncryptionKey?: kms.IKey;
  /**
   * How many days of automated backups a real failover's new database keeps (it becomes the primary).
   * @default Duration.days(7)
   */
  readonly backupRetention?: Duration;
  /**
   * How long to wait for a restored database to become available, or a promotion to finish.
   * @default Duration.hours(2)
   */
  readonly waitTimeout?: Duration;
  /**
   * How long a dry run's cleanup waits for its database to be deleted.
   * @default Duration.hours(1)
   */
  readonly cleanupTimeout?: Duration;
  /**
   * KMS key of the log groups (and of the topic this construct creates); its policy must let CloudWatch Logs of this
   * region use it.
   * @default - a new key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The state machine's name (1-80 letters, digits, "-" or "_"), for what addresses it by name from another region:
   * PostgresDisasterRecovery's retention cleanup in the primary region keeps the backups its running executions picked.
   * @default - generated by CloudFormation
   */
  readonly stateMachineName?: string;
}

/** One wildcard a policy needs, with the reason it cannot be narrower. */
interface AcknowledgedWildcard {
  readonly resource: string;
  readonly reason: string;
}

/** The grant methods' helpers: the ARN of an RDS (or other) resource of this stack, and noting a wildcard. */
interface PolicyHelpers {
  readonly arn: (resource: string, resourceName: string, service?: string) => string;
  readonly note: (fn: lambda.Function, ...items: AcknowledgedWildcard[]) => void;
}

/**
 * The failover state machine, run by a person on a bad day (and rehearsed with `dryRun: true`): it brings the
 * database back in this (DR) region by the strategy named in the input — promote the cross-region read replica (or
 * the Aurora global secondary), restore the newest snapshot copy, restore the newest dump, or restore to a point in
 * time — verifies it with the same checks as the RecoveryTest, repoints the application (SSM parameters, secrets,
 * a Route 53 CNAME; previous values kept in the report for the failback), writes a report to
 * `reports/failover/…`, publishes FailoverSucceeded / FailoverDurationSeconds (measured RTO) / DataLossWindowSeconds,
 * and notifies SNS.
 *
 * The input is validated before anything is touched; the preflight refuses a recovery point older than the RPO unless
 * `acceptDataLoss: true`. A dry run never promotes or repoints and deletes everything it created (only resources
 * tagged `cdk-backup-dr:dry-run=true` can be deleted, by tag check and by IAM). New databases are named
 * `cdkbdr-fo-<execution>-<hash>`; their master credentials go into a new secret `cdk-backup-dr/failover/<name>`.
 *
 * Lives in the DR region's stack. Start it with
 * `aws stepfunctions start-execution --state-machine-arn <arn> --input '{"strategy":"restore-snapshot","dryRun":true,"reason":"quarterly rehearsal"}'`.
 *
 * @example
 * const failover = new Failover(drStack, 'Failover', {
 *   source: FailoverSource.instance('prod-db'),
 *   primaryRegion: 'us-east-1',
 *   database: 'app',
 *   strategies: [
 *     FailoverStrategy.restoreSnapshot({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) }),
 *     FailoverStrategy.restoreDump({ engineVersion: rds.PostgresEngineVersion.VER_16_4, instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) }),
 *   ],
 *   rpo: Duration.hours(26),
 *   bucket: replicaBucket,
 *   vpc: drVpc,
 *   repoint: [RepointTarget.ssmParameter('/app/database/endpoint'), RepointTarget.cnameRecord(zone, 'db.example.internal')],
 *   validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM app.orders' }],
 * });
 * failover.grantStartFailover(onCallRole);
 */
export class Failover extends Construct {
  /** The failover state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** Where the outcome of every run is published. */
  public readonly notificationTopic: sns.ITopic;
  /** The security group of the failover Lambdas. */
  public readonly lambdaSecurityGroup: ec2.SecurityGroup;
  /** The security group of a restored database (5432 from the failover Lambdas); allow your application into it. */
  public readonly databaseSecurityGroup: ec2.SecurityGroup;
  /** The DB subnet group of a restored database (absent when only promote-replica is configured). */
  public readonly databaseSubnetGroup?: rds.SubnetGroup;
  /** Validates the input and checks the DR region and the recovery point against the RPO, before anything changes. */
  public readonly preflightFunction: lambda.Function;
  /** Creates, promotes, waits for and (after a dry run) deletes the DR database and its secret. */
  public readonly actFunction: lambda.Function;
  /** Writes the failover report and decides the run's outcome. */
  public readonly reportFunction: lambda.Function;
  /** Points the application at the new database (absent when no repoint target is configured). */
  public readonly repointFunction?: lambda.Function;
  /** pg_restore of the newest dump into the new database (restore-dump only). */
  public readonly restoreFunction?: lambda.Function;
  /** The restore's Fargate task (restore-dump with `runner: BackupRunner.fargate`). */
  public readonly restoreTask?: RunnerTask;
  /** restore-verify (restore-dump). */
  public readonly dumpVerifyFunction?: lambda.Function;
  /** recovery-verify (every other strategy). */
  public readonly verifyFunction?: lambda.Function;
  /** The source name of keys and metrics. */
  public readonly sourceName: string;
  /** The configured strategy names. */
  public readonly strategyNames: readonly FailoverStrategyName[];
  /** The bucket the backups are read from and the reports written to. */
  public readonly bucket: IBackupBucket;
  /** The RTO a run's measured RTO is checked against, when set. */
  public readonly rto?: Duration;
  /** KMS key of the log groups (and of the topic, when this construct created it): the one given, or the one created. */
  public readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: FailoverProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const sourceName = props.sourceName ?? props.source.identifier ?? '';
    this.sourceName = sourceName;
    this.bucket = props.bucket;
    this.rto = props.rto;
    const invalid = (message: string, cause?: unknown) => new ConfigurationError(message, this, { subject: 'Failover', cause });
    validateProps(this, props, sourceName, invalid);
    this.strategyNames = props.strategies.map((s) => s.name);
    const has = (name: FailoverStrategyName) => this.strategyNames.includes(name);
    const strategy = (name: FailoverStrategyName) => props.strategies.find((s) => s.name === name)?._options;
    const restores = this.strategyNames.filter((n) => n !== 'promote-replica');
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const arn = (resource: string, resourceName: string, service = 'rds') =>
      stack.formatArn({ service, resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const wildcards: Array<{ fn: lambda.Function | RunnerTask; item: AcknowledgedWildcard }> = [];
    const note = (fn: lambda.Function | RunnerTask, ...items: AcknowledgedWildcard[]) => items.forEach((item) => wildcards.push({ fn, item }));

    const operations = new Operations(this, 'Default', {
      vpc: props.vpc,
      keyPurpose: 'failover logs and notifications',
      encryptionKey: props.encryptionKey,
      topicDisplayName: `cdk-backup-dr failover of ${sourceName}`,
      notificationTopic: props.notificationTopic,
      lambdaSecurityGroupDescription: 'failover Lambdas (RDS, S3, Secrets Manager, SSM, Route 53 APIs; databases on 5432)',
    });
    const key = operations.key;
    this.encryptionKey = key;
    this.notificationTopic = operations.notificationTopic;
    this.lambdaSecurityGroup = operations.lambdaSecurityGroup;

    // --- network ---------------------------------------------------------------------------------------------------
    this.databaseSecurityGroup = operations.addDatabaseSecurityGroup('DatabaseSecurityGroup', 'databases restored by a failover', 'failover Lambdas to the restored database');
    if (restores.length > 0) {
      const subnets = props.databaseSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
      checkDatabaseSubnets(props.vpc, subnets, 'databaseSubnets', invalid);
      this.databaseSubnetGroup = new rds.SubnetGroup(this, 'DatabaseSubnetGroup', {
        vpc: props.vpc,
        vpcSubnets: subnets,
        description: `cdk-backup-dr databases restored by a failover of ${sourceName}`,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
    const replicaOptions = strategy('promote-replica')?.replica;
    const globalOptions = strategy('promote-replica')?.global;
    if (replicaOptions) allowDatabasePortFrom(replicaOptions.replica.connections, this.lambdaSecurityGroup, 'cdk-backup-dr failover Lambdas (lag, checks)');
    if (globalOptions) allowDatabasePortFrom(globalOptions.secondary.connections, this.lambdaSecurityGroup, 'cdk-backup-dr failover Lambdas (lag, checks)');

    // --- configuration shared by the handlers ----------------------------------------------------------------------
    const config: Record<string, string> = {
      SOURCE_ID: sourceName,
      SOURCE_KIND: props.source.kind,
      PRIMARY_REGION: props.primaryRegion,
      RPO_SECONDS: String(props.rpo.toSeconds()),
      STRATEGIES: this.strategyNames.join(','),
      DATABASE: props.database,
    };
    if (props.source.identifier !== undefined) config.SOURCE_IDENTIFIER = props.source.identifier;
    if (has('restore-dump')) config.BUCKET_NAME = props.bucket.bucket.bucketName;
    if (this.databaseSubnetGroup) config.DB_SUBNET_GROUP = this.databaseSubnetGroup.subnetGroupName;
    const replicaSecret = replicaOptions?.credentials ?? globalOptions?.credentials;
    if (replicaOptions) {
      Object.assign(config, { REPLICA_KIND: 'instance', REPLICA_IDENTIFIER: replicaOptions.replica.instanceIdentifier, REPLICA_SECRET_ARN: replicaOptions.credentials.secretArn });
      if (replicaOptions.lagQuery !== undefined) config.REPLICA_LAG_SQL = replicaOptions.lagQuery;
    }
    if (globalOptions) {
      Object.assign(config, {
        REPLICA_KIND: 'global-cluster',
        REPLICA_IDENTIFIER: globalOptions.secondary.clusterIdentifier,
        GLOBAL_CLUSTER_IDENTIFIER: globalOptions.globalClusterIdentifier,
        REPLICA_SECRET_ARN: globalOptions.credentials.secretArn,
      });
      if (globalOptions.lagQuery !== undefined) config.REPLICA_LAG_SQL = globalOptions.lagQuery;
    }

    const common = {
      vpc: props.vpc,
      vpcSubnets: props.lambdaSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.lambdaSecurityGroup],
      logsKey: key,
      logRetention,
    };
    const failoverSecrets = arn('secret', `${FAILOVER_SECRET_PREFIX}*`, 'secretsmanager');
    const secretsReason: AcknowledgedWildcard = {
      resource: failoverSecrets,
      reason: `Each failover creates the secret ${FAILOVER_SECRET_PREFIX}<database name> of its new database's master credentials; access is limited to that prefix.`,
    };
    const backupObjects = `postgres/${sourceName}/*`;
    const backupObjectsReason = (): AcknowledgedWildcard => ({
      resource: `${props.bucket.bucket.bucketArn}/${backupObjects}`,
      reason: `Dumps are new objects every night under postgres/${sourceName}/; read access is limited to that source's prefix.`,
    });
    const readDatabaseSecrets = (fn: lambda.Function | RunnerTask) => {
      if (restores.length > 0) {
        fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadFailoverSecrets', actions: ['secretsmanager:GetSecretValue'], resources: [failoverSecrets] }));
        note(fn, secretsReason);
      }
      replicaSecret?.grantRead(fn);
    };

    // --- preflight -------------------------------------------------------------------------------------------------
    this.preflightFunction = new HandlerFunction(this, 'PreflightFunction', {
      ...common,
      handlerName: 'failover-preflight',
      description: `cdk-backup-dr: validates a failover of ${sourceName}, checks the DR region and the recovery point against the RPO`,
      timeout: Duration.minutes(2),
      environment: config,
    });
    this.grantDescribe(this.preflightFunction, props, { arn, note });
    if (has('restore-dump')) {
      props.bucket.grantReadBackups(this.preflightFunction, backupObjects);
      note(this.preflightFunction, backupObjectsReason());
    }
    replicaSecret?.grantRead(this.preflightFunction);

    // --- act -------------------------------------------------------------------------------------------------------
    const dumpOptions = strategy('restore-dump')?.dump;
    const actEnv: Record<string, string> = {
      ...config,
      DB_SECURITY_GROUP_IDS: [this.databaseSecurityGroup, ...(props.databaseSecurityGroups ?? [])].map((sg) => sg.securityGroupId).join(','),
      BACKUP_RETENTION_DAYS: String((props.backupRetention ?? Duration.days(7)).toDays()),
    };
    const databaseSettings = newDatabaseSettings(props);
    if (Object.keys(databaseSettings).length > 0) actEnv.NEW_DATABASE_SETTINGS = stack.toJsonString(databaseSettings);
    if (dumpOptions) {
      actEnv.ENGINE_VERSION = dumpOptions.engineVersion.postgresFullVersion;
      actEnv.ALLOCATED_STORAGE_GIB = String(dumpOptions.allocatedStorage?.toGibibytes() ?? 20);
      actEnv.MASTER_USERNAME = dumpOptions.masterUsername ?? 'cdkbdr_admin';
    }
    if (globalOptions) actEnv.GLOBAL_CLUSTER_ACTION = globalOptions.action ?? GlobalSecondaryAction.FAILOVER;
    this.actFunction = new HandlerFunction(this, 'ActFunction', {
      ...common,
      handlerName: 'failover-act',
      description: `cdk-backup-dr: restores or promotes ${sourceName} in the DR region, waits, cleans up rehearsals`,
      timeout: Duration.minutes(2),
      environment: actEnv,
    });
    this.grantDescribe(this.actFunction, props, { arn, note });
    this.grantAct(this.actFunction, props, { arn, note });
    replicaSecret?.grantRead(this.actFunction);

    // --- restore, verify -------------------------------------------------------------------------------------------
    if (dumpOptions) {
      const fargate = dumpOptions.runner?.fargateSettings;
      let restorer: lambda.Function | RunnerTask;
      if (fargate) {
        restorer = this.restoreTask = new RunnerTask(this, 'RestoreTask', {
          handlerName: 'restore',
          description: `pg_restore of a ${sourceName} dump streamed from S3 into a failover database`,
          settings: fargate,
          postgresVersion: Number(dumpOptions.engineVersion.postgresMajorVersion),
          vpc: props.vpc,
          vpcSubnets: common.vpcSubnets,
          securityGroup: this.lambdaSecurityGroup,
          logsKey: common.logsKey,
          logRetention: common.logRetention,
          environment: { BUCKET_NAME: props.bucket.bucket.bucketName },
        });
      } else {
        const layer = dumpOptions.pgToolsLayer ?? new PgToolsLayer(this, 'PgTools', { postgresVersion: Number(dumpOptions.engineVersion.postgresMajorVersion) });
        restorer = this.restoreFunction = createRestoreFunction(this, 'RestoreFunction', {
          ...common,
          description: `cdk-backup-dr: pg_restore of a ${sourceName} dump streamed from S3 into a failover database`,
          pgToolsLayer: layer,
          bucketName: props.bucket.bucket.bucketName,
          memorySize: dumpOptions.runner?.memorySize ?? dumpOptions.restoreMemorySize,
        });
      }
      props.bucket.grantReadBackups(restorer, backupObjects);
      note(restorer, backupObjectsReason());
      readDatabaseSecrets(restorer);
      this.dumpVerifyFunction = new HandlerFunction(this, 'DumpVerifyFunction', {
        ...common,
        handlerName: 'restore-verify',
        description: `cdk-backup-dr: compares a ${sourceName} dump restored by a failover with its manifest, runs the validation queries`,
        timeout: LAMBDA_MAX_TIMEOUT,
        memorySize: 512,
        environment: { BUCKET_NAME: props.bucket.bucket.bucketName },
      });
      props.bucket.grantReadBackups(this.dumpVerifyFunction, backupObjects);
      note(this.dumpVerifyFunction, backupObjectsReason());
      readDatabaseSecrets(this.dumpVerifyFunction);
    }
    if (this.strategyNames.some((n) => n !== 'restore-dump')) {
      this.verifyFunction = new HandlerFunction(this, 'VerifyFunction', {
        ...common,
        handlerName: 'recovery-verify',
        description: `cdk-backup-dr: runs the validation queries on the database a failover of ${sourceName} brought up`,
        timeout: LAMBDA_MAX_TIMEOUT,
        memorySize: 512,
      });
      readDatabaseSecrets(this.verifyFunction);
    }

    const network = new FunctionNetwork(this, {
      vpc: props.vpc,
      subnets: common.vpcSubnets,
      securityGroup: this.lambdaSecurityGroup,
      vpcEndpoints: props.vpcEndpoints ?? false,
      subject: 'Failover',
    });
    network.register(this.preflightFunction, [AwsApi.RDS, ...(has('restore-dump') ? [AwsApi.S3] : []), ...(replicaSecret ? [AwsApi.SECRETS_MANAGER] : [])]);
    network.register(this.actFunction, [AwsApi.RDS, AwsApi.SECRETS_MANAGER]);
    for (const fn of [this.restoreFunction, this.dumpVerifyFunction]) if (fn) network.register(fn, [AwsApi.S3, AwsApi.SECRETS_MANAGER]);
    if (this.restoreTask) network.register(this.restoreTask, [AwsApi.S3, AwsApi.SECRETS_MANAGER, ...RUNNER_TASK_APIS]);
    if (this.verifyFunction) network.register(this.verifyFunction, [AwsApi.SECRETS_MANAGER]);

    // --- repoint ---------------------------------------------------------------------------------------------------
    const repoint = props.repoint ?? [];
    if (repoint.length > 0) {
      const bound = repoint.map((target) => target._bind(this));
      this.repointFunction = new HandlerFunction(this, 'RepointFunction', {
        ...common,
        handlerName: 'repoint',
        description: `cdk-backup-dr: points the application at the database a failover of ${sourceName} brought up`,
        timeout: Duration.minutes(2),
        environment: { REPOINT_TARGETS: stack.toJsonString(bound.map((b) => b.config)) },
      });
      for (const b of bound) b.grant(this.repointFunction);
      const repointApis = { 'ssm-parameter': AwsApi.SSM, secret: AwsApi.SECRETS_MANAGER, cname: AwsApi.ROUTE_53 };
      network.register(this.repointFunction, [...new Set(bound.map((b) => repointApis[b.config.type]))]);
    } else {
      Annotations.of(this).addWarning(
        'Failover: no repoint targets; a real failover brings up and verifies the new database but leaves the application pointing at the old endpoint. Add repoint (RepointTarget.ssmParameter / secret / cnameRecord) or repoint by hand with the endpoint in the report.',
      );
    }

    // --- report ----------------------------------------------------------------------------------------------------
    this.reportFunction = new HandlerFunction(this, 'ReportFunction', {
      ...common,
      handlerName: 'failover-report',
      description: `cdk-backup-dr: failover reports and metrics for ${sourceName}`,
      environment: {
        BUCKET_NAME: props.bucket.bucket.bucketName,
        BUCKET_KMS_KEY_ARN: props.bucket.encryptionKey.keyArn,
        SOURCE_ID: sourceName,
        ...rtoEnvironment(props),
      },
    });
    props.bucket.grantWriteBackups(this.reportFunction, `${FAILOVER_REPORT_PREFIX}*`);
    network.register(this.reportFunction, [AwsApi.S3]);
    note(this.reportFunction, {
      resource: `${props.bucket.bucket.bucketArn}/${FAILOVER_REPORT_PREFIX}*`,
      reason: `Every run writes a new report under ${FAILOVER_REPORT_PREFIX}<date>/; write access is limited to that prefix.`,
    });

    // --- state machine ---------------------------------------------------------------------------------------------
    const waitTimeout = props.waitTimeout ?? Duration.hours(2);
    const cleanupTimeout = props.cleanupTimeout ?? Duration.hours(1);
    const workflow = new FailoverWorkflow(this, 'Workflow', {
      sourceName,
      strategies: this.strategyNames,
      globalSecondary: globalOptions !== undefined,
      database: props.database,
      preflightFunction: this.preflightFunction,
      actFunction: this.actFunction,
      restoreFunction: this.restoreFunction,
      restoreTask: this.restoreTask,
      dumpVerifyFunction: this.dumpVerifyFunction,
      verifyFunction: this.verifyFunction,
      repointFunction: this.repointFunction,
      reportFunction: this.reportFunction,
      notificationTopic: this.notificationTopic,
      validationQueries: props.validationQueries,
      restoreRoles: props.restoreRoles,
      logsKey: key,
      logRetention,
      waitTimeout,
      cleanupTimeout,
      stateMachineName: props.stateMachineName,
      // Every bounded wait (two for a snapshot: restore, then password) plus the Lambdas (or the restore task), the
      // cleanup and a margin.
      timeout: Duration.minutes(
        Math.ceil(
          2 * waitTimeout.toMinutes({ integral: false }) +
            2 * LAMBDA_MAX_TIMEOUT.toMinutes() +
            (this.restoreTask?.timeout ?? LAMBDA_MAX_TIMEOUT).toMinutes() +
            cleanupTimeout.toMinutes({ integral: false }) +
            30,
        ),
      ),
    });
    this.stateMachine = workflow.stateMachine;
    this.restoreTask?.grantAnswer(this.stateMachine);

    for (const { fn, item } of wildcards) acknowledgeWildcardResource(fn, item.resource, item.reason);
    acknowledgeStateMachineFindings(
      this.stateMachine,
      [this.preflightFunction, this.actFunction, this.restoreFunction, this.dumpVerifyFunction, this.verifyFunction, this.repointFunction, this.reportFunction].filter(
        (fn): fn is lambda.Function => fn !== undefined,
      ),
      this.restoreTask ? [this.restoreTask] : [],
    );
  }

  /** Whether a failover (Mode `failover`) or rehearsal (Mode `rehearsal`) succeeded (1) or failed (0), per run. */
  public metricFailoverSucceeded(mode: 'failover' | 'rehearsal' = 'rehearsal', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FAILOVER_METRICS.succeeded, mode, 'Minimum', props);
  }

  /** The measured RTO of successful runs, seconds: execution start to the new database verified (and repointed). */
  public metricFailoverDuration(mode: 'failover' | 'rehearsal' = 'rehearsal', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FAILOVER_METRICS.durationSeconds, mode, 'Maximum', props);
  }

  /** The age of the recovery point at failover time (the data a failover loses), seconds. */
  public metricDataLossWindow(mode: 'failover' | 'rehearsal' = 'rehearsal', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FAILOVER_METRICS.dataLossWindowSeconds, mode, 'Maximum', props);
  }

  /** Failed executions of the state machine (including those that failed before writing a report). */
  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed(props);
  }

  /** The measured RTO of every run whose verification ran, passed or not, seconds (compare with `rto`). */
  public metricRto(mode: 'failover' | 'rehearsal' = 'rehearsal', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FAILOVER_METRICS.rtoSeconds, mode, 'Maximum', props);
  }

  /** Lets `grantee` start a failover (or a rehearsal). */
  public grantStartFailover(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private metric(metricName: string, mode: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const dimensions = { [METRIC_DIMENSIONS.source]: this.sourceName, [METRIC_DIMENSIONS.mode]: mode };
    return packageMetric(metricName, dimensions, { period: Duration.days(1), statistic }, props);
  }

  /** Read-only describes the preflight and the act step need, on the named and prefixed resources only. */
  private grantDescribe(fn: lambda.Function, props: FailoverProps, { arn, note }: PolicyHelpers): void {
    const names = this.strategyNames;
    const source = props.source.identifier;
    const isCluster = props.source.kind === 'cluster';
    const statements: Array<{ sid: string; actions: string[]; resources: string[] }> = [];
    const failoverDb = arn('db', `${FAILOVER_ID_PREFIX}*`);
    const failoverCluster = arn('cluster', `${FAILOVER_ID_PREFIX}*`);
    const created: string[] = [];
    if (names.some((n) => n !== 'promote-replica')) {
      created.push(failoverDb);
      note(fn, { resource: failoverDb, reason: `Each failover creates its own database named ${FAILOVER_ID_PREFIX}<execution>-<hash>; describes are limited to that prefix.` });
      if (isCluster && (names.includes('restore-snapshot') || names.includes('point-in-time'))) {
        created.push(failoverCluster);
        note(fn, { resource: failoverCluster, reason: `Each failover creates its own cluster named ${FAILOVER_ID_PREFIX}<execution>-<hash>; describes are limited to that prefix.` });
      }
      statements.push({ sid: 'DescribeSubnetGroup', actions: ['rds:DescribeDBSubnetGroups'], resources: [arn('subgrp', (this.databaseSubnetGroup as rds.SubnetGroup).subnetGroupName)] });
    }
    const replica = props.strategies.find((s) => s.name === 'promote-replica')?._options;
    const instances = [...created.filter((a) => a === failoverDb), ...(replica?.replica ? [replica.replica.replica.instanceArn] : [])];
    if (instances.length > 0) statements.push({ sid: 'DescribeInstances', actions: ['rds:DescribeDBInstances'], resources: instances });
    const clusterPointInTime = isCluster && names.includes('point-in-time') && source !== undefined;
    const clusters = [
      ...created.filter((a) => a === failoverCluster),
      ...(replica?.global ? [replica.global.secondary.clusterArn] : []),
      // The preflight reads the source cluster's restore window (EarliestRestorableTime, LatestRestorableTime).
      ...(clusterPointInTime ? [arn('cluster', source)] : []),
    ];
    if (clusters.length > 0) statements.push({ sid: 'DescribeClusters', actions: ['rds:DescribeDBClusters'], resources: clusters });
    if (replica?.global) {
      statements.push({
        sid: 'DescribeGlobalCluster',
        actions: ['rds:DescribeGlobalClusters'],
        resources: [Stack.of(this).formatArn({ service: 'rds', region: '', resource: 'global-cluster', resourceName: replica.global.globalClusterIdentifier, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      });
    }
    if (names.includes('restore-snapshot') && source !== undefined) {
      const snapshots = arn(isCluster ? 'cluster-snapshot' : 'snapshot', `${SNAPSHOT_ID_PREFIX}*`);
      statements.push({
        sid: 'DescribeSnapshotCopies',
        actions: [isCluster ? 'rds:DescribeDBClusterSnapshots' : 'rds:DescribeDBSnapshots'],
        resources: [arn(isCluster ? 'cluster' : 'db', source), snapshots],
      });
      note(fn, { resource: snapshots, reason: `The backup workflow names its snapshots (and their DR copies) ${SNAPSHOT_ID_PREFIX}<source>-<time>; only those are described.` });
    }
    if (names.includes('point-in-time') && !isCluster) {
      const backups = arn('auto-backup', '*');
      // Filtering by the source's identifier is authorized on that instance's ARN in this region.
      const sourceInstance = source === undefined ? [] : [arn('db', source)];
      statements.push({ sid: 'DescribeReplicatedBackups', actions: ['rds:DescribeDBInstanceAutomatedBackups'], resources: [backups, ...sourceInstance] });
      note(fn, { resource: backups, reason: 'Replicated automated backups get an id (ab-…) from RDS when replication starts; they are only described (read-only), in this region.' });
    }
    for (const s of statements) fn.addToRolePolicy(new iam.PolicyStatement(s));
  }

  /**
   * What the act step changes: create/restore/modify only `cdkbdr-fo-*` databases (create only with the failover
   * purpose tag, modify only when they carry it, delete only when tagged as a dry run), promote only the configured
   * replica, and the `cdk-backup-dr/failover/*` secrets (deleted only when tagged as a dry run).
   */
  private grantAct(fn: lambda.Function, props: FailoverProps, { arn, note }: PolicyHelpers): void {
    const names = this.strategyNames;
    const isCluster = props.source.kind === 'cluster';
    const purposeRequested = { StringEquals: { 'aws:RequestTag/cdk-backup-dr:purpose': 'failover' } };
    const purposeTagged = { StringEquals: { 'aws:ResourceTag/cdk-backup-dr:purpose': 'failover' } };
    const dryRunTagged = { StringEquals: { [`aws:ResourceTag/${DRY_RUN_TAG}`]: 'true' } };
    const failoverSecrets = arn('secret', `${FAILOVER_SECRET_PREFIX}*`, 'secretsmanager');
    const options = props.strategies.find((s) => s.name === 'promote-replica')?._options;

    if (names.some((n) => n !== 'promote-replica')) {
      const failoverDb = arn('db', `${FAILOVER_ID_PREFIX}*`);
      const failoverCluster = arn('cluster', `${FAILOVER_ID_PREFIX}*`);
      const clusterRestore = isCluster && (names.includes('restore-snapshot') || names.includes('point-in-time'));
      const databases = clusterRestore ? [failoverDb, failoverCluster] : [failoverDb];
      const groups = [arn('pg', 'default.*'), arn('og', 'default:*'), ...(clusterRestore ? [arn('cluster-pg', 'default.*')] : [])];
      const settings = Object.values(newDatabaseSettings(props));
      const namedGroups = [
        ...new Set([
          ...settings.flatMap((d) => (d.parameterGroupName !== undefined ? [arn('pg', d.parameterGroupName)] : [])),
          ...settings.flatMap((d) => (d.optionGroupName !== undefined ? [arn('og', d.optionGroupName)] : [])),
        ]),
      ];
      const createActions: string[] = [];
      const createResources = [...databases, arn('subgrp', (this.databaseSubnetGroup as rds.SubnetGroup).subnetGroupName), ...groups, ...namedGroups];
      const groupsReason = 'RDS checks the default parameter/option groups a new database uses; their names depend on the engine version (default.postgres16, default:postgres-16).';
      note(fn, ...groups.map((resource) => ({ resource, reason: groupsReason })));
      const dbReason = `Each failover creates its own database named ${FAILOVER_ID_PREFIX}<execution>-<hash>; changes are limited to that prefix and the failover purpose tag, deletion to resources tagged ${DRY_RUN_TAG}=true.`;
      note(fn, ...databases.map((resource) => ({ resource, reason: dbReason })));
      if (names.includes('restore-dump') || clusterRestore) createActions.push('rds:CreateDBInstance');
      if (names.includes('restore-snapshot')) {
        const snapshots = arn(isCluster ? 'cluster-snapshot' : 'snapshot', `${SNAPSHOT_ID_PREFIX}*`);
        createActions.push(isCluster ? 'rds:RestoreDBClusterFromSnapshot' : 'rds:RestoreDBInstanceFromDBSnapshot');
        createResources.push(snapshots);
        note(fn, { resource: snapshots, reason: `The backup workflow names its snapshots (and their DR copies) ${SNAPSHOT_ID_PREFIX}<source>-<time>; only those can be restored.` });
      }
      if (names.includes('point-in-time') && isCluster && props.source.identifier !== undefined) {
        createActions.push('rds:RestoreDBClusterToPointInTime');
        // The source cluster in a statement of its own: CreateDBInstance (the writer) is authorized on the cluster it
        // joins, and must never reach the production cluster.
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            sid: 'RestoreFromSourceCluster',
            actions: ['rds:RestoreDBClusterToPointInTime'],
            resources: [arn('cluster', props.source.identifier)],
            conditions: purposeRequested,
          }),
        );
      } else if (names.includes('point-in-time')) {
        const backups = arn('auto-backup', '*');
        createActions.push('rds:RestoreDBInstanceToPointInTime');
        createResources.push(backups);
        note(fn, { resource: backups, reason: 'Replicated automated backups get an id (ab-…) from RDS when replication starts; only restores into cdkbdr-fo-* databases are allowed.' });
      }
      fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'CreateFailoverDatabase', actions: createActions, resources: createResources, conditions: purposeRequested }));
      fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'TagFailoverDatabase', actions: ['rds:AddTagsToResource'], resources: databases, conditions: purposeRequested }));
      const modify = clusterRestore ? ['rds:ModifyDBInstance', 'rds:ModifyDBCluster'] : ['rds:ModifyDBInstance'];
      fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ModifyFailoverDatabase', actions: modify, resources: databases, conditions: purposeTagged }));
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'DeleteRehearsalDatabase',
          actions: clusterRestore ? ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'] : ['rds:DeleteDBInstance'],
          resources: databases,
          conditions: dryRunTagged,
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'FailoverSecrets',
          actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          resources: [failoverSecrets],
        }),
      );
      fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'DeleteRehearsalSecrets', actions: ['secretsmanager:DeleteSecret'], resources: [failoverSecrets], conditions: dryRunTagged }));
      note(fn, {
        resource: failoverSecrets,
        reason: `Each failover creates the secret ${FAILOVER_SECRET_PREFIX}<database name> of its new database; deletion is limited to secrets tagged ${DRY_RUN_TAG}=true.`,
      });
      if (props.snapshotEncryptionKey) {
        grantRdsKeyUse(fn, props.snapshotEncryptionKey, 'RestoreEncryptedCopies', 'the snapshot copies and replicated backups');
      }
      const storageKeys = [...new Set(props.strategies.flatMap((st) => (st._database?.storageEncryptionKey ? [st._database.storageEncryptionKey] : [])))];
      storageKeys.forEach((key, i) => grantRdsKeyUse(fn, key, `EncryptNewDatabase${i === 0 ? '' : i + 1}`, 'the new database\'s storage'));
    }
    if (options?.replica) {
      fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'PromoteReplica', actions: ['rds:PromoteReadReplica'], resources: [options.replica.replica.instanceArn] }));
    }
    if (options?.global) {
      const globalArn = Stack.of(this).formatArn({ service: 'rds', region: '', resource: 'global-cluster', resourceName: options.global.globalClusterIdentifier, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'PromoteGlobalSecondary',
          actions: options.global.action === GlobalSecondaryAction.DETACH ? ['rds:RemoveFromGlobalCluster'] : ['rds:FailoverGlobalCluster'],
          resources: [globalArn, options.global.secondary.clusterArn],
        }),
      );
    }
  }
}

/**
 * What the act handler creates each restore strategy's database with (`NEW_DATABASE_SETTINGS`): the strategy's
 * instance class, groups and storage key, and Multi-AZ for a real failover of an RDS instance unless turned off.
 */
function newDatabaseSettings(props: FailoverProps): Record<string, NewDatabaseSettings> {
  const out: Record<string, NewDatabaseSettings> = {};
  for (const s of props.strategies) {
    const d = s._database;
    if (!d) continue;
    out[s.name] = {
      instanceClass: `db.${d.instanceType.toString()}`,
      multiAz: props.source.kind !== 'cluster' && (d.multiAz ?? true),
      ...(d.parameterGroup ? { parameterGroupName: d.parameterGroup.bindToInstance({}).parameterGroupName } : {}),
      ...(d.optionGroup ? { optionGroupName: d.optionGroup.optionGroupName } : {}),
      ...(d.storageEncryptionKey ? { kmsKeyId: d.storageEncryptionKey.keyArn } : {}),
    };
  }
  return out;
}

/** The settings of each strategy's new database must be ones RDS can apply to that kind of source, in this region. */
function checkDatabaseOptions(scope: Construct, props: FailoverProps, invalid: InvalidProps): void {
  const region = Stack.of(scope).region;
  for (const s of props.strategies) {
    const d = s._database;
    if (!d) continue;
    const where = `strategy ${s.name}`;
    if (props.source.kind === 'cluster') {
      if (d.optionGroup) throw invalid(`${where}: optionGroup does not apply to an Aurora cluster (Aurora PostgreSQL has no option groups); remove it.`);
      if (d.multiAz === true) throw invalid(`${where}: multiAz applies to RDS instances; an Aurora cluster is made Multi-AZ by adding a reader in another Availability Zone. Remove multiAz.`);
    }
    if (d.storageEncryptionKey) {
      if (s.name === 'point-in-time' && props.source.kind === 'instance') {
        throw invalid(
          `${where}: storageEncryptionKey cannot apply: an instance restored from replicated automated backups keeps the key they are encrypted with (set it where backup replication is turned on); remove storageEncryptionKey.`,
        );
      }
      if (s.name === 'restore-snapshot' && props.source.kind === 'instance') {
        throw invalid(
          `${where}: storageEncryptionKey cannot apply: an instance restored from a snapshot copy keeps the copy's key. Encrypt the copies with that key instead (PostgresBackup snapshotCopy.encryptionKeyArn, Failover snapshotEncryptionKey) and remove storageEncryptionKey.`,
        );
      }
      const keyRegion = Stack.of(d.storageEncryptionKey).region;
      if (!Token.isUnresolved(keyRegion) && !Token.isUnresolved(region) && keyRegion !== region) {
        throw invalid(`${where}: storageEncryptionKey is in ${keyRegion}; RDS encrypts a database only with a key of its own region (${region}). Pass a key of this region.`);
      }
    }
  }
}

/** A Failover that only restores an Aurora cluster to a point in time: the one kind that lives in the primary's region. */
function isClusterPointInTimeOnly(props: FailoverProps): boolean {
  return props.source.kind === 'cluster' && props.strategies.length > 0 && props.strategies.every((s) => s.name === 'point-in-time');
}

function validateProps(scope: Construct, props: FailoverProps, sourceName: string, invalid: InvalidProps): void {
  const stack = Stack.of(scope);
  const regionsKnown = !Token.isUnresolved(stack.region) && !Token.isUnresolved(props.primaryRegion);
  if (!regionsKnown && props.source.kind === 'cluster' && props.strategies.some((s) => s.name === 'point-in-time')) {
    throw invalid(
      'pointInTime of an Aurora cluster runs only in the cluster\'s own region, which cannot be checked here: give the stack an explicit env.region and primaryRegion a literal region.',
    );
  }
  if (regionsKnown && props.primaryRegion === stack.region && !isClusterPointInTimeOnly(props)) {
    throw invalid(
      `primaryRegion is this stack's own region (${stack.region}); put the Failover in a stack of the DR region, different from the primary's. ` +
        '(Only a Failover of an Aurora cluster whose strategies are just FailoverStrategy.pointInTime lives in the cluster\'s own region.)',
    );
  }
  const bucketRegion = props.bucket.env.region;
  if (!Token.isUnresolved(bucketRegion) && !Token.isUnresolved(stack.region) && bucketRegion !== stack.region) {
    throw invalid(
      isClusterPointInTimeOnly(props)
        ? `the bucket is in ${bucketRegion}, not in this region ${stack.region}; pass the BackupBucket of this region (reports are written there).`
        : `the bucket is in ${bucketRegion}, not in this (DR) region ${stack.region}; pass the replica BackupBucket of this region (BackupBucket.replicateTo), so that a failover never depends on the primary region.`,
    );
  }
  if (!Token.isUnresolved(sourceName) && !isSourceName(sourceName)) {
    throw invalid(`sourceName must be 1-128 letters, digits, ".", "_" or "-" (the name the backups are written under); got ${JSON.stringify(sourceName)}. Pass sourceName for an endpoint source.`);
  }
  if (!Token.isUnresolved(props.database) && !isDatabaseName(props.database)) {
    throw invalid(`database '${props.database}' is not a database name the backups use; 1-63 letters, digits, _, $, . or -.`);
  }
  if (props.strategies.length === 0) throw invalid(`strategies is empty; configure at least one (FailoverStrategy.restoreSnapshot(...), ...).`);
  if (props.restoreRoles && !props.strategies.some((s) => s.name === 'restore-dump')) {
    throw invalid('restoreRoles applies to the restore-dump strategy only; add FailoverStrategy.restoreDump(...) or remove restoreRoles.');
  }
  const seen = new Set<string>();
  for (const s of props.strategies) {
    if (seen.has(s.name)) throw invalid(`two strategies are named '${s.name}'; configure each strategy once.`);
    seen.add(s.name);
    const kind = props.source.kind;
    if (s.name === 'promote-replica') {
      if (s._options.replica && kind !== 'instance') throw invalid(`promoteReplica needs an RDS instance source; for an Aurora cluster use FailoverStrategy.promoteGlobalSecondary.`);
      if (s._options.global && kind !== 'cluster') throw invalid(`promoteGlobalSecondary needs an Aurora cluster source (FailoverSource.cluster).`);
    }
    if (s.name === 'restore-snapshot' && kind === 'endpoint') throw invalid(`restoreSnapshot needs RDS snapshots; an endpoint source has only dumps: use FailoverStrategy.restoreDump.`);
    if (s.name === 'point-in-time' && kind === 'cluster' && regionsKnown && props.primaryRegion !== stack.region) {
      throw invalid(
        `pointInTime cannot restore an Aurora cluster in this region (${stack.region}): Aurora restores a cluster to a point in time (RestoreDBClusterToPointInTime) ` +
          `only in the cluster's own region (${props.primaryRegion}), and RDS replicates automated backups to another region for RDS instances only. ` +
          `In this (DR) region use FailoverStrategy.restoreSnapshot (the newest cluster snapshot copy, PostgresBackup snapshotCopy) or ` +
          `FailoverStrategy.promoteGlobalSecondary (an Aurora global database); to go back to a point in time, put a second Failover with only ` +
          `FailoverStrategy.pointInTime in a stack of ${props.primaryRegion}. See docs/constructs.md, "Point in time and Aurora".`,
      );
    }
    if (s.name === 'point-in-time' && kind === 'cluster' && props.strategies.length > 1) {
      throw invalid(
        `pointInTime of an Aurora cluster runs in the cluster's own region, so it cannot share a Failover with the DR strategies (${props.strategies
          .filter((x) => x.name !== 'point-in-time')
          .map((x) => x.name)
          .join(', ')}): give it a Failover of its own in a stack of ${props.primaryRegion}.`,
      );
    }
    if (s.name === 'point-in-time' && kind === 'endpoint') {
      throw invalid(`pointInTime restores replicated automated backups of an RDS instance; an endpoint source has none: use restoreDump.`);
    }
  }
  checkDatabaseOptions(scope, props, invalid);
  checkRpo(props.rpo, invalid);
  checkRto(props, invalid);
  if (props.stateMachineName !== undefined && !Token.isUnresolved(props.stateMachineName) && !isStateMachineName(props.stateMachineName)) {
    throw invalid(`stateMachineName ${JSON.stringify(props.stateMachineName)} ${STATE_MACHINE_NAME_HINT}.`);
  }
  if (props.rpo.toSeconds() > 366 * 86400) throw invalid(`rpo must be at most a year; got ${props.rpo.toHumanString()}.`);
  const retention = (props.backupRetention ?? Duration.days(7)).toDays({ integral: false });
  if (!Number.isInteger(retention) || retention < 1 || retention > 35) {
    throw invalid(`backupRetention must be a whole number of days from 1 to 35 (RDS automated backups); got ${retention}.`);
  }
  checkWaitTimeouts({ waitTimeout: props.waitTimeout, cleanupTimeout: props.cleanupTimeout }, FAILOVER_POLL_INTERVAL, invalid);
  checkValidationQueries(props.validationQueries, invalid);
  const targets = new Set<string>();
  for (const target of props.repoint ?? []) {
    if (targets.has(target.description)) throw invalid(`repoint names ${target.description} twice; list each target once.`);
    targets.add(target.description);
  }
}
