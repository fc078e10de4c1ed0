/**
 * The verify core: is a backup still exactly what its manifest says? Streams the dump object (the manifest's version)
 * back from S3, re-hashes it, and compares bytes, SHA-256 and version id, then does the same for the roles and
 * globals object of a v2 manifest; optionally checks the replica copy of the dump in the DR region. Free of Lambda (the verify handler and, later, the CLI run it).
 *
 * Outcomes are values, not exceptions: "corrupt", "missing", "archived" (in a Glacier class: not readable without a
 * restore) and "not replicated yet" are distinct statuses so a caller can act on each.
 */
import type { HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { digestStream } from '../common/hash';
import { silentLogSink, type LogSink } from '../common/logger';
import { dumpKeyForManifestKey, dumpObjectBytes, parseBackupKey, parseManifestJson, type BackupManifest, type ManifestFile } from './manifest';
import { getObjectStream, getTextObjectOrUndefined, headObjectOrUndefined, isArchivedError, isNotFound } from '../aws/s3';
import { awsErrorInfo, describeAwsError } from '../aws/aws-error';

/** Storage classes whose objects cannot be read without a restore. */
export const ARCHIVED_STORAGE_CLASSES: readonly string[] = ['GLACIER', 'DEEP_ARCHIVE'];

/** One comparison of the manifest's value with what is in S3. */
export interface Check<T> {
  readonly expected: T;
  /** `undefined` when it could not be read (object missing or archived). */
  readonly actual?: T;
  readonly ok: boolean;
}

/** The comparisons verify makes. */
export interface VerifyChecks {
  readonly bytes?: Check<number>;
  readonly sha256?: Check<string>;
  readonly versionId?: Check<string | null>;
  /** SHA-256 of the roles and globals object (manifest v2), re-hashed from its version. */
  readonly globalsSha256?: Check<string>;
  /**
   * A directory dump's files other than `toc.dat` (manifest v3), each re-hashed from its version: how many match
   * their size, SHA-256 and version id.
   */
  readonly files?: Check<number>;
}

/**
 * Status of the primary copy:
 * - `verified` — bytes, SHA-256 and version id equal the manifest's;
 * - `corrupt` — the object is there but differs (size or hash or version);
 * - `archived` — in GLACIER / DEEP_ARCHIVE: not verifiable without a restore (not a failure of the backup);
 * - `missing-object` — the manifest's object version is gone;
 * - `missing-manifest` — no manifest at that key (so no backup there);
 * - `invalid-manifest` — the manifest is not a valid v1 manifest or does not belong to its key.
 */
export type VerifyStatus = 'verified' | 'corrupt' | 'archived' | 'missing-object' | 'missing-manifest' | 'invalid-manifest';

/**
 * Status of the replica copy:
 * - `verified` — same bytes and SHA-256 as the manifest;
 * - `pending` — not replicated yet (no replica object: 404, or 403 where S3 hides a missing object, or the source
 *   says `PENDING`);
 * - `failed` — S3 reports replication `FAILED` for the source object;
 * - `corrupt` — the replica exists but differs;
 * - `archived` — the replica is in a Glacier class (not verifiable without a restore).
 */
export type ReplicaStatus = 'verified' | 'pending' | 'failed' | 'corrupt' | 'archived';

/** What verify found about the replica. */
export interface ReplicaResult {
  readonly bucket: string;
  readonly region: string;
  readonly status: ReplicaStatus;
  /** The replica's version id (S3 replication keeps the source's; an emulator may not). */
  readonly versionId?: string | null;
  readonly storageClass?: string;
  readonly checks: VerifyChecks;
  readonly detail?: string;
}

/** What verify found about one backup. */
export interface VerifyResult {
  readonly manifestKey: string;
  readonly status: VerifyStatus;
  readonly database?: string;
  readonly dumpKey?: string;
  readonly storageClass?: string;
  readonly checks: VerifyChecks;
  /** Present when a replica was checked (and the primary was readable). */
  readonly replica?: ReplicaResult;
  /** Why, in words, when not verified (e.g. the manifest's validation errors). */
  readonly detail?: string;
}

/** Where the replica copies are. */
export interface ReplicaLocation {
  readonly bucket: string;
  readonly region: string;
  /** A client for the replica's region. */
  readonly s3: S3Client;
}

/** Options of {@link verifyBackup}. */
export interface VerifyOptions {
  readonly s3: S3Client;
  /** The bucket holding the manifest (and, per the manifest, the dump). */
  readonly bucket: string;
  readonly manifestKey: string;
  /** @default - the replica is not checked */
  readonly replica?: ReplicaLocation;
  /** @default - silent */
  readonly log?: LogSink;
}

/** The overall decision a caller acts on. */
export type VerifyVerdict = 'ok' | 'not-ready' | 'failed';

/**
 * `ok` when the primary is verified and the replica (if checked) is verified; `not-ready` when only the replica is
 * not there yet (retry later); `failed` otherwise, archived included: a backup that cannot be read back is not
 * verified.
 */
export function verdictOf(result: VerifyResult): VerifyVerdict {
  if (result.status !== 'verified') return 'failed';
  if (!result.replica || result.replica.status === 'verified') return 'ok';
  return result.replica.status === 'pending' ? 'not-ready' : 'failed';
}

/** One line for logs and error messages: key, status and the failing checks. */
export function describeResult(result: VerifyResult): string {
  const failing = Object.entries(result.checks)
    .filter(([, check]) => check && !check.ok)
    .map(([name, check]) => `${name} expected ${JSON.stringify(check.expected)} got ${JSON.stringify(check.actual ?? null)}`);
  const parts = [`${result.manifestKey}: ${result.status}`];
  if (failing.length > 0) parts.push(`(${failing.join('; ')})`);
  if (result.detail) parts.push(`- ${result.detail}`);
  if (result.replica && result.replica.status !== 'verified') {
    const replica = result.replica;
    parts.push(`; replica in ${replica.region}/${replica.bucket}: ${replica.status}${replica.detail ? ` - ${replica.detail}` : ''}`);
  }
  return parts.join(' ');
}

/** Compares a manifest with the HEAD and the re-hash of an object (pure). */
export function compareWithManifest(
  manifest: BackupManifest,
  actual: { readonly bytes: number; readonly sha256: string; readonly versionId: string | null },
  compareVersion: boolean,
): VerifyChecks {
  const bytes = dumpObjectBytes(manifest);
  const checks: VerifyChecks = {
    bytes: { expected: bytes, actual: actual.bytes, ok: actual.bytes === bytes },
    sha256: { expected: manifest.sha256, actual: actual.sha256, ok: actual.sha256 === manifest.sha256 },
  };
  if (!compareVersion) return checks;
  return {
    ...checks,
    versionId: {
      expected: manifest.s3.versionId,
      actual: actual.versionId,
      ok: manifest.s3.versionId === null || actual.versionId === manifest.s3.versionId,
    },
  };
}

function allOk(checks: VerifyChecks): boolean {
  return Object.values(checks).every((check: Check<unknown> | undefined) => !check || check.ok);
}

function isArchived(head: HeadObjectCommandOutput): boolean {
  // A restored copy (Restore: ongoing-request="false") is readable.
  return ARCHIVED_STORAGE_CLASSES.includes(head.StorageClass ?? '') && !/ongoing-request="false"/.test(head.Restore ?? '');
}

/** Checks the manifest's own consistency with the key it was read from (pure). */
export function manifestProblems(manifest: BackupManifest, bucket: string, manifestKey: string): string[] {
  const problems: string[] = [];
  const parsed = parseBackupKey(manifestKey);
  if (!parsed || parsed.kind !== 'manifest') {
    problems.push(`${manifestKey} is not a manifest key of the layout postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.manifest.json`);
    return problems;
  }
  if (manifest.s3.key !== dumpKeyForManifestKey(manifestKey)) {
    problems.push(`the manifest names the dump ${manifest.s3.key}, not ${dumpKeyForManifestKey(manifestKey)}`);
  }
  if (manifest.s3.bucket !== bucket) problems.push(`the manifest names bucket ${manifest.s3.bucket}, not ${bucket}`);
  if (manifest.database !== parsed.database) problems.push(`the manifest is for database ${manifest.database}, the key for ${parsed.database}`);
  if (manifest.source !== parsed.source) problems.push(`the manifest is for source ${manifest.source}, the key for ${parsed.source}`);
  return problems;
}

/**
 * Verifies one backup.
 *
 * @example
 * const result = await verifyBackup({ s3, bucket: 'my-backups', manifestKey });
 * if (verdictOf(result) !== 'ok') throw new VerificationFailed(describeResult(result));
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult> {
  const { s3, bucket, manifestKey } = options;
  const log = options.log ?? silentLogSink;

  const text = await getTextObjectOrUndefined(s3, bucket, manifestKey);
  if (text === undefined) {
    return { manifestKey, status: 'missing-manifest', checks: {}, detail: `no manifest at s3://${bucket}/${manifestKey}` };
  }
  const parsed = parseManifestJson(text);
  if (!parsed.ok) return { manifestKey, status: 'invalid-manifest', checks: {}, detail: parsed.errors.join('; ') };
  const manifest = parsed.manifest;
  const problems = manifestProblems(manifest, bucket, manifestKey);
  if (problems.length > 0) {
    return { manifestKey, status: 'invalid-manifest', database: manifest.database, checks: {}, detail: problems.join('; ') };
  }
  const dumpKey = manifest.s3.key;
  const base = { manifestKey, database: manifest.database, dumpKey };

  const head = await headObjectOrUndefined(s3, bucket, dumpKey, manifest.s3.versionId);
  if (!head) {
    return {
      ...base,
      status: 'missing-object',
      checks: {},
      detail: `s3://${bucket}/${dumpKey} version ${manifest.s3.versionId ?? '(latest)'} does not exist`,
    };
  }
  if (isArchived(head)) {
    return archivedResult(base, head.StorageClass, manifest);
  }
  let digest;
  try {
    digest = await digestStream(await getObjectStream(s3, bucket, dumpKey, manifest.s3.versionId));
  } catch (error) {
    if (isArchivedError(error)) return archivedResult(base, head.StorageClass, manifest);
    if (isNotFound(error)) return { ...base, status: 'missing-object', checks: {}, detail: `s3://${bucket}/${dumpKey} vanished while reading` };
    throw error;
  }
  let checks = compareWithManifest(manifest, { ...digest, versionId: head.VersionId ?? null }, true);
  if (manifest.globals && allOk(checks)) {
    const globals = await verifyGlobals(s3, bucket, manifest.globals);
    if ('status' in globals) return { ...base, ...globals, checks };
    checks = { ...checks, globalsSha256: globals };
  }
  let filesDetail: string | undefined;
  if (manifest.files && allOk(checks)) {
    const files = await verifyFiles(s3, bucket, manifest.files.filter((f) => f.key !== dumpKey));
    if ('status' in files) return { ...base, ...files, checks };
    checks = { ...checks, files: files.check };
    filesDetail = files.detail;
  }
  const status: VerifyStatus = allOk(checks) ? 'verified' : 'corrupt';
  if (filesDetail) return { ...base, status, storageClass: head.StorageClass ?? 'STANDARD', checks, detail: filesDetail };
  log.info('primary copy checked', { manifestKey, status, bytes: digest.bytes });
  if (status !== 'verified' || !options.replica) {
    return { ...base, status, storageClass: head.StorageClass ?? 'STANDARD', checks };
  }
  const replica = await verifyReplica(options.replica, manifest, head);
  log.info('replica checked', { manifestKey, replicaStatus: replica.status });
  return { ...base, status, storageClass: head.StorageClass ?? 'STANDARD', checks, replica };
}

/** Files of a directory dump named one by one when they differ; the rest are counted. */
const MAX_NAMED_BAD_FILES = 5;

/**
 * Re-hashes every file of a directory dump at its version: a check (how many match) with the differing ones named,
 * or the status that stops verification (a file missing or archived).
 */
async function verifyFiles(
  s3: S3Client,
  bucket: string,
  files: readonly ManifestFile[],
): Promise<{ readonly check: Check<number>; readonly detail?: string } | { readonly status: VerifyStatus; readonly detail: string; readonly storageClass?: string }> {
  const bad: string[] = [];
  for (const file of files) {
    const where = `s3://${bucket}/${file.key} version ${file.versionId ?? '(latest)'}`;
    const head = await headObjectOrUndefined(s3, bucket, file.key, file.versionId);
    if (!head) return { status: 'missing-object', detail: `the dump file ${where} does not exist` };
    const archived = { status: 'archived' as const, storageClass: head.StorageClass, detail: `the dump file ${file.key} is in ${head.StorageClass}; restore it to verify it` };
    if (isArchived(head)) return archived;
    let digest;
    try {
      digest = await digestStream(await getObjectStream(s3, bucket, file.key, file.versionId));
    } catch (error) {
      if (isArchivedError(error)) return archived;
      if (isNotFound(error)) return { status: 'missing-object', detail: `the dump file ${where} vanished while reading` };
      throw error;
    }
    const ok = digest.sha256 === file.sha256 && digest.bytes === file.bytes && (file.versionId === null || head.VersionId === file.versionId);
    if (!ok) bad.push(`${file.name} (${digest.bytes} bytes, sha256 ${digest.sha256})`);
  }
  const check = { expected: files.length, actual: files.length - bad.length, ok: bad.length === 0 };
  if (bad.length === 0) return { check };
  const more = bad.length > MAX_NAMED_BAD_FILES ? ` and ${bad.length - MAX_NAMED_BAD_FILES} more` : '';
  return { check, detail: `dump files that differ from the manifest: ${bad.slice(0, MAX_NAMED_BAD_FILES).join(', ')}${more}` };
}

/**
 * The replica copies of a directory dump's files, found by key like `toc.dat`'s: a check, or `pending` for a file not
 * replicated yet, `archived` for one in a Glacier class.
 */
async function verifyReplicaFiles(
  replica: ReplicaLocation,
  files: readonly ManifestFile[],
): Promise<{ readonly check: Check<number>; readonly detail?: string } | { readonly status: ReplicaStatus; readonly detail: string }> {
  const bad: string[] = [];
  for (const file of files) {
    let head;
    try {
      head = await headObjectOrUndefined(replica.s3, replica.bucket, file.key);
    } catch (error) {
      if (!awsErrorInfo(error).accessDenied) throw error;
      head = undefined;
    }
    if (!head) return { status: 'pending', detail: `no replica of the dump file ${file.key} yet` };
    if (isArchived(head)) return { status: 'archived', detail: `the replica of ${file.key} is in ${head.StorageClass}` };
    const digest = await digestStream(await getObjectStream(replica.s3, replica.bucket, file.key, head.VersionId));
    if (digest.sha256 !== file.sha256 || digest.bytes !== file.bytes) bad.push(`${file.name} (${digest.bytes} bytes, sha256 ${digest.sha256})`);
  }
  const check = { expected: files.length, actual: files.length - bad.length, ok: bad.length === 0 };
  if (bad.length === 0) return { check };
  const more = bad.length > MAX_NAMED_BAD_FILES ? ` and ${bad.length - MAX_NAMED_BAD_FILES} more` : '';
  return { check, detail: `replica dump files that differ from the manifest: ${bad.slice(0, MAX_NAMED_BAD_FILES).join(', ')}${more}` };
}

/** Re-hashes the globals object's version: a check, or the status that stops verification (missing, archived). */
async function verifyGlobals(
  s3: S3Client,
  bucket: string,
  globals: NonNullable<BackupManifest['globals']>,
): Promise<Check<string> | { readonly status: VerifyStatus; readonly detail: string; readonly storageClass?: string }> {
  const where = `s3://${bucket}/${globals.key} version ${globals.versionId ?? '(latest)'}`;
  const head = await headObjectOrUndefined(s3, bucket, globals.key, globals.versionId);
  if (!head) return { status: 'missing-object', detail: `the roles and globals object ${where} does not exist` };
  const archived = { status: 'archived' as const, storageClass: head.StorageClass, detail: `the roles and globals object is in ${head.StorageClass}; restore it to verify it` };
  if (isArchived(head)) return archived;
  let digest;
  try {
    digest = await digestStream(await getObjectStream(s3, bucket, globals.key, globals.versionId));
  } catch (error) {
    if (isArchivedError(error)) return archived;
    if (isNotFound(error)) return { status: 'missing-object', detail: `the roles and globals object ${where} vanished while reading` };
    throw error;
  }
  const ok = digest.sha256 === globals.sha256 && digest.bytes === globals.bytes && (globals.versionId === null || head.VersionId === globals.versionId);
  return { expected: globals.sha256, actual: digest.sha256, ok };
}

function archivedResult(
  base: { manifestKey: string; database: string; dumpKey: string },
  storageClass: string | undefined,
  manifest: BackupManifest,
): VerifyResult {
  return {
    ...base,
    status: 'archived',
    storageClass,
    checks: {},
    detail: `the dump is in ${storageClass ?? 'an archive storage class'}; restore it (S3 RestoreObject) to verify it (${manifest.bytes} bytes)`,
  };
}

/**
 * Checks the replica copy. It is found by key (the newest version): S3 replication keeps the version id, but a
 * key written once holds one dump, and the hash decides either way.
 */
async function verifyReplica(
  replica: ReplicaLocation,
  manifest: BackupManifest,
  primaryHead: HeadObjectCommandOutput,
): Promise<ReplicaResult> {
  const where = { bucket: replica.bucket, region: replica.region };
  const key = manifest.s3.key;
  if (primaryHead.ReplicationStatus === 'FAILED') {
    return { ...where, status: 'failed', checks: {}, detail: `S3 reports replication FAILED for ${key}` };
  }
  if (primaryHead.ReplicationStatus === 'PENDING') {
    return { ...where, status: 'pending', checks: {}, detail: 'S3 reports replication PENDING' };
  }
  let head;
  try {
    head = await headObjectOrUndefined(replica.s3, replica.bucket, key);
  } catch (error) {
    // S3 answers 403, not 404, for a missing object when the caller may not list the bucket.
    if (!awsErrorInfo(error).accessDenied) throw error;
    return {
      ...where,
      status: 'pending',
      checks: {},
      detail:
        `S3 answered ${describeAwsError(error)} to the HEAD of ${key}: not replicated yet, or the verify role lacks ` +
        's3:ListBucket on the replica bucket or s3:GetObject on the key',
    };
  }
  if (!head) {
    return { ...where, status: 'pending', checks: {}, detail: `no replica object ${key} yet` };
  }
  if (isArchived(head)) {
    return { ...where, status: 'archived', versionId: head.VersionId ?? null, storageClass: head.StorageClass, checks: {} };
  }
  let digest;
  try {
    digest = await digestStream(await getObjectStream(replica.s3, replica.bucket, key, head.VersionId));
  } catch (error) {
    if (isArchivedError(error)) {
      return { ...where, status: 'archived', versionId: head.VersionId ?? null, storageClass: head.StorageClass, checks: {} };
    }
    throw error;
  }
  let checks = compareWithManifest(manifest, { ...digest, versionId: head.VersionId ?? null }, false);
  if (manifest.files && allOk(checks)) {
    const files = await verifyReplicaFiles(replica, manifest.files.filter((f) => f.key !== key));
    if ('status' in files) return { ...where, ...files, checks };
    checks = { ...checks, files: files.check };
    if (files.detail) return { ...where, status: 'corrupt', versionId: head.VersionId ?? null, storageClass: head.StorageClass ?? 'STANDARD', checks, detail: files.detail };
  }
  return {
    ...where,
    status: allOk(checks) ? 'verified' : 'corrupt',
    versionId: head.VersionId ?? null,
    storageClass: head.StorageClass ?? 'STANDARD',
    checks,
  };
}
