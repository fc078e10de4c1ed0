/**
 * The cleanup of one bucket's dumps and one region's snapshots: list the series, decide with ./policy, delete what
 * the decision lets go. The rules of what a backup is and in which order it disappears live here; the handler
 * (./cleanup.handler.ts) reads the environment and writes the report and metrics.
 *
 * - Dumps: a backup exists when its manifest exists. One paginated listing of `postgres/<source>/` (ListObjectsV2,
 *   ⌈objects / 1000⌉ pages); each database is a series. A backup is verified when its manifest and its dump object are
 *   both listed. A backup disappears whole: every manifest to delete first (DeleteObjects, at most 1000 keys a call),
 *   then the dumps of the manifests that are gone (with a directory dump's files, `<same>.dump.d/*`). A dump without a manifest (an interrupted run or deletion) is
 *   swept once it is older than the grace period; so is a globals object (`.globals.sql`, the roles beside a v2
 *   dump), which goes with its dump.
 * - Object Lock: when the bucket has it, each backup about to be deleted is asked for its retention and legal hold
 *   (GetObjectRetention, GetObjectLegalHold on the dump) and kept when locked; the decision is then taken again.
 * - Versioned buckets: deleting adds a delete marker and the old version stays until the lifecycle's
 *   noncurrent-version expiry; `removeVersions` deletes every version of the deleted keys at once instead
 *   (ListObjectVersions over the database's prefix, then DeleteObjects with version ids).
 * - Snapshots: the manual snapshots of one instance or cluster in one region that carry this package's three tags;
 *   one series per region. Snapshots not yet `available` are kept. Deleted one by one (DeleteDBSnapshot /
 *   DeleteDBClusterSnapshot); a snapshot already gone counts as deleted.
 * - In use: a backup that a running recovery test or failover picked (./in-use.ts, asked by the handler) is kept.
 * - A dry run lists and decides, and deletes nothing.
 */
import {
  DeleteObjectsCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  S3ServiceException,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DeleteDBClusterSnapshotCommand, DeleteDBSnapshotCommand, DescribeAccountAttributesCommand } from '@aws-sdk/client-rds';
import { dumpKeyForManifestKey, globalsKeyForManifestKey, manifestKeyForObjectKey, parseBackupKey } from '../backup/manifest';
import { DUMP_KEY_PREFIX } from '../common/names';
import { isNotFound as isRdsNotFound, listSnapshots, rdsClient } from '../rds/client';
import { SnapshotKind, isOwnSnapshot, parseTierTag, SNAPSHOT_TAGS } from '../rds/snapshot';
import type { BackupsInUse } from './in-use';
import { RetainedBackup, RetentionDecision, RetentionRules, decideRetention } from './policy';

/** Most keys one DeleteObjects call takes (S3's limit). */
export const DELETE_BATCH = 1000;

/** One backup in the report: when, what became of it and why. */
export interface CleanupItem {
  readonly id: string;
  readonly time: string;
  readonly keep: boolean;
  readonly reasons: readonly string[];
  readonly tiers?: readonly string[];
}

/** The outcome of one series (one database's dumps, or one source's snapshots in one region). */
export interface SeriesOutcome {
  readonly series: string;
  readonly kept: number;
  readonly deleted: number;
  /** Every backup of the series, newest first, at most {@link MAX_ITEMS_REPORTED} (the rest counted in `omitted`). */
  readonly items: readonly CleanupItem[];
  readonly omitted: number;
}

/** Most items a series lists in the report (a report of 100,000 backups would be megabytes). */
export const MAX_ITEMS_REPORTED = 500;

/** What the dump cleanup of one bucket did (or, in a dry run, would do). */
export interface DumpCleanupResult {
  readonly bucket: string;
  readonly series: readonly SeriesOutcome[];
  /** Objects deleted: manifests, dumps, swept dumps (and, with `removeVersions`, every version of them). */
  readonly objectsDeleted: number;
  /** Bytes of the deleted current objects (what stops being billed once noncurrent versions expire). */
  readonly bytesFreed: number;
  /** Dumps without a manifest older than the grace period, deleted (or to delete). */
  readonly swept: readonly string[];
  /** Keys S3 refused to delete, with its reason. */
  readonly errors: readonly string[];
  /** S3 calls made, by command name (the test and the bench read this). */
  readonly calls: Readonly<Record<string, number>>;
}

/** Options of {@link cleanDumps}. */
export interface DumpCleanupOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly source: string;
  readonly rules: RetentionRules;
  readonly now: Date;
  readonly dryRun: boolean;
  /** Dumps without a manifest younger than this are left alone (a dump being written has no manifest yet). */
  readonly orphanGraceSeconds: number;
  /** Whether the bucket has Object Lock (then every deletion candidate is asked for its lock). */
  readonly objectLock: boolean;
  /** Delete every version of the deleted keys instead of adding delete markers. */
  readonly removeVersions: boolean;
  /** Manifest keys a running recovery test or failover picked (./in-use.ts): never deleted. @default none */
  readonly inUse?: BackupsInUse;
}

interface Listed {
  readonly key: string;
  readonly size: number;
  readonly lastModified: number;
}

function counter(): { calls: Record<string, number>; count: (name: string) => void } {
  const calls: Record<string, number> = {};
  return { calls, count: (name) => (calls[name] = (calls[name] ?? 0) + 1) };
}

function reportItems(decisions: readonly RetentionDecision[]): Pick<SeriesOutcome, 'items' | 'omitted'> {
  const items = decisions.slice(0, MAX_ITEMS_REPORTED).map((d) => ({
    id: d.id,
    time: new Date(d.time).toISOString(),
    keep: d.keep,
    reasons: d.reasons,
    ...(d.tiers ? { tiers: d.tiers } : {}),
  }));
  return { items, omitted: decisions.length - items.length };
}

/** Cleans the dumps of `source` in one bucket; see the module comment. */
export async function cleanDumps(options: DumpCleanupOptions): Promise<DumpCleanupResult> {
  const { s3, bucket } = options;
  const { calls, count } = counter();
  const prefix = `${DUMP_KEY_PREFIX}${options.source}/`;
  const objects = new Map<string, Listed>();
  let token: string | undefined;
  do {
    count('ListObjectsV2');
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key !== undefined) objects.set(o.Key, { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);

  // Series by database; orphan dumps (no manifest) past the grace period.
  const series = new Map<string, RetainedBackup[]>();
  const swept: string[] = [];
  const now = options.now.getTime();
  for (const object of objects.values()) {
    const parsed = parseBackupKey(object.key);
    if (!parsed || parsed.source !== options.source) continue;
    if (parsed.kind === 'manifest') {
      const dump = objects.get(dumpKeyForManifestKey(object.key));
      const list = series.get(parsed.database) ?? [];
      const inUseBy = options.inUse?.get(object.key);
      list.push({ id: object.key, time: parsed.timestamp.getTime(), verified: dump !== undefined && dump.size > 0, ...(inUseBy ? { inUseBy } : {}) });
      series.set(parsed.database, list);
    } else if (!objects.has(manifestKeyForObjectKey(object.key) ?? '') && now - object.lastModified > options.orphanGraceSeconds * 1000) {
      // A dump or a globals object without its manifest: what a failed run could not delete.
      swept.push(object.key);
    }
  }

  const outcomes: SeriesOutcome[] = [];
  const manifestsToDelete: string[] = [];
  for (const [database, backups] of [...series.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let decisions = decideRetention(backups, options.rules, now);
    if (options.objectLock) decisions = await withLocks(s3, bucket, backups, decisions, options.rules, now, count);
    const deleted = decisions.filter((d) => !d.keep);
    manifestsToDelete.push(...deleted.map((d) => d.id));
    outcomes.push({ series: `${prefix}${database}/`, kept: decisions.length - deleted.length, deleted: deleted.length, ...reportItems(decisions) });
  }

  const errors: string[] = [];
  let objectsDeleted = 0;
  let bytesFreed = 0;
  if (!options.dryRun) {
    // Manifests first: a backup whose manifest is gone no longer exists, so a dump left by a failed call is an orphan
    // the next run sweeps, never a backup without its dump.
    const gone = await deleteKeys(options, manifestsToDelete, count, errors);
    // A directory dump's files go with it: its toc.dat is the dump key, the other files share a prefix.
    const files = new Map<string, string[]>();
    for (const key of objects.keys()) {
      if (parseBackupKey(key)?.kind !== 'file') continue;
      const manifestKey = manifestKeyForObjectKey(key)!;
      files.set(manifestKey, [...(files.get(manifestKey) ?? []), key]);
    }
    const filesOf = (manifestKey: string): string[] => files.get(manifestKey) ?? [];
    const dumps = [...gone]
      .flatMap((key) => [dumpKeyForManifestKey(key), globalsKeyForManifestKey(key), ...filesOf(key)])
      .filter((key) => objects.has(key));
    const dumpsGone = await deleteKeys(options, [...dumps, ...swept], count, errors);
    for (const key of [...gone, ...dumpsGone]) bytesFreed += objects.get(key)?.size ?? 0;
    objectsDeleted = gone.size + dumpsGone.size;
  }
  return { bucket, series: outcomes, objectsDeleted, bytesFreed, swept, errors, calls };
}

/** Asks S3 for the locks of every deletion candidate and decides again until no new candidate appears. */
async function withLocks(
  s3: S3Client,
  bucket: string,
  backups: readonly RetainedBackup[],
  first: RetentionDecision[],
  rules: RetentionRules,
  now: number,
  count: (name: string) => void,
): Promise<RetentionDecision[]> {
  const locks = new Map<string, Pick<RetainedBackup, 'lockedUntil' | 'legalHold'>>();
  let decisions = first;
  for (;;) {
    const unchecked = decisions.filter((d) => !d.keep && !locks.has(d.id));
    if (unchecked.length === 0) return decisions;
    for (const d of unchecked) locks.set(d.id, await lockOf(s3, bucket, dumpKeyForManifestKey(d.id), count));
    decisions = decideRetention(
      backups.map((b) => ({ ...b, ...locks.get(b.id) })),
      rules,
      now,
    );
  }
}

/** The Object Lock retention and legal hold of the current version of `key`. */
async function lockOf(s3: S3Client, bucket: string, key: string, count: (name: string) => void): Promise<Pick<RetainedBackup, 'lockedUntil' | 'legalHold'>> {
  const absent = (error: unknown) =>
    error instanceof S3ServiceException && (error.name === 'NoSuchObjectLockConfiguration' || error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404);
  let lockedUntil: number | undefined;
  let legalHold = false;
  try {
    count('GetObjectRetention');
    const retention = await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
    lockedUntil = retention.Retention?.RetainUntilDate ? new Date(retention.Retention.RetainUntilDate).getTime() : undefined;
  } catch (error) {
    if (!absent(error)) throw error;
  }
  try {
    count('GetObjectLegalHold');
    const hold = await s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key }));
    legalHold = hold.LegalHold?.Status === 'ON';
  } catch (error) {
    if (!absent(error)) throw error;
  }
  return { ...(lockedUntil !== undefined ? { lockedUntil } : {}), ...(legalHold ? { legalHold } : {}) };
}

/** Deletes `keys` (current versions, or every version with `removeVersions`) in batches; returns the keys gone. */
async function deleteKeys(
  options: DumpCleanupOptions,
  keys: readonly string[],
  count: (name: string) => void,
  errors: string[],
): Promise<Set<string>> {
  const { s3, bucket } = options;
  let identifiers: ObjectIdentifier[] = keys.map((Key) => ({ Key }));
  if (options.removeVersions && keys.length > 0) identifiers = await everyVersion(s3, bucket, keys, count);
  const failed = new Set<string>();
  for (let i = 0; i < identifiers.length; i += DELETE_BATCH) {
    count('DeleteObjects');
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: identifiers.slice(i, i + DELETE_BATCH), Quiet: true } }));
    for (const error of out.Errors ?? []) {
      if (error.Key === undefined) continue;
      failed.add(error.Key);
      errors.push(`${error.Key}${error.VersionId ? ` (version ${error.VersionId})` : ''}: ${error.Code ?? 'error'} ${error.Message ?? ''}`.trim());
    }
  }
  return new Set(keys.filter((key) => !failed.has(key)));
}

/** Every version and delete marker of `keys`, listed per database prefix. */
async function everyVersion(s3: S3Client, bucket: string, keys: readonly string[], count: (name: string) => void): Promise<ObjectIdentifier[]> {
  const wanted = new Set(keys);
  const prefixes = new Set(keys.map((key) => key.split('/').slice(0, 3).join('/') + '/'));
  const out: ObjectIdentifier[] = [];
  for (const prefix of prefixes) {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      count('ListObjectVersions');
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key !== undefined && wanted.has(v.Key)) out.push({ Key: v.Key, ...(v.VersionId ? { VersionId: v.VersionId } : {}) });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
  }
  return out;
}

/** What the snapshot cleanup of one region did (or would do). */
export interface SnapshotCleanupResult {
  readonly region: string;
  readonly series: SeriesOutcome;
  readonly snapshotsDeleted: number;
  readonly errors: readonly string[];
}

/** Options of {@link cleanSnapshots}. */
export interface SnapshotCleanupOptions {
  readonly region: string;
  readonly kind: SnapshotKind;
  /** The DB instance or cluster identifier the snapshots were taken from. */
  readonly sourceIdentifier: string;
  readonly rules: RetentionRules;
  readonly now: Date;
  readonly dryRun: boolean;
  /** Snapshot identifiers a running recovery test or failover picked (./in-use.ts): never deleted. @default none */
  readonly inUse?: BackupsInUse;
}

/** Cleans the manual snapshots this package took of one source in one region; see the module comment. */
export async function cleanSnapshots(options: SnapshotCleanupOptions): Promise<SnapshotCleanupResult> {
  const found = (await listSnapshots(options.region, options.kind, { sourceIdentifier: options.sourceIdentifier })).filter(
    (s) => isOwnSnapshot(s.tags) && s.tags[SNAPSHOT_TAGS.source] === options.sourceIdentifier,
  );
  const backups: RetainedBackup[] = found.map((s) => {
    const inUseBy = s.status !== 'available' ? `RDS (status ${s.status || 'unknown'})` : options.inUse?.get(s.snapshotId);
    return {
      id: s.snapshotId,
      time: snapshotTime(s.snapshotId) ?? (s.originalCreateTime ?? s.snapshotCreateTime ?? options.now).getTime(),
      verified: s.status === 'available',
      ...(inUseBy !== undefined ? { inUseBy } : {}),
      tiers: parseTierTag(s.tags[SNAPSHOT_TAGS.tiers]),
    };
  });
  const decisions = decideRetention(backups, options.rules, options.now.getTime());
  const errors: string[] = [];
  let snapshotsDeleted = 0;
  if (!options.dryRun) {
    const client = rdsClient(options.region);
    for (const d of decisions.filter((x) => !x.keep)) {
      try {
        if (options.kind === 'instance') await client.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: d.id }));
        else await client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: d.id }));
        snapshotsDeleted++;
      } catch (error) {
        if (isRdsNotFound(error)) snapshotsDeleted++;
        else errors.push(`${d.id}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      }
    }
  }
  const deleted = decisions.filter((d) => !d.keep).length;
  return {
    region: options.region,
    series: { series: `${options.kind} ${options.sourceIdentifier} in ${options.region}`, kept: decisions.length - deleted, deleted, ...reportItems(decisions) },
    snapshotsDeleted,
    errors,
  };
}

/**
 * The run time a snapshot identifier ends with (`cdkbdr-<source>-<yyyymmddhhmmss>`, UTC): the same for a snapshot and
 * its DR copy, so both regions decide alike; `undefined` when the identifier carries none.
 */
export function snapshotTime(snapshotId: string): number | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(snapshotId);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec] = m.map(Number);
  const time = Date.UTC(y, mo - 1, d, h, mi, sec);
  const back = new Date(time);
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? time : undefined;
}

/** The manual snapshot quota of the account in one region. */
export interface SnapshotQuota {
  readonly region: string;
  readonly used?: number;
  readonly max?: number;
  /** Why the quota could not be read (the emulator does not answer DescribeAccountAttributes). */
  readonly error?: string;
}

/** How many manual snapshots the account holds in `region` against its quota (`ManualSnapshots`). */
export async function manualSnapshotQuota(region: string): Promise<SnapshotQuota> {
  try {
    const out = await rdsClient(region).send(new DescribeAccountAttributesCommand({}));
    const quota = (out.AccountQuotas ?? []).find((q) => q.AccountQuotaName === 'ManualSnapshots');
    if (!quota) return { region, error: 'DescribeAccountAttributes returned no ManualSnapshots quota' };
    return { region, ...(quota.Used !== undefined ? { used: quota.Used } : {}), ...(quota.Max !== undefined ? { max: quota.Max } : {}) };
  } catch (error) {
    return { region, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
