import { Annotations, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { AwsApi, FunctionNetwork } from '../common/network';
import { BackupSchedule } from '../database/backup-schedule';
import type { BackupSource } from '../database/backup-source';
import type { BackupRunner } from '../common/backup-runner';
import { PgToolsLayer } from '../database/pg-tools-layer';
import { PostgresBackup } from '../database/postgres-backup';
import type { DumpCompression } from '../database/dump-compression';
import { Failover } from '../failover/failover';
import type { RepointTarget } from '../failover/failover-repoint';
import { FailoverSource, FailoverStrategy } from '../failover/failover-strategy';
import { BackupMonitoring } from '../monitoring/backup-monitoring';
import { OperationsTopic, type ChatChannel } from '../monitoring/operations-topic';
import { RecoveryTest } from '../recovery-test/recovery-test';
import { RecoveryTestSchedule } from '../recovery-test/recovery-test-schedule';
import type { ValidationQuery } from '../recovery-test/recovery-test-workflow';
import { TestedBackups } from '../recovery-test/tested-backups';
import { RetentionPolicy } from '../retention/retention-policy';
import { ScratchSweeper } from '../retention/scratch-sweeper';
import { BackupBucket } from '../storage/backup-bucket';
import { BackupLifecycle } from '../storage/backup-lifecycle';
import { failoverStateMachineName, isStateMachineName, STATE_MACHINE_NAME_HINT } from '../../lambda/common/names';

/** The recovery test of {@link PostgresDisasterRecovery}. */
export interface DisasterRecoveryTestOptions {
  /** @default RecoveryTestSchedule.weekly() (Sunday 05:00 UTC) */
  readonly schedule?: RecoveryTestSchedule;
  /** Queries that must return true on the restored database. @default - none: restore and row counts only */
  readonly validationQueries?: ValidationQuery[];
  /** The database whose dumps are restored. @default - the first of `databases` */
  readonly database?: string;
}

/** Your own operations topics, one per region, for {@link DisasterRecoveryNotifications.topics}. */
export interface DisasterRecoveryTopics {
  /** A topic in the primary region. */
  readonly primary: sns.ITopic;
  /** A topic in the DR region. */
  readonly dr: sns.ITopic;
}

/**
 * Who hears about every run's outcome and every alarm: either subscriptions (`emails`, `webhooks`, `chat`), for which
 * an {@link OperationsTopic} is created in each region with the same subscriptions, or your own `topics`, one per
 * region (e.g. `OperationsTopic.fromTopicAttributes`), never both.
 */
export interface DisasterRecoveryNotifications {
  /** Email addresses (each confirms the subscription by a link SNS mails to it, once per region). @default - none */
  readonly emails?: string[];
  /** HTTPS endpoints (each confirms by visiting the SubscribeURL SNS posts to it). @default - none */
  readonly webhooks?: string[];
  /** Slack or Microsoft Teams channels, through AWS Chatbot. @default - none */
  readonly chat?: ChatChannel[];
  /**
   * Your own topics instead: subscribe to them yourself. An encrypted topic must come with its key (import it with
   * `OperationsTopic.fromTopicAttributes` or `importOperationsTopic`), so that the functions and state machines that
   * publish get `kms:Decrypt` and `kms:GenerateDataKey` on it; its key policy must let this account's IAM grant that
   * and let CloudWatch alarms use it (`cloudwatch.amazonaws.com`).
   * @default - an OperationsTopic per region with the subscriptions above
   */
  readonly topics?: DisasterRecoveryTopics;
}

/** Props for {@link PostgresDisasterRecovery}. */
export interface PostgresDisasterRecoveryProps {
  /** The PostgreSQL server to protect (`BackupSource.fromInstance`, `.fromCluster` or `.fromEndpoint`). */
  readonly source: BackupSource;
  /** The databases to dump (each its own object and manifest). */
  readonly databases: string[];
  /** Major version of the server, for pg_dump/pg_restore (the layer's tools) and the scratch and failover databases. */
  readonly postgresVersion: number;
  /** The primary VPC: the backup and recovery-test functions, the scratch database. */
  readonly vpc: ec2.IVpc;
  /** A stack in the DR region (another region than this construct's stack): the replica bucket, snapshot key, Failover. */
  readonly drStack: Stack;
  /** The VPC in the DR region for the Failover's functions and the database it brings up. */
  readonly drVpc: ec2.IVpc;
  /**
   * Create, in both VPCs, the endpoints of the same-region AWS APIs the functions call (S3 gateway; Secrets Manager,
   * RDS, Step Functions… interface endpoints). Cross-region calls (the replica check, snapshot copies) still need a
   * NAT route.
   * @default false - the functions' subnets reach AWS through a NAT gateway
   */
  readonly vpcEndpoints?: boolean;
  /**
   * Where the recovery test's scratch database runs in the primary VPC.
   * @default - the isolated subnets of `vpc`
   */
  readonly scratchSubnets?: ec2.SubnetSelection;
  /**
   * The recovery point objective: the most data, in time, a disaster may cost. Recovery tests and failovers fail
   * (unless told to accept it) when the newest usable backup is older. Must be at least the backup interval.
   * @default Duration.hours(26): daily backups plus the run time
   */
  readonly rpo?: Duration;
  /**
   * The recovery time objective: how long a restore may take. A recovery test or failover rehearsal whose measured RTO
   * is longer fails (see `enforceRto`); the monitoring alarms on it either way.
   * @default Duration.hours(4)
   */
  readonly rto?: Duration;
  /**
   * Whether a measured RTO above `rto` fails the recovery test or failover run; when false it is a failed check in
   * the report (and an alarm) only.
   * @default true
   */
  readonly enforceRto?: boolean;
  /**
   * Who is told about run outcomes and alarms, in both regions.
   * @default - an OperationsTopic per region with no subscriber (a warning says so): add subscribers to `operationsTopic.topic` and `drOperationsTopic.topic`
   */
  readonly notifications?: DisasterRecoveryNotifications;
  /**
   * Name of the Failover state machine (1-80 letters, digits, "-" or "_", unique in the DR region's account): the
   * primary region's retention cleanup finds its running executions by this name and never deletes the backup one of
   * them restores.
   * @default - `cdkbdr-failover-<source name>` (lambda/common/names.ts failoverStateMachineName)
   */
  readonly failoverStateMachineName?: string;
  /** @default [BackupSchedule.daily({ hour: 3 })] (03:00 UTC) */
  readonly schedules?: BackupSchedule[];
  /**
   * Which backups the daily cleanup keeps, in both regions (dumps and tagged snapshots).
   * @default RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12 })
   */
  readonly retention?: RetentionPolicy;
  /** @default - weekly, restoring the newest dump of the first database */
  readonly recoveryTest?: DisasterRecoveryTestOptions;
  /**
   * How a failover may bring the database up in the DR region (the operator picks one by name).
   * @default - `restore-snapshot` (RDS instance and Aurora sources) and `restore-dump`, on `failoverInstanceType`
   */
  readonly failoverStrategies?: FailoverStrategy[];
  /**
   * Where a real failover points the application at the new database (SSM parameters, secrets, CNAME records).
   * @default - nothing is repointed: the report names the new endpoint
   */
  readonly repoint?: RepointTarget[];
  /** Instance type of the default failover strategies' database. @default db.r6g.large */
  readonly failoverInstanceType?: ec2.InstanceType;
  /**
   * Object Lock default retention of both buckets (WORM: no one, not even this package, can delete a locked version
   * early). Choose it shorter than the retention keeps backups, or nothing is ever deleted before it expires.
   * @default - no Object Lock
   */
  readonly objectLock?: s3.ObjectLockRetention;
  /**
   * What happens to the buckets and keys when the stacks are deleted.
   * @default RemovalPolicy.RETAIN: backups outlive a `cdk destroy`
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How pg_dump compresses the dumps ({@link PostgresBackupProps.dumpCompression}).
   * @default DumpCompression.DEFAULT - gzip level 3
   */
  readonly dumpCompression?: DumpCompression;
  /**
   * pg_dump's parallel jobs ({@link PostgresBackupProps.dumpParallelism}); give `dumpMemorySize` at least 3,538 MB
   * with 2 or more.
   * @default 1
   */
  readonly dumpParallelism?: number;
  /**
   * Memory of the dump function ({@link PostgresBackupProps.dumpMemorySize}).
   * @default 1769
   */
  readonly dumpMemorySize?: number;
  /**
   * Where the dumps, the recovery test's restores and the default restore-dump failover run
   * ({@link PostgresBackupProps.runner}): `BackupRunner.fargate` for databases whose dump or restore outgrows Lambda's
   * 15 minutes. Strategies you pass in `failoverStrategies` take their own `runner`.
   * @default BackupRunner.lambda()
   */
  readonly runner?: BackupRunner;
}

/** The rough number of days between runs of a backup tier (the synth checks' interval). */
const TIER_DAYS: Readonly<Record<string, number>> = { daily: 1, weekly: 7, monthly: 28, yearly: 365 };

/**
 * Disaster recovery for one PostgreSQL server in one construct: a replicated, KMS-encrypted backup bucket; streamed
 * dumps and snapshots copied to the DR region (PostgresBackup) with retention cleanup in both regions; a weekly
 * recovery test that proves the newest dump restores within the RPO and RTO (RecoveryTest); a Failover state machine
 * in the DR region; in each region an operations topic, alarms with a dashboard (BackupMonitoring) and a sweeper of
 * what aborted runs left (ScratchSweeper). Every part is a public property for further configuration.
 *
 * @example
 * const dr = new PostgresDisasterRecovery(primaryStack, 'Orders', {
 *   source: BackupSource.fromInstance(ordersDb, { secret: ordersDb.secret! }),
 *   databases: ['orders'],
 *   postgresVersion: 15,
 *   vpc,
 *   drStack,
 *   drVpc,
 *   rpo: Duration.hours(26),
 *   rto: Duration.hours(2),
 *   notifications: { emails: ['dba-oncall@example.com'] },
 * });
 * dr.monitoring.backupOverdue; // an alarm of the primary region
 * dr.drMonitoring.failoverFailed; // an alarm of the DR region
 */
export class PostgresDisasterRecovery extends Construct {
  /** The backup bucket in the primary region. */
  public readonly bucket: BackupBucket;
  /** Its replica in the DR region. */
  public readonly replica: BackupBucket;
  /** The key (in the DR region) that encrypts the snapshot copies, when the source has snapshots. */
  public readonly snapshotKey?: kms.Key;
  /** pg_dump, pg_dumpall, pg_restore and psql of `postgresVersion` for the primary region's functions (Lambda runner only). */
  public readonly pgTools?: PgToolsLayer;
  /** Dumps, snapshots with their DR copies, retention. */
  public readonly backup: PostgresBackup;
  /** The scheduled restore test of the newest dump. */
  public readonly recoveryTest: RecoveryTest;
  /** The failover state machine, in the DR stack. */
  public readonly failover: Failover;
  /** The recovery point objective the recovery test and failover check the data age against. */
  public readonly rpo: Duration;
  /** The recovery time objective every measured RTO is checked against. */
  public readonly rto: Duration;
  /** The primary region's operations topic, when this construct created it (no `notifications.topics`). */
  public readonly operationsTopic?: OperationsTopic;
  /** The DR region's operations topic, when this construct created it (no `notifications.topics`). */
  public readonly drOperationsTopic?: OperationsTopic;
  /** Where the primary region's runs and alarms are told. */
  public readonly topic: sns.ITopic;
  /** Where the DR region's runs and alarms are told. */
  public readonly drTopic: sns.ITopic;
  /** Alarms and dashboard of the backups and the recovery test, in the primary region. */
  public readonly monitoring: BackupMonitoring;
  /** Alarms and dashboard of the Failover, in the DR region. */
  public readonly drMonitoring: BackupMonitoring;
  /** Deletes what timed-out or aborted recovery tests left, in the primary region. */
  public readonly sweeper: ScratchSweeper;
  /** Deletes what timed-out or aborted failover rehearsals left, in the DR region. */
  public readonly drSweeper: ScratchSweeper;
  /** The name of the Failover state machine. */
  public readonly failoverStateMachineName: string;

  constructor(scope: Construct, id: string, props: PostgresDisasterRecoveryProps) {
    super(scope, id);
    const primaryStack = Stack.of(this);
    const drStack = props.drStack;
    const fail = (message: string): never => {
      throw new ConfigurationError(message, this, { subject: 'PostgresDisasterRecovery' });
    };
    if (!Token.isUnresolved(primaryStack.region) && !Token.isUnresolved(drStack.region) && primaryStack.region === drStack.region) {
      fail(`drStack is in ${drStack.region}, the region of the primary stack: a disaster that takes the region takes both. Pass a stack of another region.`);
    }
    if (Token.isUnresolved(drStack.region)) {
      fail('drStack has no region: give it env: { region } (the DR region), since the snapshot copies and the replica are addressed by region.');
    }
    if (props.databases.length === 0) fail('databases is empty: name at least one database to dump.');
    if (!props.source.identifierKnownAtSynth) {
      fail(
        `the ${props.source.kind === 'cluster' ? 'cluster' : 'instance'} has no explicit identifier, and the Failover in the DR stack must name it across regions ` +
          `(a generated name is known only after deployment, in the primary region). Give it one: ${props.source.kind === 'cluster' ? "clusterIdentifier: 'orders'" : "instanceIdentifier: 'orders-db'"}.`,
      );
    }

    const schedules = props.schedules ?? [BackupSchedule.daily({ hour: 3 })];
    // A schedule runs as often as its rarest tier (weekly() satisfies daily and weekly, once a week); the most frequent
    // schedule sets the interval.
    const intervalDays = Math.min(...schedules.map((s) => Math.max(...s.tiers.map((tier) => TIER_DAYS[tier] ?? 1))));
    this.rpo = props.rpo ?? Duration.hours(26);
    this.rto = props.rto ?? Duration.hours(4);
    if (this.rpo.toHours() < intervalDays * 24) {
      fail(
        `rpo is ${this.rpo.toHumanString()}, but backups run only every ${intervalDays * 24} hours: a disaster just before a run ` +
          `loses up to ${intervalDays * 24} hours. Schedule backups more often, or raise rpo to at least ${intervalDays * 24 + 2} hours (the interval plus the run).`,
      );
    }
    const retention = props.retention ?? RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12 });
    const testSchedule = props.recoveryTest?.schedule ?? RecoveryTestSchedule.weekly();
    const testInterval = testSchedule.approximateIntervalDays;
    const keptDays = retention.deletionAges(intervalDays)[0];
    if (testInterval !== undefined && testInterval > keptDays) {
      fail(
        `the recovery test runs about every ${testInterval} days, but the retention deletes every backup it does not keep for longer after ` +
          `${keptDays} days: most backups are deleted before any test could prove them. Keep at least ${testInterval} daily backups ` +
          '(RetentionPolicy.gfs({ daily: … })) or test more often.',
      );
    }
    const testDatabase = props.recoveryTest?.database ?? props.databases[0];
    if (!props.databases.includes(testDatabase)) {
      fail(`recoveryTest.database '${testDatabase}' is not one of databases (${props.databases.join(', ')}): only dumped databases can be restored.`);
    }

    const notifications = props.notifications ?? {};
    const subscriptions = { emails: notifications.emails ?? [], webhooks: notifications.webhooks ?? [], chat: notifications.chat ?? [] };
    const subscribed = Object.entries(subscriptions).filter(([, list]) => list.length > 0).map(([name]) => name);
    if (notifications.topics && subscribed.length > 0) {
      fail(
        `notifications has topics and ${subscribed.join(', ')}: with your own topics, subscribe to them yourself. ` +
          `Pass either notifications.topics or notifications.${subscribed[0]}, not both.`,
      );
    }
    if (notifications.topics) {
      for (const [which, topic, stack] of [['primary', notifications.topics.primary, primaryStack], ['dr', notifications.topics.dr, drStack]] as const) {
        const region = topic.env.region;
        if (!Token.isUnresolved(region) && !Token.isUnresolved(stack.region) && region !== stack.region) {
          fail(
            `notifications.topics.${which} is in ${region}, but the ${which === 'primary' ? 'primary' : 'DR'} stack in ${stack.region}: alarms and ` +
              `EventBridge rules notify only a topic of their own region. Pass a topic of ${stack.region}.`,
          );
        }
      }
    }
    if (props.failoverStateMachineName !== undefined && !Token.isUnresolved(props.failoverStateMachineName) && !isStateMachineName(props.failoverStateMachineName)) {
      fail(`failoverStateMachineName ${JSON.stringify(props.failoverStateMachineName)} ${STATE_MACHINE_NAME_HINT}.`);
    }

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // One child in the DR stack for everything this construct puts there, named after this construct's path.
    const drScope = new Construct(drStack, `${Names.uniqueId(this)}Dr`);
    if (notifications.topics) {
      this.topic = notifications.topics.primary;
      this.drTopic = notifications.topics.dr;
      const keyless = (['primary', 'dr'] as const).filter((which) => notifications.topics![which].masterKey === undefined);
      if (keyless.length > 0) {
        Annotations.of(this).addWarningV2(
          'cdk-backup-dr:topicKeyUnknown',
          `notifications.topics.${keyless.join(' and ')} has no KMS key known to CDK: if that topic is encrypted, every publish (failed runs, ` +
            'timed-out runs) is refused by KMS and nobody is told. Import an encrypted topic with OperationsTopic.fromTopicAttributes ' +
            '(topicArn and keyArn) so its key is granted; acknowledge this warning only for an unencrypted topic.',
        );
      }
    } else {
      const topicProps = { emails: subscriptions.emails, webhooks: subscriptions.webhooks, chatChannels: subscriptions.chat };
      this.operationsTopic = new OperationsTopic(this, 'Operations', topicProps);
      this.drOperationsTopic = new OperationsTopic(drScope, 'Operations', topicProps);
      this.topic = this.operationsTopic.topic;
      this.drTopic = this.drOperationsTopic.topic;
      if (subscribed.length === 0) {
        Annotations.of(this).addWarningV2(
          'cdk-backup-dr:noSubscribers',
          'notifications has no emails, webhooks or chat channels: failed backups, recovery tests and alarms reach nobody. ' +
            'Pass notifications: { emails: [...] } (or your own topics), or subscribe to operationsTopic.topic and drOperationsTopic.topic.',
        );
      }
    }
    this.replica = new BackupBucket(drScope, 'Replica', {
      lifecycle: [BackupLifecycle.archive()],
      objectLock: props.objectLock,
      removalPolicy,
    });
    this.bucket = new BackupBucket(this, 'Bucket', {
      lifecycle: [BackupLifecycle.archive()],
      objectLock: props.objectLock,
      removalPolicy,
    });
    this.bucket.replicateTo(this.replica);

    const snapshotsOn = props.source.supportsSnapshots;
    let snapshotKeyArn: string | undefined;
    if (snapshotsOn) {
      // Known by name in the primary stack (a key id exists only after deployment, in another region).
      const alias = `alias/cdk-backup-dr/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' }).toLowerCase()}-snapshots`;
      this.snapshotKey = new kms.Key(drScope, 'SnapshotKey', {
        description: `cdk-backup-dr: snapshot copies of ${props.source.identifier} in ${drStack.region}`,
        enableKeyRotation: true,
        alias,
        removalPolicy,
      });
      this.snapshotKey.grantEncryptDecrypt(new iam.AccountRootPrincipal());
      snapshotKeyArn = drStack.formatArn({ service: 'kms', region: drStack.region, account: primaryStack.account, resource: alias });
    }

    // One layer for the dumps and the recovery test's restores (the Failover brings its own: layers are regional).
    // On the Fargate runner the image brings the tools instead.
    const onLambda = props.runner?.kind !== 'fargate';
    if (onLambda) this.pgTools = new PgToolsLayer(this, 'PgTools', { postgresVersion: props.postgresVersion });
    this.backup = new PostgresBackup(this, 'Backup', {
      pgToolsLayer: this.pgTools,
      runner: props.runner,
      source: props.source,
      databases: props.databases,
      vpc: props.vpc,
      bucket: this.bucket,
      postgresVersion: props.postgresVersion,
      ...(snapshotKeyArn ? { snapshotCopy: { region: drStack.region, encryptionKeyArn: snapshotKeyArn } } : {}),
      schedules,
      retention,
      vpcEndpoints: props.vpcEndpoints,
      dumpCompression: props.dumpCompression,
      dumpParallelism: props.dumpParallelism,
      dumpMemorySize: props.dumpMemorySize,
      notificationTopic: this.topic,
    });

    this.recoveryTest = new RecoveryTest(this, 'RecoveryTest', {
      bucket: this.bucket,
      sourceName: this.backup.sourceName,
      vpc: props.vpc,
      postgresVersion: props.postgresVersion,
      pgToolsLayer: this.pgTools,
      runner: props.runner,
      backups: TestedBackups.dumps({ database: testDatabase }),
      validationQueries: props.recoveryTest?.validationQueries,
      rpo: this.rpo,
      rto: this.rto,
      enforceRto: props.enforceRto ?? true,
      notificationTopic: this.topic,
      schedule: testSchedule,
      vpcEndpoints: props.vpcEndpoints,
      scratchSubnets: props.scratchSubnets,
    });

    const instanceType = props.failoverInstanceType ?? ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE);
    const strategies = props.failoverStrategies ?? [
      ...(snapshotsOn ? [FailoverStrategy.restoreSnapshot({ instanceType })] : []),
      FailoverStrategy.restoreDump({ instanceType, engineVersion: postgresEngineVersion(props.postgresVersion, fail), runner: props.runner }),
    ];
    const source = props.source.kind === 'instance'
      ? FailoverSource.instance(props.source.identifier)
      : props.source.kind === 'cluster'
        ? FailoverSource.cluster(props.source.identifier)
        : FailoverSource.endpoint();
    // The source name is a reference to the database in the primary stack; the DR stack sees the identifier it was given.
    const sourceName = drStack.resolve(this.backup.sourceName) as unknown;
    if (props.failoverStateMachineName === undefined && typeof sourceName !== 'string') {
      fail('the source name is known only at deployment, so the Failover state machine cannot be named after it: pass failoverStateMachineName.');
    }
    this.failoverStateMachineName = props.failoverStateMachineName ?? failoverStateMachineName(sourceName as string);
    this.failover = new Failover(drScope, 'Failover', {
      source,
      primaryRegion: primaryStack.region,
      sourceName: this.backup.sourceName,
      database: testDatabase,
      strategies,
      rpo: this.rpo,
      rto: this.rto,
      enforceRto: props.enforceRto ?? true,
      bucket: this.replica,
      vpc: props.drVpc,
      vpcEndpoints: props.vpcEndpoints,
      repoint: props.repoint,
      notificationTopic: this.drTopic,
      stateMachineName: this.failoverStateMachineName,
      ...(this.snapshotKey ? { snapshotEncryptionKey: this.snapshotKey } : {}),
    });
    // The cleanup (of both regions) never deletes the backup a running recovery test or failover is restoring. The
    // Failover's state machine has a fixed name, so the primary stack can address it in the DR region.
    this.backup.retention?.protectBackupsPickedBy(this.recoveryTest.stateMachine, this.failover.stateMachine);

    const sweeperNetwork = sweeperSecurityGroup(this, props.vpc, props.vpcEndpoints ?? false);
    this.sweeper = new ScratchSweeper(this, 'Sweeper', {
      workflows: [this.recoveryTest.stateMachine],
      bucket: this.bucket,
      vpc: props.vpc,
      securityGroup: sweeperNetwork.securityGroup,
      logsKey: this.backup.operationsKey,
      notificationTopic: this.topic,
      sourceName: this.backup.sourceName,
    });
    const drSweeperNetwork = sweeperSecurityGroup(drScope, props.drVpc, props.vpcEndpoints ?? false);
    this.drSweeper = new ScratchSweeper(drScope, 'Sweeper', {
      workflows: [this.failover.stateMachine],
      bucket: this.replica,
      vpc: props.drVpc,
      securityGroup: drSweeperNetwork.securityGroup,
      logsKey: this.failover.encryptionKey,
      notificationTopic: this.drTopic,
      sourceName: this.backup.sourceName,
    });
    this.monitoring = new BackupMonitoring(this, 'Monitoring', {
      topic: this.topic,
      vpc: props.vpc,
      backup: this.backup,
      recoveryTest: this.recoveryTest,
      sweeper: this.sweeper,
      rpo: this.rpo,
      logsKey: this.backup.operationsKey,
    });
    this.drMonitoring = new BackupMonitoring(drScope, 'Monitoring', {
      topic: this.drTopic,
      vpc: props.drVpc,
      failover: this.failover,
      sweeper: this.drSweeper,
      logsKey: this.failover.encryptionKey,
    });
    sweeperNetwork.register(this.sweeper.sweepFunction);
    drSweeperNetwork.register(this.drSweeper.sweepFunction);
  }
}

/**
 * The sweeper function's own security group (it calls AWS APIs over HTTPS and no database), registered with the VPC's
 * endpoints so that, with `vpcEndpoints`, the interface endpoints (whose private DNS answers for RDS and Secrets
 * Manager) let it in.
 */
function sweeperSecurityGroup(scope: Construct, vpc: ec2.IVpc, vpcEndpoints: boolean): { securityGroup: ec2.SecurityGroup; register: (fn: lambda.IFunction) => void } {
  const securityGroup = new ec2.SecurityGroup(scope, 'SweeperSecurityGroup', {
    vpc,
    description: `cdk-backup-dr ${scope.node.path}: the sweeper function (RDS, Secrets Manager, Step Functions, S3 APIs over HTTPS)`,
    allowAllOutbound: false,
  });
  securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs over HTTPS');
  const network = new FunctionNetwork(scope, {
    vpc,
    subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroup,
    vpcEndpoints,
    subject: 'PostgresDisasterRecovery',
  });
  return { securityGroup, register: (fn) => network.register(fn, [AwsApi.RDS, AwsApi.SECRETS_MANAGER, AwsApi.STEP_FUNCTIONS, AwsApi.S3]) };
}

/** `rds.PostgresEngineVersion` of a major version, for the default restore-dump strategy. */
function postgresEngineVersion(major: number, fail: (message: string) => never): rds.PostgresEngineVersion {
  const known: Readonly<Record<number, rds.PostgresEngineVersion>> = {
    13: rds.PostgresEngineVersion.VER_13,
    14: rds.PostgresEngineVersion.VER_14,
    15: rds.PostgresEngineVersion.VER_15,
    16: rds.PostgresEngineVersion.VER_16,
    17: rds.PostgresEngineVersion.VER_17,
  };
  return known[major] ?? fail(`postgresVersion ${major} has no default failover engine version here (13-17): pass failoverStrategies with your engineVersion.`);
}
