/**
 * Verify handler: re-hashes backups from S3 against their manifests (and the replica copies when replication is
 * on).
 *
 * Env: BUCKET_NAME; optionally REPLICA_BUCKET_NAME with REPLICA_REGION.
 *
 * Errors (by name, for Step Functions): InvalidInput; NotReady when every primary copy verified but a replica is
 * not replicated yet (retry later); VerificationFailed for anything else that is not verified.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { VerificationFailed } from '../common/errors';
import { InvalidInput, MissingConfiguration, NotReady, requireEnv } from '../common/errors';
import { logger, powertoolsLogSink } from '../common/logger';
import { MANIFEST_SUFFIX } from './manifest';
import { describeResult, verdictOf, verifyBackup, type ReplicaLocation, type VerifyResult } from './verify-core';
import { expectObject, expectString } from '../common/validate';

export type {
  Check,
  ReplicaResult,
  ReplicaStatus,
  VerifyChecks,
  VerifyResult,
  VerifyStatus,
} from './verify-core';
export { VerificationFailed } from '../common/errors';
export { InvalidInput, NotReady } from '../common/errors';

/** Verify one backup (the output is its {@link VerifyResult}). */
export interface VerifyOneInput {
  readonly manifestKey: string;
}

/** Verify several backups (the output is {@link VerifyManyOutput}). */
export interface VerifyManyInput {
  readonly manifestKeys: readonly string[];
}

/** Input of the verify handler. */
export type VerifyInput = VerifyOneInput | VerifyManyInput;

/** Output for {@link VerifyManyInput}. */
export interface VerifyManyOutput {
  readonly results: readonly VerifyResult[];
}

const s3 = new S3Client({});
let replicaClient: { region: string; client: S3Client } | undefined;

function replicaFromEnv(): ReplicaLocation | undefined {
  const bucket = process.env.REPLICA_BUCKET_NAME;
  const region = process.env.REPLICA_REGION;
  if (!bucket && !region) return undefined;
  if (!bucket || !region) {
    throw new MissingConfiguration('REPLICA_BUCKET_NAME and REPLICA_REGION must be set together');
  }
  if (replicaClient?.region !== region) replicaClient = { region, client: new S3Client({ region }) };
  return { bucket, region, s3: replicaClient.client };
}

const MANIFEST_KEY_HINT = `must be a manifest key ending in ${MANIFEST_SUFFIX}`;

/**
 * Validates the verify handler's input; returns the manifest keys and whether one or many were asked for.
 *
 * @throws InvalidInput naming the field.
 */
export function validateVerifyInput(event: unknown): { readonly keys: readonly string[]; readonly many: boolean } {
  const root = expectObject(event, 'input');
  const pattern = /\.manifest\.json$/;
  if ('manifestKey' in root && 'manifestKeys' in root) {
    throw new InvalidInput('give either manifestKey or manifestKeys, not both');
  }
  if ('manifestKeys' in root) {
    if (!Array.isArray(root.manifestKeys) || root.manifestKeys.length === 0) {
      throw new InvalidInput('manifestKeys must be a non-empty array of manifest keys');
    }
    return {
      keys: root.manifestKeys.map((key: unknown, i) => expectString(key, `manifestKeys[${i}]`, pattern, MANIFEST_KEY_HINT)),
      many: true,
    };
  }
  return { keys: [expectString(root.manifestKey, 'manifestKey', pattern, MANIFEST_KEY_HINT)], many: false };
}

/** Verifies the given backups; throws unless all of them are verified (see the module doc for which error). */
export async function handler(event: VerifyOneInput): Promise<VerifyResult>;
export async function handler(event: VerifyManyInput): Promise<VerifyManyOutput>;
export async function handler(event: unknown): Promise<VerifyResult | VerifyManyOutput>;
export async function handler(event: unknown): Promise<VerifyResult | VerifyManyOutput> {
  const { keys, many } = validateVerifyInput(event);
  const bucket = requireEnv('BUCKET_NAME');
  const replica = replicaFromEnv();
  const results: VerifyResult[] = [];
  for (const manifestKey of keys) {
    results.push(await verifyBackup({ s3, bucket, manifestKey, replica, log: powertoolsLogSink }));
  }
  const verdicts = results.map(verdictOf);
  const failed = results.filter((_, i) => verdicts[i] === 'failed');
  if (failed.length > 0) {
    throw new VerificationFailed(failed.map(describeResult).join(' | '));
  }
  const notReady = results.filter((_, i) => verdicts[i] === 'not-ready');
  if (notReady.length > 0) {
    throw new NotReady(`not replicated yet: ${notReady.map(describeResult).join(' | ')}`);
  }
  logger.info('backups verified', { count: results.length });
  return many ? { results } : results[0];
}
