/**
 * Restore handler: `pg_restore` of a backup (manifest key in BUCKET_NAME) into a target database, streamed from S3
 * with the bytes re-hashed against the manifest. The target's credentials come from an RDS-style Secrets Manager
 * secret at run time and are never logged.
 *
 * How large a dump one invocation handles: the stream path (jobs 1, the default) uses no disk and constant memory,
 * so the limit is time: Lambda stops at 15 minutes, and the restore is aborted (pg_restore killed, a database this
 * call created dropped) 30 seconds before that. `jobs > 1` downloads the dump to /tmp first, so the dump must also
 * fit in the function's ephemeral storage (at most 10240 MiB).
 */
import { timeLimitReason } from '../common/runner';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidInput, requireEnv } from '../common/errors';
import { logger } from '../common/logger';
import { runRestore } from './restore-core';
import type { RolesOutcome } from './roles';
import { parseManifestKey, parseRestoreTarget, resolveRestoreTarget, type RestoreTargetInput } from './restore-target';
import { expectObject } from '../common/validate';
import { parseSelectionInput } from './partial-restore';

export type { RestoreTargetInput } from './restore-target';
export { ChecksumMismatch, ManifestUnusable, RestoreAborted, RestoreFailed } from '../common/errors';

/** Input of the restore handler. */
export interface RestoreInput {
  /** Key of the backup's manifest in BUCKET_NAME. */
  readonly manifestKey: string;
  readonly target: RestoreTargetInput;
  /**
   * Create `target.database` first (failing if it exists); it is dropped again if the restore fails.
   * @default false
   */
  readonly createDatabase?: boolean;
  /**
   * Parallel pg_restore jobs; above 1 the dump is downloaded to /tmp first (it must fit there).
   * @default 1
   */
  readonly jobs?: number;
  /**
   * Restore only these schemas (see lambda/restore/partial-restore.ts).
   * @default - every schema
   */
  readonly schemas?: readonly string[];
  /**
   * Restore only these tables, `schema.table` or `table` (definition and data only, no indexes or constraints).
   * @default - every table
   */
  readonly tables?: readonly string[];
  /**
   * Recreate the source's roles (saved beside the dump) first, then restore owners and privileges. The target
   * user needs CREATEROLE (RDS's master user has it). Passwords are not restored.
   * @default false
   */
  readonly restoreRoles?: boolean;
}

/** Output of the restore handler. */
export interface RestoreOutput {
  readonly database: string;
  /** Dump bytes restored (checked against the manifest). */
  readonly restoredBytes: number;
  /** Wall time of the restore, seconds. */
  readonly durationSeconds: number;
  /** The manifest's `finishedAt`: the moment the restored data is from (for the data age, RPO actual). */
  readonly backupFinishedAt: string;
  readonly mode: 'stream' | 'file' | 'directory';
  /** After a partial restore: the tables restored, `schema.table` (what restore-verify then compares). */
  readonly tablesRestored?: readonly string[];
  /** What recreating the roles did (with `restoreRoles`). */
  readonly roles?: RolesOutcome;
}

/** The part of the Lambda context this handler reads. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** How long before the Lambda's timeout a running restore is stopped, so it fails with a clear error. */
export const ABORT_MARGIN_MS = 30_000;

/** Validates the handler's input before any side effect. */
export function parseRestoreInput(event: unknown): RestoreInput {
  const v = expectObject(event, 'input');
  const manifestKey = parseManifestKey(v.manifestKey);
  const target = parseRestoreTarget(v.target);
  if (v.createDatabase !== undefined && typeof v.createDatabase !== 'boolean') {
    throw new InvalidInput(`createDatabase must be true or false; got ${JSON.stringify(v.createDatabase)}`);
  }
  if (v.jobs !== undefined && !(typeof v.jobs === 'number' && Number.isInteger(v.jobs) && v.jobs >= 1 && v.jobs <= 64)) {
    throw new InvalidInput(`jobs must be a whole number from 1 to 64; got ${JSON.stringify(v.jobs)}`);
  }
  if (v.restoreRoles !== undefined && typeof v.restoreRoles !== 'boolean') {
    throw new InvalidInput(`restoreRoles must be true or false; got ${JSON.stringify(v.restoreRoles)}`);
  }
  const selection = parseSelectionInput(v.schemas, v.tables);
  return {
    manifestKey,
    target,
    createDatabase: v.createDatabase,
    jobs: v.jobs,
    restoreRoles: v.restoreRoles,
    ...(selection?.schemas ? { schemas: selection.schemas } : {}),
    ...(v.tables !== undefined ? { tables: v.tables as string[] } : {}),
  };
}

/**
 * An AbortSignal that fires `marginMs` before the invocation's deadline (never, without a context), and a function
 * that cancels the timer.
 */
export function deadlineSignal(context: LambdaContextLike | undefined, marginMs = ABORT_MARGIN_MS): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  if (!context) return { signal: controller.signal, clear: () => undefined };
  const timer = setTimeout(
    () => controller.abort(new Error(timeLimitReason('restore', marginMs / 1000))),
    Math.max(0, context.getRemainingTimeInMillis() - marginMs),
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

const s3 = new S3Client({});
const secrets = new SecretsManagerClient({});

/**
 * Restores a backup into `target.database`.
 *
 * @example
 * // Step Functions task payload
 * { "manifestKey": "postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json",
 *   "target": { "secretArn": "arn:aws:secretsmanager:…", "host": "scratch.xyz.rds.amazonaws.com", "database": "app_restore" },
 *   "createDatabase": true }
 */
export async function handler(event: unknown, context?: LambdaContextLike): Promise<RestoreOutput> {
  const input = parseRestoreInput(event);
  const bucket = requireEnv('BUCKET_NAME');
  const target = await resolveRestoreTarget(secrets, input.target);
  const deadline = deadlineSignal(context);
  logger.info('restore started', {
    manifestKey: input.manifestKey,
    host: target.host,
    port: target.port,
    database: target.database,
    createDatabase: input.createDatabase ?? false,
    jobs: input.jobs ?? 1,
    restoreRoles: input.restoreRoles ?? false,
  });
  try {
    const result = await runRestore({
      bucket,
      manifestKey: input.manifestKey,
      target,
      createDatabase: input.createDatabase,
      jobs: input.jobs,
      restoreRoles: input.restoreRoles,
      signal: deadline.signal,
      s3,
      selection: parseSelectionInput(input.schemas, input.tables),
    });
    logger.info('restore finished', {
      database: result.database,
      restoredBytes: result.restoredBytes,
      durationSeconds: result.durationSeconds,
      mode: result.mode,
      ...(result.roles ? { roles: result.roles } : {}),
    });
    return {
      database: result.database,
      restoredBytes: result.restoredBytes,
      durationSeconds: result.durationSeconds,
      backupFinishedAt: result.manifest.finishedAt,
      mode: result.mode,
      ...(result.partial ? { tablesRestored: result.partial.tables.map((t) => `${t.schema}.${t.name}`) } : {}),
      ...(result.roles ? { roles: result.roles } : {}),
    };
  } catch (error) {
    logger.error('restore failed', { manifestKey: input.manifestKey, database: target.database, error: error as Error });
    throw error;
  } finally {
    deadline.clear();
  }
}
