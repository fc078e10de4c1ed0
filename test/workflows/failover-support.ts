/**
 * Runs the synthesized Failover state machine locally (local/'s runner) against moto and the harness' PostgreSQL,
 * with the real handlers. The DR region of these tests is the harness region (us-east-1, where the runner sends SDK
 * integrations such as sns:publish); the "primary" region is us-west-2.
 *
 * What the emulator cannot do is mapped here, in the test, and reported in the report's `emulated` — never in product
 * code:
 * - moto's RDS instances have no PostgreSQL server. When the act step reports a new database available, its moto
 *   endpoint is checked against what moto describes and mapped to a fresh database on the test server: empty for a
 *   dump restore (pg_restore creates it), else a copy (`CREATE DATABASE … TEMPLATE`) of the seeded source database —
 *   standing in for the snapshot / point in time / replica content. The database's master user is created on the test
 *   server as a role with the password from the failover's secret (so the handlers really authenticate with what the
 *   act step stored). Handlers' `target`s naming a mapped endpoint are rewritten to that database, without TLS.
 * - moto has no cross-region automated backup replication: a stand-in instance with the source's identifier in the
 *   DR region plays the replicated backups; DescribeDBInstanceAutomatedBackups answers are completed with the ARN and
 *   restore window AWS returns, and a point-in-time restore from that ARN is sent to moto as a restore from the
 *   stand-in (middleware on the handlers' DR-region RDS client, installed by the test).
 * - moto makes instances available (and deletes them) at once; a database that never becomes available is injected.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { FailoverReport } from '../../lambda/reporting/failover-report';
import { FAILOVER_STATES as S } from '../../lib/failover/failover-workflow';
import { dropRoles as dropServerRoles, FailoverEmulation as LocalFailoverEmulation } from '../../local/database-mapping';
import type { DescribeDBInstanceAutomatedBackupsCommandOutput, RestoreDBInstanceToPointInTimeCommandInput } from '@aws-sdk/client-rds';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { rdsClient } from '../../lambda/rds/client';
import { Failover } from '../../lib/failover/failover';
import { RepointTarget } from '../../lib/failover/failover-repoint';
import { FailoverSource, FailoverStrategy } from '../../lib/failover/failover-strategy';
import { BackupBucket } from '../../lib/storage';
import { harnessEnv } from '../support/env';
import { harnessServer } from './recovery-test-support';
import { type ActiveRun, failoverHandlers as localFailoverHandlers, type FailoverIds } from '../../local/emulated-handlers';
import { type LocalLambdaHandler, type LocalWorkflowResult, logicalIdOf } from '../support/workflow-harness';
import { threeTierVpc } from '../support/vpc';

/** moto's account. */
export const LOCAL_ACCOUNT = '123456789012';
/** The region the primary database "lives" in, in these tests. */
export const PRIMARY_REGION = 'us-west-2';

/** What the test stack is built from (moto resources created before synthesis). */
export interface FailoverStackOptions {
  readonly sourceIdentifier: string;
  readonly sourceName: string;
  readonly database: string;
  readonly replicaIdentifier: string;
  readonly replicaSecretArn: string;
  readonly appSecretArn: string;
  readonly hostedZoneId: string;
  readonly zoneName: string;
  readonly parameterName: string;
  readonly masterUsername: string;
  readonly lagQuery?: string;
  readonly validationQueries: ReadonlyArray<{ readonly name: string; readonly sql: string }>;
  readonly rpo: Duration;
  readonly waitTimeout: Duration;
}

/** A DR-region stack with a Failover configured with every strategy, synthesized, with the logical ids the runner needs. */
export function failoverStack(options: FailoverStackOptions) {
  const app = new App();
  const stack = new Stack(app, 'FailoverLocal', { env: { account: LOCAL_ACCOUNT, region: harnessEnv().awsRegion } });
  const vpc = threeTierVpc(stack);
  const bucket = new BackupBucket(stack, 'ReplicaBackups');
  const replica = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Replica', {
    instanceIdentifier: options.replicaIdentifier,
    instanceEndpointAddress: `${options.replicaIdentifier}.local`,
    port: 5432,
    securityGroups: [],
  });
  const replicaSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ReplicaSecret', options.replicaSecretArn);
  const appSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'AppSecret', options.appSecretArn);
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: options.hostedZoneId, zoneName: options.zoneName });
  const instanceType = ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO);
  const failover = new Failover(stack, 'Failover', {
    source: FailoverSource.instance(options.sourceIdentifier),
    primaryRegion: PRIMARY_REGION,
    sourceName: options.sourceName,
    database: options.database,
    rpo: options.rpo,
    bucket,
    vpc,
    strategies: [
      FailoverStrategy.promoteReplica({ replica, credentials: replicaSecret, ...(options.lagQuery !== undefined ? { lagQuery: options.lagQuery } : {}) }),
      FailoverStrategy.restoreSnapshot({ instanceType }),
      FailoverStrategy.restoreDump({
        engineVersion: rds.PostgresEngineVersion.VER_15,
        instanceType,
        masterUsername: options.masterUsername,
        pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:${harnessEnv().awsRegion}:${LOCAL_ACCOUNT}:layer:pg-tools:1`),
      }),
      FailoverStrategy.pointInTime({ instanceType }),
    ],
    repoint: [
      RepointTarget.ssmParameter(options.parameterName),
      RepointTarget.secret(appSecret),
      RepointTarget.cnameRecord(zone, `db.${options.zoneName}`, { ttl: Duration.seconds(30) }),
    ],
    validationQueries: options.validationQueries,
    waitTimeout: options.waitTimeout,
  });
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the test Failover has no ${what}`);
    return value;
  };
  return {
    failover,
    template: Template.fromStack(stack).toJSON(),
    ids: {
      ...commonFailoverIds(failover, bucket),
      restore: logicalIdOf(required(failover.restoreFunction, 'restore function')),
      dumpVerify: logicalIdOf(required(failover.dumpVerifyFunction, 'dump verify function')),
      verify: logicalIdOf(required(failover.verifyFunction, 'verify function')),
      repoint: logicalIdOf(required(failover.repointFunction, 'repoint function')),
    },
  };
}

/** The logical ids every test Failover's runner needs: its state machine, the functions every strategy has, the bucket, the network. */
export function commonFailoverIds(failover: Failover, bucket: BackupBucket) {
  if (failover.databaseSubnetGroup === undefined) throw new Error('the test Failover has no subnet group');
  return {
    machine: logicalIdOf(failover.stateMachine),
    preflight: logicalIdOf(failover.preflightFunction),
    act: logicalIdOf(failover.actFunction),
    report: logicalIdOf(failover.reportFunction),
    bucket: logicalIdOf(bucket.bucket),
    key: logicalIdOf(bucket.encryptionKey),
    topic: logicalIdOf(failover.notificationTopic as sns.Topic),
    subnetGroup: logicalIdOf(failover.databaseSubnetGroup),
    databaseSecurityGroup: logicalIdOf(failover.databaseSecurityGroup),
  };
}

/**
 * Maps moto database endpoints to databases on the harness server (see local/database-mapping.ts, shared with the
 * drill) and records what it did.
 */
export class FailoverEmulation extends LocalFailoverEmulation {
  /** @param sourceDatabase the seeded database a snapshot, point in time or replica stands in for */
  constructor(sourceDatabase: string) {
    super(harnessServer(), sourceDatabase);
  }
}

/** Drops roles the emulations created, once every database they own is gone. */
export async function dropRoles(roles: Iterable<string>): Promise<void> {
  await dropServerRoles(harnessServer(), roles);
}

/**
 * Emulates replicated automated backups on the handlers' DR-region RDS client (see the module doc): answers of
 * DescribeDBInstanceAutomatedBackups for `standInIdentifier` get an ARN and a restore window; a point-in-time restore
 * from that ARN goes to moto as a restore from the stand-in instance. Returns the ARN.
 */
export function emulateReplicatedBackups(region: string, standInIdentifier: string, latestRestorableTime: () => Date, notes: string[]): string {
  const arn = `arn:aws:rds:${region}:${LOCAL_ACCOUNT}:auto-backup:ab-emulated-${standInIdentifier}`;
  const client = rdsClient(region);
  const name = `failover-test-replicated-backups-${standInIdentifier}`;
  client.middlewareStack.remove(name);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'RestoreDBInstanceToPointInTimeCommand') {
        const input = args.input as RestoreDBInstanceToPointInTimeCommandInput;
        if (input.SourceDBInstanceAutomatedBackupsArn === arn) {
          const rewritten = { ...input, SourceDBInstanceIdentifier: standInIdentifier };
          delete rewritten.SourceDBInstanceAutomatedBackupsArn;
          return next({ ...args, input: rewritten });
        }
      }
      const result = await next(args);
      if (context.commandName === 'DescribeDBInstanceAutomatedBackupsCommand') {
        const output = result.output as DescribeDBInstanceAutomatedBackupsCommandOutput;
        for (const backup of output.DBInstanceAutomatedBackups ?? []) {
          if (backup.DBInstanceIdentifier !== standInIdentifier) continue;
          const latest = latestRestorableTime();
          Object.assign(backup, {
            DBInstanceAutomatedBackupsArn: arn,
            Region: PRIMARY_REGION,
            Status: 'replicating',
            RestoreWindow: { EarliestTime: new Date(latest.getTime() - 7 * 86_400_000), LatestTime: latest },
          });
        }
      }
      return result;
    },
    { step: 'initialize', name },
  );
  notes.push(
    `moto has no cross-region automated backup replication: instance ${standInIdentifier} in ${region} stood in for the replicated backups of the ` +
      `${PRIMARY_REGION} source; DescribeDBInstanceAutomatedBackups was completed with ARN ${arn} and a restore window, and the point-in-time ` +
      'restore from that ARN was sent to moto as a restore from the stand-in instance',
  );
  return arn;
}

export { type ActiveRun, type FailoverFaults } from '../../local/emulated-handlers';

/** The local handlers of the Failover functions (local/emulated-handlers.ts), in the harness region. */
export function failoverHandlers(ids: FailoverIds, active: () => ActiveRun, extraNotes: () => string[]): Record<string, LocalLambdaHandler> {
  return localFailoverHandlers(ids, harnessEnv().awsRegion, active, extraNotes);
}

/** The report a run wrote to `bucket` (the Report state's `reportKey`), if it got that far. */
export async function writtenReport(s3: S3Client, bucket: string, result: LocalWorkflowResult): Promise<FailoverReport | undefined> {
  const reportKey = (result.calls.find((c) => c.state === S.report && c.output !== undefined)?.output as { reportKey?: string } | undefined)?.reportKey;
  if (!reportKey) return undefined;
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
  return JSON.parse((await object.Body?.transformToString()) ?? '') as FailoverReport;
}

/** Whether the secret exists and is not scheduled for deletion. */
export async function secretExists(secrets: SecretsManagerClient, name: string): Promise<boolean> {
  try {
    return (await secrets.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate === undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw error;
  }
}
