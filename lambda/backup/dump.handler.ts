/**
 * Dump handler: one streamed `pg_dump -Fc` of one database into the backup bucket, with its manifest.
 *
 * Env: BUCKET_NAME, BUCKET_KMS_KEY_ARN, SOURCE_ID (and optionally PG_DUMP_PATH). Credentials come from the
 * Secrets Manager secret named in the input, never from the environment.
 *
 * Errors (by name, for Step Functions): InvalidInput (bad input, before any side effect), MissingConfiguration,
 * DumpFailed (nothing of the failed dump remains in the bucket).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { runDump, type DumpResult } from './dump-core';
import {
  resolveConnection,
  validateDumpInput,
  type DumpOutput,
  type DumpOutputBackup,
} from './dump-input';
import { MissingConfiguration, requireEnv } from '../common/errors';
import { logger, metrics, powertoolsLogSink } from '../common/logger';
import { getDatabaseSecret } from '../aws/secrets';
import { resolveTls } from '../postgres/tls-input';
import { isSourceName, SOURCE_NAME_HINT } from '../common/names';
import { DUMP_METRICS, METRIC_DIMENSIONS } from '../common/metrics';
import { timeLimitReason } from '../common/runner';

export type { DumpInput, DumpOutput, DumpOutputBackup, DumpTarget, EndpointTarget, SecretTarget } from './dump-input';
export { DumpFailed } from '../common/errors';
export { InvalidInput, MissingConfiguration } from '../common/errors';

const s3 = new S3Client({});
const secretsManager = new SecretsManagerClient({});

/** The part of the Lambda context the handler uses. */
export interface DumpContext {
  getRemainingTimeInMillis(): number;
}

/**
 * When to abort, in ms from now, given the time left: keep a margin to abort the upload and report (10% of the
 * time left, between 10 s and 60 s), but never less than zero.
 */
export function abortAfterMs(remainingMs: number): number {
  const margin = Math.min(60_000, Math.max(10_000, Math.floor(remainingMs * 0.1)));
  return Math.max(0, remainingMs - margin);
}

/** The handler's output entry for one completed dump. */
export function toOutputBackup(result: DumpResult): DumpOutputBackup {
  const { manifest } = result;
  return {
    database: manifest.database,
    manifestKey: result.manifestKey,
    dumpKey: result.dumpKey,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    versionId: manifest.s3.versionId,
    tableCount: manifest.tables.length,
  };
}

/** Dumps the database of the input; on failure it throws DumpFailed and nothing of the dump remains. */
export async function handler(event: unknown, context: DumpContext): Promise<DumpOutput> {
  const input = validateDumpInput(event);
  const bucket = requireEnv('BUCKET_NAME');
  const kmsKeyId = requireEnv('BUCKET_KMS_KEY_ARN');
  const source = requireEnv('SOURCE_ID');
  if (!isSourceName(source)) throw new MissingConfiguration(`environment variable SOURCE_ID ${SOURCE_NAME_HINT}`);

  const controller = new AbortController();
  const remainingMs = context.getRemainingTimeInMillis();
  const abortAfter = abortAfterMs(remainingMs);
  const deadline = setTimeout(
    () => controller.abort(new Error(timeLimitReason('dump', Math.round((remainingMs - abortAfter) / 1000)))),
    abortAfter,
  );
  try {
    const secret = await getDatabaseSecret(secretsManager, input.target.secretArn);
    const { sslRootCert } = await resolveTls(secretsManager, input.target);
    const connection = resolveConnection(input.target, secret, sslRootCert);
    const { database } = input;
    const started = Date.now();
    const result = await runDump({
      target: { ...connection, database },
      bucket,
      kmsKeyId,
      source,
      tiers: input.tiers,
      compression: input.compression,
      parallelism: input.parallelism,
      s3,
      signal: controller.signal,
      log: powertoolsLogSink,
    });
    // A single-metric instance publishes at every addMetric and then forgets added dimensions: default dimensions
    // stay, so both metrics carry Source and Database (and not the shared instance's service dimension).
    const metric = metrics.singleMetric();
    metric.clearDefaultDimensions();
    metric.setDefaultDimensions({ [METRIC_DIMENSIONS.source]: source, [METRIC_DIMENSIONS.database]: database });
    metric.addMetric(DUMP_METRICS.bytes, MetricUnit.Bytes, result.manifest.bytes);
    metric.addMetric(DUMP_METRICS.durationSeconds, MetricUnit.Seconds, (Date.now() - started) / 1000);
    const backup = toOutputBackup(result);
    logger.info('dump completed', { database, manifestKey: backup.manifestKey });
    return { backup };
  } finally {
    clearTimeout(deadline);
  }
}
