/**
 * Restore-verify handler: proves a restored database holds what the backup's manifest says — every table's exact
 * row count equal to the manifest's, no table missing or extra — and that the user's validation queries (SQL that
 * must return true) pass. Throws `VerificationFailed` (the state machine's Catch matches that name) listing the
 * failing checks; credentials never appear in its message or the logs.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { VerificationFailed } from '../common/errors';
import { requireEnv } from '../common/errors';
import { logger } from '../common/logger';
import { loadManifest } from './restore-core';
import { parseManifestKey, parseRestoreTarget, resolveRestoreTarget, type RestoreTargetInput } from './restore-target';
import {
  describeFailures,
  listedChecks,
  runRestoreVerify,
  type ValidationQuery,
  type VerifyCheck,
} from './restore-verify-core';
import { expectObject } from '../common/validate';
import { parseVerifyOptions } from './verify-input';
import { parseSelectionInput } from './partial-restore';

export type { RestoreTargetInput } from './restore-target';
export type { ValidationQuery, VerifyCheck } from './restore-verify-core';
export { VerificationFailed } from '../common/errors';

/** Input of the restore-verify handler. */
export interface RestoreVerifyInput {
  /** Key of the restored backup's manifest in BUCKET_NAME (its per-table row counts are the expectation). */
  readonly manifestKey: string;
  /** The restored database. */
  readonly target: RestoreTargetInput;
  /** @default - none: only the row counts are checked */
  readonly validationQueries?: readonly ValidationQuery[];
  /**
   * Throw VerificationFailed when a check failed. `false` returns the result with `passed: false` instead, so a
   * state machine can write every check into its report before it fails.
   * @default true
   */
  readonly throwOnFailure?: boolean;
  /** The `schemas` of a partial restore: only its tables are compared. @default - the whole backup */
  readonly schemas?: readonly string[];
  /** The `tables` of a partial restore: only those are compared. @default - the whole backup */
  readonly tables?: readonly string[];
}

/** Output of the restore-verify handler (with `passed: false` only when `throwOnFailure` is false). */
export interface RestoreVerifyOutput {
  readonly passed: boolean;
  /** At most MAX_LISTED_CHECKS: failed checks first, the rest counted in one last check (see listedChecks). */
  readonly checks: readonly VerifyCheck[];
  readonly database: string;
  /** Wall time of the verify, seconds. */
  readonly durationSeconds: number;
}

/** Validates the handler's input before any side effect. */
export function parseRestoreVerifyInput(event: unknown): RestoreVerifyInput {
  const v = expectObject(event, 'input');
  const manifestKey = parseManifestKey(v.manifestKey);
  const target = parseRestoreTarget(v.target);
  parseSelectionInput(v.schemas, v.tables);
  return {
    manifestKey,
    target,
    ...parseVerifyOptions(v),
    ...(v.schemas !== undefined ? { schemas: v.schemas as string[] } : {}),
    ...(v.tables !== undefined ? { tables: v.tables as string[] } : {}),
  };
}

const s3 = new S3Client({});
const secrets = new SecretsManagerClient({});

/**
 * Verifies a restored database against its backup's manifest.
 *
 * @throws VerificationFailed when a check failed; the message lists the failing checks (no secrets).
 * @example
 * { "manifestKey": "postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json",
 *   "target": { "secretArn": "arn:aws:secretsmanager:…", "host": "scratch.xyz.rds.amazonaws.com", "database": "app_restore" },
 *   "validationQueries": [{ "name": "orders-present", "sql": "SELECT count(*) > 0 FROM app.orders" }] }
 */
export async function handler(event: unknown): Promise<RestoreVerifyOutput> {
  const started = process.hrtime.bigint();
  const input = parseRestoreVerifyInput(event);
  const bucket = requireEnv('BUCKET_NAME');
  const manifest = await loadManifest(s3, bucket, input.manifestKey);
  const target = await resolveRestoreTarget(secrets, input.target);
  const result = await runRestoreVerify({
    target,
    manifest,
    validationQueries: input.validationQueries,
    selection: parseSelectionInput(input.schemas, input.tables),
  });
  const durationSeconds = Math.round(Number(process.hrtime.bigint() - started) / 1e6) / 1000;
  const failed = result.checks.filter((c) => !c.passed).length;
  logger.info('restore verified', {
    manifestKey: input.manifestKey,
    database: target.database,
    passed: result.passed,
    checks: result.checks.length,
    failed,
    durationSeconds,
  });
  if (!result.passed && input.throwOnFailure !== false) {
    throw new VerificationFailed(
      `restore of ${input.manifestKey} into ${target.database} failed ${failed} of ${result.checks.length} checks: ${describeFailures(result)}`,
    );
  }
  return { passed: result.passed, checks: listedChecks(result.checks), database: target.database, durationSeconds };
}
