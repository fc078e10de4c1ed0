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
import { outsideTask } from '../../local/caller';
import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DescribeDBInstanceAutomatedBackupsCommandOutput, RestoreDBInstanceToPointInTimeCommandInput } from '@aws-sdk/client-rds';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Client, type ClientConfig } from 'pg';
import { handler as actHandler } from '../../lambda/failover/failover-act.handler';
import { handler as preflightHandler } from '../../lambda/failover/failover-preflight.handler';
import { handler as reportHandler } from '../../lambda/reporting/failover-report.handler';
import { handler as recoveryVerifyHandler } from '../../lambda/restore/recovery-verify.handler';
import { handler as repointHandler } from '../../lambda/failover/repoint.handler';
import { handler as restoreHandler } from '../../lambda/restore/restore.handler';
import { handler as restoreVerifyHandler } from '../../lambda/restore/restore-verify.handler';
import { NotReady } from '../../lambda/common/errors';
import { describeDbInstance } from '../../lambda/rds/instances';
import { rdsClient } from '../../lambda/rds/client';
import { Failover } from '../../lib/failover/failover';
import { RepointTarget } from '../../lib/failover/failover-repoint';
import { FailoverSource, FailoverStrategy } from '../../lib/failover/failover-strategy';
import { BackupBucket } from '../../lib/storage';
import { harnessEnv, type HarnessEnv } from '../support/env';
import { type LambdaContext, type LocalLambdaHandler, logicalIdOf } from '../support/workflow-harness';
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
      machine: logicalIdOf(failover.stateMachine),
      preflight: logicalIdOf(failover.preflightFunction),
      act: logicalIdOf(failover.actFunction),
      restore: logicalIdOf(required(failover.restoreFunction, 'restore function')),
      dumpVerify: logicalIdOf(required(failover.dumpVerifyFunction, 'dump verify function')),
      verify: logicalIdOf(required(failover.verifyFunction, 'verify function')),
      repoint: logicalIdOf(required(failover.repointFunction, 'repoint function')),
      report: logicalIdOf(failover.reportFunction),
      bucket: logicalIdOf(bucket.bucket),
      key: logicalIdOf(bucket.encryptionKey),
      topic: logicalIdOf(failover.notificationTopic as sns.Topic),
      subnetGroup: logicalIdOf(required(failover.databaseSubnetGroup, 'subnet group')),
      databaseSecurityGroup: logicalIdOf(failover.databaseSecurityGroup),
    },
  };
}

/** A handler `target`, as the state machine builds it. */
interface TargetInput {
  readonly secretArn: string;
  readonly host?: string;
  readonly port?: number;
  readonly database: string;
  readonly sslMode?: string;
}

/** One moto endpoint mapped to a database on the test server. */
export interface MappedDatabase {
  readonly identifier: string;
  readonly motoHost: string;
  readonly localDatabase: string;
  readonly role: string;
}

/** Maps moto database endpoints to databases on the harness server (see the module doc) and records what it did. */
export class FailoverEmulation {
  /** One sentence per mapping, for the report's `emulated`. */
  readonly notes: string[] = [];
  /** By moto host. */
  readonly mapped = new Map<string, MappedDatabase>();
  /** The roles created on the test server (shared by runs; drop them with {@link dropRoles} after every destroy). */
  readonly roles = new Set<string>();
  private readonly secrets = new SecretsManagerClient({});
  /** Read outside any handler: while a handler runs, process.env is the function's (no PG* variables). */
  private readonly harness: HarnessEnv = harnessEnv();

  /** @param sourceDatabase the seeded database a snapshot, point in time or replica stands in for */
  constructor(private readonly sourceDatabase: string) {}

  clientConfig(database: string): ClientConfig {
    const { pg } = this.harness;
    return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database };
  }

  async withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client(this.clientConfig(database));
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  /**
   * Maps a moto database (found by `identifier` in `region`) to a database on the test server, after checking that
   * moto reports `host` for it: `copy` makes it a copy of the source database, otherwise it is left to be created by
   * the restore. The master user of the secret becomes a role with the secret's password.
   */
  async register(region: string, identifier: string, host: string, port: number, secretArn: string, content: 'copy' | 'empty'): Promise<MappedDatabase> {
    const existing = this.mapped.get(host);
    if (existing) return existing;
    const instance = await describeDbInstance(region, identifier);
    if (!instance?.endpoint || instance.endpoint.host !== host || instance.endpoint.port !== port) {
      throw new Error(`${host}:${port} is not the endpoint moto reports for ${identifier} in ${region}`);
    }
    const secret = await this.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const credentials = JSON.parse(secret.SecretString ?? '{}') as { username?: string; password?: string };
    if (!credentials.username || !credentials.password) throw new Error(`secret ${secretArn} holds no credentials`);
    const role = credentials.username;
    const localDatabase = `fo_${randomBytes(5).toString('hex')}`;
    await this.withClient('postgres', async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
      await c.query(`${verb} ROLE ${c.escapeIdentifier(role)} LOGIN CREATEDB PASSWORD ${c.escapeLiteral(credentials.password as string)}`);
      await c.query(`GRANT pg_read_all_data TO ${c.escapeIdentifier(role)}`);
      if (content === 'copy') {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(localDatabase)} TEMPLATE ${c.escapeIdentifier(this.sourceDatabase)} OWNER ${c.escapeIdentifier(role)}`);
      }
    });
    this.roles.add(role);
    const entry = { identifier, motoHost: host, localDatabase, role };
    this.mapped.set(host, entry);
    const { pg } = this.harness;
    this.notes.push(
      `RDS ${identifier} (moto endpoint ${host}:${port}) has no PostgreSQL server: it was mapped to database ${localDatabase} on the test server ` +
        `${pg.host}:${pg.port}, without TLS, ${content === 'copy' ? `a copy of the seeded source database standing in for its content` : 'created by the restore'}; ` +
        `its master user ${role} was created there with the password from ${secret.Name ?? secretArn}`,
    );
    return entry;
  }

  /** Rewrites a target naming a mapped moto endpoint to the test server (same secret: the role has its password). */
  map(target: TargetInput): TargetInput {
    const entry = target.host === undefined ? undefined : this.mapped.get(target.host);
    if (!entry) throw new Error(`the target ${target.host}:${target.port} is not a mapped moto endpoint`);
    const { pg } = this.harness;
    return { secretArn: target.secretArn, host: pg.host, port: pg.port, database: entry.localDatabase, sslMode: 'disable' };
  }

  /** The mapped database of a moto identifier, if any. */
  byIdentifier(identifier: string): MappedDatabase | undefined {
    return [...this.mapped.values()].find((m) => m.identifier === identifier);
  }

  async dropFor(identifier: string): Promise<void> {
    const entry = this.byIdentifier(identifier);
    if (entry) await this.withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(entry.localDatabase)} WITH (FORCE)`));
  }

  /** Drops the mapped databases (the roles stay: other runs' databases may belong to them). */
  async destroy(): Promise<void> {
    await this.withClient('postgres', async (c) => {
      for (const entry of this.mapped.values()) await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(entry.localDatabase)} WITH (FORCE)`);
    });
    this.secrets.destroy();
  }
}

/** Drops roles the emulations created, once every database they own is gone. */
export async function dropRoles(roles: Iterable<string>): Promise<void> {
  const { pg } = harnessEnv();
  const client = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: 'postgres' });
  await client.connect();
  try {
    for (const role of new Set(roles)) {
      await client.query(`REVOKE pg_read_all_data FROM ${client.escapeIdentifier(role)}`).catch(() => undefined);
      await client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(role)}`);
    }
  } finally {
    await client.end();
  }
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

/** Fault injection for what moto cannot do. */
export interface FailoverFaults {
  /** `wait` throws NotReady every time (a database stuck in "creating"). */
  readonly waitNeverReady?: boolean;
  /** `delete-secret` throws this every time (e.g. Secrets Manager unreachable). */
  readonly deleteSecretFails?: Error;
}

/** The emulation and faults of the run in progress. */
export interface ActiveRun {
  readonly emulation: FailoverEmulation;
  readonly faults: FailoverFaults;
}

/**
 * The local handlers of the Failover functions, by logical id. `active` returns the run in progress, so one
 * LocalWorkflow (built once: validating the definition takes a while) serves every run of a test file.
 */
export function failoverHandlers(ids: ReturnType<typeof failoverStack>['ids'], active: () => ActiveRun, extraNotes: () => string[]): Record<string, LocalLambdaHandler> {
  const region = harnessEnv().awsRegion;
  const mapTarget = <T extends { target: TargetInput }>(event: T): T => ({ ...event, target: active().emulation.map(event.target) });
  return {
    [ids.preflight]: async (event: never) => {
      const input = event as { action?: string; target?: TargetInput };
      return preflightHandler(input.action === 'replica-lag' ? mapTarget(input as { target: TargetInput }) : input);
    },
    [ids.act]: async (event: never) => {
      const input = event as { action?: string; subject?: string; target?: TargetInput; strategy?: string };
      const { emulation, faults } = active();
      if (input.action === 'wait' && faults.waitNeverReady) {
        throw new NotReady('the database is "creating" (injected by the test: moto makes instances available at once)');
      }
      if (input.action === 'delete-secret' && faults.deleteSecretFails) throw faults.deleteSecretFails;
      if (input.action === 'confirm-writable') return actHandler(mapTarget(input as { target: TargetInput }));
      const result = await actHandler(input);
      if (input.action === 'wait' && input.subject === 'created' && 'endpoint' in result) {
        await outsideTask(async () => {
          const tags = (await describeDbInstance(region, result.identifier))?.tags ?? {};
          const content = tags['cdk-backup-dr:strategy'] === 'restore-dump' ? 'empty' : 'copy';
          await emulation.register(region, result.identifier, result.endpoint.host, result.endpoint.port, result.secretArn, content);
        });
      }
      if (input.action === 'delete-database' && 'names' in result) {
        for (const name of result.names) await emulation.dropFor(name);
      }
      return result;
    },
    [ids.restore]: async (event: never, context: LambdaContext) => restoreHandler(mapTarget(event as { target: TargetInput } & Record<string, unknown>), context),
    [ids.dumpVerify]: async (event: never) => restoreVerifyHandler(mapTarget(event as { target: TargetInput } & Record<string, unknown>)),
    [ids.verify]: async (event: never) => recoveryVerifyHandler(mapTarget(event as { target: TargetInput } & Record<string, unknown>)),
    [ids.repoint]: repointHandler,
    [ids.report]: async (event: never) => {
      const input = event as Record<string, unknown>;
      const emulated = [
        ...active().emulation.notes,
        ...extraNotes(),
        'pg_restore came from the host PATH (PostgreSQL client 15), not from the PgToolsLayer',
        'moto creates, promotes and deletes RDS instances at once: no real provisioning, promotion or deletion time is in the timings',
      ];
      return reportHandler({ ...input, emulated });
    },
  };
}
