/**
 * Recovery-verify handler: the checks of a database restored from an RDS snapshot, where there is no manifest to
 * compare row counts with (dump restores use lambda/restore/restore-verify.handler.ts instead). It connects to the restored database
 * with the scratch secret and checks:
 * - `tables present`: the database has at least one user table (an empty database is not a successful restore of a
 *   production database; counting every row of a production-sized snapshot would take too long, so only the tables
 *   are listed);
 * - every user-supplied validation query (SQL returning one boolean `true`), each in its own READ ONLY transaction
 *   with a statement timeout — the same judging as restore-verify.
 *
 * Returns the result with `passed: false` (`throwOnFailure: false`, what the recovery test uses so that its report
 * holds every check) or throws `VerificationFailed`.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { VerificationFailed } from '../common/errors';
import { InvalidInput, RestoreFailed } from '../common/errors';
import { logger } from '../common/logger';
import { LIST_TABLES_SQL } from '../postgres/pg';
import { connect, scrubSecrets } from '../postgres/target';
import { parseRestoreTarget, resolveRestoreTarget, type RestoreTargetInput } from './restore-target';
import {
  describeFailures,
  judgeValidationQuery,
  runValidationQuery,
  summarize,
  type ValidationQuery,
  type VerifyCheck,
} from './restore-verify-core';
import { expectObject } from '../common/validate';
import { parseVerifyOptions } from './verify-input';

export { VerificationFailed } from '../common/errors';
export type { ValidationQuery, VerifyCheck } from './restore-verify-core';

/** Input of the recovery-verify handler. */
export interface RecoveryVerifyInput {
  /** The restored database (credentials from the scratch secret). */
  readonly target: RestoreTargetInput;
  /** @default - none: only the presence of tables is checked */
  readonly validationQueries?: readonly ValidationQuery[];
  /** @default true */
  readonly throwOnFailure?: boolean;
  /**
   * Statement timeout of each validation query, milliseconds.
   * @default 60000
   */
  readonly queryTimeoutMs?: number;
}

/** Output of the recovery-verify handler. */
export interface RecoveryVerifyOutput {
  readonly passed: boolean;
  readonly checks: readonly VerifyCheck[];
  readonly database: string;
  /** Number of user tables found. */
  readonly tables: number;
  readonly durationSeconds: number;
}

/** The check name of the table-presence check. */
export const TABLES_PRESENT_CHECK = 'tables present';

/** Judges the table count (pure). */
export function tablesPresentCheck(tables: number): VerifyCheck {
  return tables > 0
    ? { name: TABLES_PRESENT_CHECK, passed: true, actual: tables, detail: `${tables} user tables` }
    : { name: TABLES_PRESENT_CHECK, passed: false, actual: 0, detail: 'the restored database has no user tables: check that the right database is named' };
}

/** Validates the handler's input before any side effect. */
export function parseRecoveryVerifyInput(event: unknown): RecoveryVerifyInput {
  const v = expectObject(event, 'input');
  const target = parseRestoreTarget(v.target);
  const options = parseVerifyOptions(v);
  if (v.queryTimeoutMs !== undefined && !(typeof v.queryTimeoutMs === 'number' && Number.isInteger(v.queryTimeoutMs) && v.queryTimeoutMs >= 1)) {
    throw new InvalidInput(`queryTimeoutMs must be a whole number of milliseconds, at least 1; got ${JSON.stringify(v.queryTimeoutMs)}`);
  }
  return {
    target,
    ...options,
    ...(v.queryTimeoutMs !== undefined ? { queryTimeoutMs: v.queryTimeoutMs } : {}),
  };
}

const secrets = new SecretsManagerClient({});

/**
 * Verifies a database restored from a snapshot.
 *
 * @throws VerificationFailed when a check failed (unless `throwOnFailure` is false), RestoreFailed when the database
 *   cannot be reached.
 * @example
 * { "target": { "secretArn": "arn:aws:secretsmanager:…:secret:cdk-backup-dr/scratch/cdkbdr-rt-…", "host": "cdkbdr-rt-….rds.amazonaws.com", "database": "app" },
 *   "validationQueries": [{ "name": "orders-present", "sql": "SELECT count(*) > 0 FROM app.orders" }], "throwOnFailure": false }
 */
export async function handler(event: unknown): Promise<RecoveryVerifyOutput> {
  const started = process.hrtime.bigint();
  const input = parseRecoveryVerifyInput(event);
  const target = await resolveRestoreTarget(secrets, input.target);
  const client = await connect(target);
  const checks: VerifyCheck[] = [];
  let tables: number;
  try {
    try {
      tables = (await client.query(LIST_TABLES_SQL)).rowCount ?? 0;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RestoreFailed(scrubSecrets(`listing the tables of ${target.database} failed: ${reason}`, [target.password]));
    }
    checks.push(tablesPresentCheck(tables));
    for (const query of input.validationQueries ?? []) {
      const check = judgeValidationQuery(query, await runValidationQuery(client, query, input.queryTimeoutMs ?? 60_000));
      checks.push(check.detail ? { ...check, detail: scrubSecrets(check.detail, [target.password]) } : check);
    }
  } finally {
    await client.end();
  }
  const result = summarize(checks);
  const durationSeconds = Math.round(Number(process.hrtime.bigint() - started) / 1e6) / 1000;
  const failed = checks.filter((c) => !c.passed).length;
  logger.info('restored snapshot verified', { database: target.database, passed: result.passed, checks: checks.length, failed, tables, durationSeconds });
  if (!result.passed && input.throwOnFailure !== false) {
    throw new VerificationFailed(`restored database ${target.database} failed ${failed} of ${checks.length} checks: ${describeFailures(result)}`);
  }
  return { passed: result.passed, checks, database: target.database, tables, durationSeconds };
}
