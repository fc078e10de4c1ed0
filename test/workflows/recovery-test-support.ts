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
import { UnreportedEndNotifier } from '../../lib/common/unreported-end-notifier';
import { type LocalPgServer, ScratchEndpointMapping as LocalScratchEndpointMapping } from '../../local/database-mapping';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { type BackupRunner, RecoveryTest, RecoveryTestSchedule, TestedBackups, type ValidationQuery } from '../../lib';
import { BackupBucket, type BackupBucketAttributes, type IBackupBucket } from '../../lib/storage';
import type { Client } from 'pg';
import { harnessEnv } from '../support/env';
import { logicalIdOf } from '../support/workflow-harness';
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
  /** @default - the Lambda runner */
  readonly runner?: BackupRunner;
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
    pgToolsLayer: options.runner?.kind === 'fargate' ? undefined : lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT}:layer:pg-tools:1`),
    runner: options.runner,
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
      restoreTask: test.restoreTask ? logicalIdOf(test.restoreTask.taskDefinition) : undefined,
      verify: logicalIdOf(test.verifyFunction),
      report: logicalIdOf(test.reportFunction),
      topic: logicalIdOf(test.notificationTopic as sns.Topic),
      unreportedEnd: logicalIdOf(UnreportedEndNotifier.find(test)!.function),
      subnetGroup: logicalIdOf(test.scratchSubnetGroup),
      scratchSecurityGroup: logicalIdOf(test.scratchSecurityGroup),
    },
  };
}

/** The harness' PostgreSQL as the server the emulation maps to. */
export function harnessServer(): LocalPgServer {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, label: 'the test server' };
}

/**
 * Maps moto scratch instances to fresh databases on the harness' PostgreSQL (see local/database-mapping.ts, shared
 * with the drill), and records what it mapped.
 */
export class ScratchEndpointMapping extends LocalScratchEndpointMapping {
  /** @param standIn see {@link LocalScratchEndpointMapping} */
  constructor(standIn?: string) {
    super(harnessServer(), harnessEnv().awsRegion, standIn);
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

export { recoveryHandlers, type ScratchFaults } from '../../local/emulated-handlers';

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
