/**
 * The backups in a bucket as an operator sees them: per backup its age, size, tiers, storage class, Object Lock and
 * whether a backup run verified it (the backup reports under `reports/backup/`), newest first; the newest backup of
 * a source; the replica the bucket replicates to.
 */
import { GetBucketLocationCommand, GetBucketReplicationCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getTextObjectOrUndefined, headObjectOrUndefined } from '../lambda/aws/s3';
import { MANIFEST_SUFFIX, parseBackupKey, parseManifestJson, type Tier } from '../lambda/backup/manifest';
import { BACKUP_REPORT_PREFIX, DUMP_KEY_PREFIX } from '../lambda/common/names';
import { listKeys } from '../lambda/selection/dump-lookup';
import { dumpCandidates, type DumpCandidate } from '../lambda/selection/backup-selection';
import { awsErrorInfo } from '../lambda/aws/aws-error';
import { NotFound, UsageError } from './io';

/** Checks a `--manifest-key` value: a manifest key of the backup layout. @throws UsageError */
export function checkManifestKey(key: string): string {
  if (parseBackupKey(key)?.kind !== 'manifest') {
    throw new UsageError(`--manifest-key must be a key ending in ${MANIFEST_SUFFIX} in the backup layout; got ${JSON.stringify(key)}`);
  }
  return key;
}

/** One backup as `list` shows it. */
export interface ListedBackup {
  readonly manifestKey: string;
  readonly database: string;
  /** When the dump started (the data is from then), ISO-8601. */
  readonly startedAt: string;
  readonly ageSeconds: number;
  /** Undefined when the manifest is missing or invalid (`problem` says which). */
  readonly bytes?: number;
  readonly tiers?: readonly Tier[];
  /** The dump object's storage class (`STANDARD` when S3 names none). */
  readonly storageClass?: string;
  /** `GOVERNANCE until …`, `COMPLIANCE until …`, `legal hold`, or `none`. */
  readonly lock?: string;
  /** What the backup run's verify said (`verified`, `corrupt`, ...), or `unknown` when no report names it. */
  readonly verified: string;
  readonly problem?: string;
}

/**
 * The sources with backups in `bucket` (`postgres/<source>/`), by a delimited listing.
 */
export async function listSources(s3: S3Client, bucket: string): Promise<string[]> {
  const sources: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: DUMP_KEY_PREFIX, Delimiter: '/', ContinuationToken: token }));
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) sources.push(p.Prefix.slice(DUMP_KEY_PREFIX.length, -1));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return sources;
}

/** `--source`, or the bucket's only source. @throws UsageError when there are several, NotFound when none */
export async function chooseSource(s3: S3Client, bucket: string, source: string | undefined): Promise<string> {
  if (source) return source;
  const sources = await listSources(s3, bucket);
  if (sources.length === 1) return sources[0];
  if (sources.length === 0) throw new NotFound(`s3://${bucket} holds no backups (no keys under ${DUMP_KEY_PREFIX})`);
  throw new UsageError(`s3://${bucket} holds backups of several sources; name one with --source (${sources.join(', ')})`);
}

/** The manifests of `source` (and `database`), newest first. @throws NotFound when there are none */
export async function backupCandidates(s3: S3Client, bucket: string, source: string, database?: string): Promise<DumpCandidate[]> {
  const prefix = `${DUMP_KEY_PREFIX}${source}/${database ? `${database}/` : ''}`;
  const candidates = dumpCandidates(await listKeys(s3, bucket, prefix), source, database);
  if (candidates.length === 0) {
    throw new NotFound(`no backups of ${source}${database ? `/${database}` : ''} in s3://${bucket} (no manifests under ${prefix})`);
  }
  return candidates;
}

/** The Object Lock of a HEAD response in words. */
export function describeLock(head: { ObjectLockMode?: string; ObjectLockRetainUntilDate?: Date; ObjectLockLegalHoldStatus?: string }, now: Date): string {
  const parts: string[] = [];
  if (head.ObjectLockMode && head.ObjectLockRetainUntilDate) {
    const until = head.ObjectLockRetainUntilDate;
    parts.push(until.getTime() > now.getTime() ? `${head.ObjectLockMode} until ${until.toISOString().slice(0, 10)}` : `${head.ObjectLockMode} expired`);
  }
  if (head.ObjectLockLegalHoldStatus === 'ON') parts.push('legal hold');
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** The date (`YYYY/MM/DD`) in a dated report key, or undefined. */
function reportDate(key: string): string | undefined {
  return /^reports\/[^/]+\/(\d{4}\/\d{2}\/\d{2})\//.exec(key)?.[1];
}

/**
 * What the backup runs' verify steps said about each manifest, from the backup reports dated from `since` on (a
 * report is dated by its run's start, the same day as its dumps or, at midnight, the day before).
 */
export async function verificationsSince(s3: S3Client, bucket: string, since: Date): Promise<Map<string, string>> {
  const from = new Date(since.getTime() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '/');
  const keys = (await listKeys(s3, bucket, BACKUP_REPORT_PREFIX)).filter((k) => (reportDate(k) ?? '') >= from).sort();
  const found = new Map<string, string>();
  for (const key of keys) {
    const text = await getTextObjectOrUndefined(s3, bucket, key);
    if (text === undefined) continue;
    let report: { databases?: { manifestKey?: unknown; verification?: unknown }[] };
    try {
      report = JSON.parse(text) as typeof report;
    } catch {
      continue;
    }
    for (const d of report.databases ?? []) {
      if (typeof d.manifestKey === 'string') found.set(d.manifestKey, typeof d.verification === 'string' ? d.verification : 'not verified');
    }
  }
  return found;
}

/** Lists the newest `limit` backups of `source` (and `database`) with what S3 says of each. */
export async function listBackups(
  s3: S3Client,
  bucket: string,
  options: { readonly source: string; readonly database?: string; readonly limit: number; readonly now: Date },
): Promise<ListedBackup[]> {
  const candidates = (await backupCandidates(s3, bucket, options.source, options.database)).slice(0, options.limit);
  const oldest = candidates[candidates.length - 1].timestamp;
  const verifications = await verificationsSince(s3, bucket, oldest);
  const out: ListedBackup[] = [];
  for (const c of candidates) {
    const base = {
      manifestKey: c.manifestKey,
      database: c.database,
      startedAt: c.timestamp.toISOString(),
      ageSeconds: Math.max(0, Math.round((options.now.getTime() - c.timestamp.getTime()) / 1000)),
      verified: verifications.get(c.manifestKey) ?? 'unknown',
    };
    const text = await getTextObjectOrUndefined(s3, bucket, c.manifestKey);
    const parsed = text === undefined ? undefined : parseManifestJson(text);
    if (!parsed?.ok) {
      out.push({ ...base, problem: parsed ? `invalid manifest: ${parsed.errors.join('; ')}` : 'manifest disappeared while listing' });
      continue;
    }
    const { manifest } = parsed;
    const head = await headObjectOrUndefined(s3, bucket, manifest.s3.key, manifest.s3.versionId);
    out.push({
      ...base,
      startedAt: manifest.startedAt,
      bytes: manifest.bytes,
      tiers: manifest.tiers,
      ...(head
        ? { storageClass: head.StorageClass ?? 'STANDARD', lock: describeLock(head, options.now) }
        : { problem: `the dump object ${manifest.s3.key} (version ${manifest.s3.versionId ?? 'null'}) is missing` }),
    });
  }
  return out;
}

/** Where a bucket replicates to: the first enabled rule's destination and its region, or undefined. */
export async function replicaOf(s3: S3Client, bucket: string, s3In: (region: string) => S3Client): Promise<{ bucket: string; region: string } | undefined> {
  let destination: string | undefined;
  try {
    const out = await s3.send(new GetBucketReplicationCommand({ Bucket: bucket }));
    destination = out.ReplicationConfiguration?.Rules?.find((r) => r.Status === 'Enabled')?.Destination?.Bucket;
  } catch (error) {
    if (awsErrorInfo(error).code === 'ReplicationConfigurationNotFoundError') return undefined;
    throw error;
  }
  if (!destination) return undefined;
  const name = destination.replace(/^arn:aws[a-z-]*:s3:::/, '');
  const location = await s3In('us-east-1').send(new GetBucketLocationCommand({ Bucket: name }));
  return { bucket: name, region: location.LocationConstraint || 'us-east-1' };
}
