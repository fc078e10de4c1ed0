/**
 * Runs the synthesized RecoveryTest state machine locally (local/'s runner) against moto and the harness'
 * PostgreSQL, with the real handlers.
 *
 * What the emulator cannot do is mapped here, in the test, and reported — never in product code:
 * - moto's RDS instance has no PostgreSQL server behind it. The restore and verify handlers' `target` (the scratch
 *   instance's endpoint and scratch secret) is rewritten to a fresh database on the harness server, with the
 *   harness credentials and without TLS; `delete-database` drops that database after deleting the moto instance.
 *   Before rewriting, the mapping checks that the endpoint is the one moto reports for this execution's scratch
 *   instance and that the scratch secret exists.
 * - pg_restore is the host's (PATH), not the PgToolsLayer's.
 * Each mapping adds a sentence to `notes`, which the report handler's event gets as `emulated`, so the report in
 * the bucket says the run was emulated.
 */
import { outsideTask } from '../../local/caller';
import { SCRATCH_SECRET_PREFIX } from '../../lambda/common/names';
import { randomBytes } from 'node:crypto';
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { handler as pickHandler } from '../../lambda/selection/recovery-pick.handler';
import { handler as recoveryVerifyHandler } from '../../lambda/restore/recovery-verify.handler';
import { handler as reportHandler } from '../../lambda/reporting/recovery-report.handler';
import { handler as restoreHandler } from '../../lambda/restore/restore.handler';
import { handler as restoreVerifyHandler } from '../../lambda/restore/restore-verify.handler';
import { handler as scratchHandler } from '../../lambda/rds/scratch.handler';
import { NotReady } from '../../lambda/common/errors';
import { describeDbInstance } from '../../lambda/rds/instances';
import { RecoveryTest, RecoveryTestSchedule, TestedBackups, type ValidationQuery } from '../../lib';
import { BackupBucket, type BackupBucketAttributes, type IBackupBucket } from '../../lib/storage';
import { Client, type ClientConfig } from 'pg';
import { harnessEnv, type HarnessEnv } from '../support/env';
import { type LambdaContext, type LocalLambdaHandler, logicalIdOf } from '../support/workflow-harness';
import { threeTierVpc } from '../support/vpc';

/** moto's account: ARNs in the template then match what moto returns. */
export const LOCAL_ACCOUNT = '123456789012';

/** Options of {@link recoveryTestStack}. */
export interface RecoveryTestStackOptions {
  readonly sourceName: string;
  /** The database of the dumps tested (ignored when `backups` is given). */
  readonly database: string;
  /** @default TestedBackups.dumps({ database }) */
  readonly backups?: TestedBackups;
  readonly validationQueries?: ValidationQuery[];
  readonly rpo?: Duration;
  readonly rto?: Duration;
  readonly enforceRto?: boolean;
  /**
   * The report function's RTO target, seconds, instead of `rto`'s: the local engine recovers in seconds, below the
   * shortest `rto` the construct accepts (one minute), so a test of an RTO breach lowers the target here.
   * @default - `rto`
   */
  readonly reportRtoSecondsOverride?: number;
  /** @default false */
  readonly restoreRoles?: boolean;
}

/** A stack with a BackupBucket and a dump RecoveryTest, synthesized, with the logical ids the runner needs. */
export function recoveryTestStack(options: RecoveryTestStackOptions) {
  const app = new App();
  const stack = new Stack(app, 'RecoveryTestLocal', { env: { account: LOCAL_ACCOUNT, region: harnessEnv().awsRegion } });
  const backups = new BackupBucket(stack, 'Backups');
  const built = buildRecoveryTest(stack, backups, options);
  return { ...built, ids: { ...built.ids, bucket: logicalIdOf(backups.bucket), key: logicalIdOf(backups.encryptionKey) } };
}

/**
 * A stack of another app that imports an existing backup bucket (`BackupBucket.fromBucketAttributes`) and runs a dump
 * RecoveryTest against it, synthesized, with the logical ids the runner needs (none for the bucket: it is not here).
 */
export function importedBucketRecoveryTestStack(attributes: BackupBucketAttributes, options: RecoveryTestStackOptions) {
  const app = new App();
  const stack = new Stack(app, 'RecoveryTestOtherApp', { env: { account: LOCAL_ACCOUNT, region: harnessEnv().awsRegion } });
  return buildRecoveryTest(stack, BackupBucket.fromBucketAttributes(stack, 'Backups', attributes), options);
}

/** The stack of the app that owns the bucket: a BackupBucket only, with the logical ids of its bucket and key. */
export function bucketOwnerStack() {
  const stack = new Stack(new App(), 'BackupsOwner', { env: { account: LOCAL_ACCOUNT, region: harnessEnv().awsRegion } });
  const backups = new BackupBucket(stack, 'Backups');
  return { template: Template.fromStack(stack).toJSON(), ids: { bucket: logicalIdOf(backups.bucket), key: logicalIdOf(backups.encryptionKey) } };
}

function buildRecoveryTest(stack: Stack, backups: IBackupBucket, options: RecoveryTestStackOptions) {
  const vpc = threeTierVpc(stack);
  const test = new RecoveryTest(stack, 'RecoveryTest', {
    bucket: backups,
    sourceName: options.sourceName,
    backups: options.backups ?? TestedBackups.dumps({ database: options.database }),
    vpc,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT}:layer:pg-tools:1`),
    postgresVersion: 15,
    validationQueries: options.validationQueries,
    rpo: options.rpo,
    rto: options.rto,
    enforceRto: options.enforceRto,
    restoreRoles: options.restoreRoles,
    schedule: RecoveryTestSchedule.disabled(),
  });
  if (options.reportRtoSecondsOverride !== undefined) test.reportFunction.addEnvironment('RTO_SECONDS', String(options.reportRtoSecondsOverride));
  return {
    kind: test.backups.kind,
    template: Template.fromStack(stack).toJSON(),
    ids: {
      machine: logicalIdOf(test.stateMachine),
      pick: logicalIdOf(test.pickFunction),
      scratch: logicalIdOf(test.scratchFunction),
      restore: test.restoreFunction ? logicalIdOf(test.restoreFunction) : undefined,
      verify: logicalIdOf(test.verifyFunction),
      report: logicalIdOf(test.reportFunction),
      topic: logicalIdOf(test.notificationTopic as sns.Topic),
      subnetGroup: logicalIdOf(test.scratchSubnetGroup),
      scratchSecurityGroup: logicalIdOf(test.scratchSecurityGroup),
    },
  };
}

/** A restore/verify handler target, as the state machine builds it. */
interface TargetInput {
  readonly secretArn: string;
  readonly host?: string;
  readonly port?: number;
  readonly database: string;
  readonly sslMode?: string;
}

/** What the endpoint mapping did in one execution. */
export interface MappedScratch {
  readonly identifier: string;
  readonly motoHost: string;
  /** The database on the harness server standing in for the scratch instance's database. */
  readonly localDatabase: string;
  /** The scratch secret's password (to prove it never appears in the execution history). */
  readonly scratchPassword: string;
}

/**
 * Maps moto scratch instances to fresh databases on the harness' PostgreSQL (see the module doc), and records what
 * it mapped.
 */
export class ScratchEndpointMapping {
  /**
   * @param standIn an existing database on the harness server that stands in for the scratch database's contents
   *   (a restored snapshot already holds its data); it is not dropped. Default: a fresh database per scratch
   *   instance, dropped when the instance is deleted.
   */
  constructor(private readonly standIn?: string) {}

  /** One sentence per mapping, for the report's `emulated`. */
  readonly notes: string[] = [];
  /** By scratch host. */
  readonly mapped = new Map<string, MappedScratch>();
  private harnessSecretArn?: string;
  private readonly secrets = new SecretsManagerClient({});
  /**
   * Read once, outside any handler: while a handler runs, process.env is that function's environment (which rightly
   * holds no PG* variables), so the harness helpers that read the environment cannot be used from the wrappers.
   */
  private readonly harness: HarnessEnv = harnessEnv();

  /** A client config for a database on the harness server. */
  clientConfig(database: string): ClientConfig {
    const { pg } = this.harness;
    return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database };
  }

  /** Runs `fn` with a client connected to `database` on the harness server. */
  async withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client(this.clientConfig(database));
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  private async drop(database: string): Promise<void> {
    await this.withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`));
  }

  /**
   * The harness credentials as an RDS-style secret in moto, named like a scratch secret: the functions read it with
   * the rights they have for the scratch secret it stands in for (the IAM contract checks those reads).
   */
  private async harnessSecret(): Promise<string> {
    if (this.harnessSecretArn) return this.harnessSecretArn;
    const { pg } = this.harness;
    const out = await this.secrets.send(
      new CreateSecretCommand({
        Name: `${SCRATCH_SECRET_PREFIX}recovery-test-harness-${randomBytes(5).toString('hex')}`,
        SecretString: JSON.stringify({ engine: 'postgres', username: pg.user, password: pg.password, host: pg.host, port: pg.port }),
      }),
    );
    if (!out.ARN) throw new Error('CreateSecret returned no ARN');
    this.harnessSecretArn = out.ARN;
    return out.ARN;
  }

  /** Rewrites a target aimed at a moto scratch instance to the harness server, after checking it is one. */
  async map(target: TargetInput): Promise<TargetInput> {
    const { pg, awsRegion } = this.harness;
    if (target.host === undefined) throw new Error('the state machine passed no host for the scratch database');
    let entry = this.mapped.get(target.host);
    if (!entry) {
      const identifier = target.host.split('.')[0];
      const instance = await describeDbInstance(awsRegion, identifier);
      if (!instance?.endpoint || instance.endpoint.host !== target.host || instance.endpoint.port !== target.port) {
        throw new Error(`target ${target.host}:${target.port} is not the endpoint moto reports for scratch instance ${identifier}`);
      }
      const secret = await this.secrets.send(new GetSecretValueCommand({ SecretId: target.secretArn }));
      const scratch = JSON.parse(secret.SecretString ?? '{}') as { username?: string; password?: string };
      if (!scratch.password || !scratch.username) throw new Error(`scratch secret ${target.secretArn} holds no credentials`);
      entry = {
        identifier,
        motoHost: target.host,
        localDatabase: this.standIn ?? `rt_${randomBytes(5).toString('hex')}`,
        scratchPassword: scratch.password,
      };
      this.mapped.set(target.host, entry);
      this.notes.push(
        `scratch instance ${identifier} (moto endpoint ${target.host}:${target.port}) has no PostgreSQL server: ` +
          (this.standIn === undefined ? 'restore and verify ran against the fresh database' : "the verify ran against the snapshot's source database") +
          ` ${entry.localDatabase} on the test server ${pg.host}:${pg.port} with the test credentials, without TLS ` +
          `(the scratch secret ${secret.Name ?? target.secretArn} was checked to exist, then replaced)`,
      );
    }
    return { secretArn: await this.harnessSecret(), host: pg.host, port: pg.port, database: entry.localDatabase, sslMode: 'disable' };
  }

  /** Drops the stand-in database of a deleted scratch instance (never a given stand-in). */
  async dropFor(identifier: string): Promise<void> {
    if (this.standIn !== undefined) return;
    for (const entry of this.mapped.values()) {
      if (entry.identifier === identifier) await this.drop(entry.localDatabase);
    }
  }

  async destroy(): Promise<void> {
    if (this.standIn === undefined) for (const entry of this.mapped.values()) await this.drop(entry.localDatabase);
    this.secrets.destroy();
  }
}

/** Whether a secret exists in moto (and is not deleted). */
export async function secretExists(name: string): Promise<boolean> {
  const client = new SecretsManagerClient({});
  try {
    const out = await client.send(new DescribeSecretCommand({ SecretId: name }));
    return out.DeletedDate === undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/** Fault injection for the scratch handler, for what moto cannot do (an instance that never becomes available). */
export interface ScratchFaults {
  /** `wait` throws NotReady every time (an instance stuck in "creating"). */
  waitNeverReady?: boolean;
  /** `delete-secret` throws this error every time. */
  deleteSecretFails?: Error;
}

/** The local handlers of the RecoveryTest functions, by logical id. */
export function recoveryHandlers(
  ids: ReturnType<typeof buildRecoveryTest>['ids'],
  mapping: ScratchEndpointMapping,
  faults: ScratchFaults,
  observe: { afterVerify?: (database: string, mapping: ScratchEndpointMapping) => Promise<void> } = {},
): Record<string, LocalLambdaHandler> {
  return {
    [ids.pick]: pickHandler,
    [ids.scratch]: async (event: never) => {
      const action = (event as { action?: string }).action;
      if (action === 'wait' && faults.waitNeverReady) {
        throw new NotReady('scratch instance is "creating" (injected by the test: moto makes instances available at once)');
      }
      if (action === 'delete-secret' && faults.deleteSecretFails) throw faults.deleteSecretFails;
      const result = await scratchHandler(event);
      if (action === 'delete-database' && 'names' in result) {
        for (const name of result.names) await mapping.dropFor(name);
      }
      return result;
    },
    ...(ids.restore !== undefined
      ? {
          [ids.restore]: async (event: never, context: LambdaContext) => {
            const input = event as { target: TargetInput };
            return restoreHandler({ ...input, target: await outsideTask(() => mapping.map(input.target)) }, context);
          },
        }
      : {}),
    [ids.verify]: async (event: never) => {
      const input = event as { target: TargetInput };
      const target = await outsideTask(() => mapping.map(input.target));
      const result = ids.restore !== undefined ? await restoreVerifyHandler({ ...input, target }) : await recoveryVerifyHandler({ ...input, target });
      await observe.afterVerify?.(target.database, mapping);
      return result;
    },
    [ids.report]: async (event: never) => {
      const input = event as Record<string, unknown>;
      const emulated = [
        ...mapping.notes,
        ...(ids.restore !== undefined ? ['pg_restore came from the host PATH (PostgreSQL client 15), not from the PgToolsLayer'] : []),
        'moto creates, restores and deletes RDS instances at once: no real provisioning or deletion time is in the timings',
      ];
      return reportHandler({ ...input, emulated });
    },
  };
}

/** Per-table row count and content checksum (md5 of the rows' text in a fixed order), sorted by schema and name. */
export interface TableContent {
  readonly schema: string;
  readonly name: string;
  readonly rows: number;
  readonly md5: string;
}

/** {@link TableContent} of every user table, with the given client. */
export async function tableContents(client: Client): Promise<TableContent[]> {
  const tables = await client.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
    ORDER BY n.nspname::text COLLATE "C", c.relname::text COLLATE "C"`);
  const out: TableContent[] = [];
  for (const { schema, name } of tables.rows) {
    const qualified = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
    const result = await client.query<{ rows: string; md5: string | null }>(
      `SELECT count(*)::text AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${qualified} t`,
    );
    out.push({ schema, name, rows: Number(result.rows[0].rows), md5: result.rows[0].md5 ?? '' });
  }
  return out;
}
