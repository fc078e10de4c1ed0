/**
 * Which backup a recovery test restores: the selection in the execution input, the candidates found in the bucket
 * (dumps) or in RDS (snapshots), their order, and whether a candidate is usable. Pure: the recovery-pick handler
 * does the listing and reading.
 *
 * "Usable" (the package's meaning of a verified backup that a test may pick):
 * - a dump: its manifest exists and is a valid v1 manifest of this source (the dump workflow writes the manifest last,
 *   only after the upload completed with the SHA-256 it records), and the dump object exists at the manifest's key
 *   and version with the manifest's size, in a storage class that can be read without a restore (not Glacier Flexible
 *   Retrieval or Deep Archive). The SHA-256 itself is checked while restoring: the restore reads every byte anyway,
 *   and a mismatch fails the test (ChecksumMismatch) rather than silently picking another backup.
 * - a snapshot: a manual snapshot of the configured instance or cluster carrying this package's creator tag, in
 *   status `available`.
 * A candidate that is not usable is skipped (and listed in the result) when the selection is `latest` or random;
 * a backup named in the input that is missing or unusable fails the test before anything is created.
 */
import { InvalidInput } from '../common/errors';
import { BackupManifest, dumpObjectBytes, parseBackupKey } from '../backup/manifest';
import { expectNumber, expectObject, expectString } from '../common/validate';
import { NOT_OWN_SNAPSHOT } from '../rds/snapshot';

/** What kind of backup a recovery test restores. */
export type BackupKind = 'dump' | 'snapshot';

/** The selection in the execution input. */
export type BackupSelection =
  | { readonly latest: true }
  | { readonly manifestKey: string }
  | { readonly snapshotId: string }
  | { readonly randomWithinDays: number };

/** The selection's mode, recorded in the report. */
export type SelectionMode = 'latest' | 'manifestKey' | 'snapshotId' | 'randomWithinDays';

/** Longest window `randomWithinDays` accepts (about ten years). */
export const MAX_RANDOM_WINDOW_DAYS = 3660;

/** The mode of a selection. */
export function selectionMode(selection: BackupSelection): SelectionMode {
  if ('manifestKey' in selection) return 'manifestKey';
  if ('snapshotId' in selection) return 'snapshotId';
  if ('randomWithinDays' in selection) return 'randomWithinDays';
  return 'latest';
}

const SELECTION_HINT =
  'selection must be one of { "latest": true }, { "manifestKey": "postgres/…manifest.json" } (dumps), ' +
  '{ "snapshotId": "cdkbdr-…" } (snapshots) or { "randomWithinDays": N }';

/**
 * Validates the selection for a kind of backup; `undefined` means `{ latest: true }`.
 *
 * @throws InvalidInput naming what to change.
 */
export function parseSelection(value: unknown, kind: BackupKind): BackupSelection {
  if (value === undefined || value === null) return { latest: true };
  const v = expectObject(value, 'selection');
  const keys = Object.keys(v);
  if (keys.length !== 1) throw new InvalidInput(`${SELECTION_HINT}; got keys ${JSON.stringify(keys)}`);
  const [key] = keys;
  switch (key) {
    case 'latest':
      if (v.latest !== true) throw new InvalidInput(`selection.latest must be true; got ${JSON.stringify(v.latest)}`);
      return { latest: true };
    case 'manifestKey': {
      if (kind !== 'dump') throw new InvalidInput('selection.manifestKey names a dump, but this recovery test restores snapshots; use snapshotId');
      const manifestKey = expectString(v.manifestKey, 'selection.manifestKey');
      if (parseBackupKey(manifestKey)?.kind !== 'manifest') {
        throw new InvalidInput(
          `selection.manifestKey must be a manifest key postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.manifest.json; got ${JSON.stringify(manifestKey)}`,
        );
      }
      return { manifestKey };
    }
    case 'snapshotId': {
      if (kind !== 'snapshot') throw new InvalidInput('selection.snapshotId names a snapshot, but this recovery test restores dumps; use manifestKey');
      const snapshotId = expectString(v.snapshotId, 'selection.snapshotId', /^[A-Za-z][A-Za-z0-9-]{0,254}$/, 'must be a snapshot identifier (not an ARN)');
      return { snapshotId };
    }
    case 'randomWithinDays': {
      const days = expectNumber(v.randomWithinDays, 'selection.randomWithinDays', 1);
      if (!Number.isInteger(days) || days > MAX_RANDOM_WINDOW_DAYS) {
        throw new InvalidInput(`selection.randomWithinDays must be a whole number of days from 1 to ${MAX_RANDOM_WINDOW_DAYS}; got ${days}`);
      }
      return { randomWithinDays: days };
    }
    default:
      throw new InvalidInput(`${SELECTION_HINT}; got ${JSON.stringify(key)}`);
  }
}

/** Anything with a point in time. */
export interface Timed {
  readonly timestamp: Date;
}

/** A manifest found in the bucket. */
export interface DumpCandidate extends Timed {
  readonly manifestKey: string;
  readonly source: string;
  readonly database: string;
}

/**
 * The manifests among `keys` that belong to `source` (and `database`, when given), newest first (ties: by key,
 * descending, so the order is total).
 */
export function dumpCandidates(keys: Iterable<string>, source: string, database?: string): DumpCandidate[] {
  const out: DumpCandidate[] = [];
  for (const key of keys) {
    const parsed = parseBackupKey(key);
    if (!parsed || parsed.kind !== 'manifest' || parsed.source !== source) continue;
    if (database !== undefined && parsed.database !== database) continue;
    out.push({ manifestKey: key, source: parsed.source, database: parsed.database, timestamp: parsed.timestamp });
  }
  return sortNewestFirst(out, (c) => c.manifestKey);
}

/** Sorts newest first; equal times by `tieKey` descending. */
export function sortNewestFirst<T extends Timed>(items: readonly T[], tieKey: (item: T) => string): T[] {
  return [...items].sort((a, b) => {
    const byTime = b.timestamp.getTime() - a.timestamp.getTime();
    if (byTime !== 0) return byTime;
    const ka = tieKey(a);
    const kb = tieKey(b);
    return ka < kb ? 1 : ka > kb ? -1 : 0;
  });
}

/**
 * The order in which candidates are tried: `latest` → newest first; `randomWithinDays` → those not older than the
 * window, in a random order drawn with `randomInt(n)` (0 ≤ result < n; Fisher–Yates); a named backup → as given.
 * `candidates` must be sorted newest first.
 */
export function orderCandidates<T extends Timed>(
  candidates: readonly T[],
  selection: BackupSelection,
  now: Date,
  randomInt: (n: number) => number,
): T[] {
  if (!('randomWithinDays' in selection)) return [...candidates];
  const since = now.getTime() - selection.randomWithinDays * 86_400_000;
  const inWindow = candidates.filter((c) => c.timestamp.getTime() >= since);
  for (let i = inWindow.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [inWindow[i], inWindow[j]] = [inWindow[j], inWindow[i]];
  }
  return inWindow;
}

/** What S3 says about a dump object (HeadObject). */
export interface DumpObjectHead {
  readonly contentLength?: number;
  readonly versionId?: string;
  /** `undefined` means STANDARD. */
  readonly storageClass?: string;
  /** `x-amz-restore`: present while or after a Glacier restore. */
  readonly restore?: string;
}

/** Storage classes whose objects cannot be read without a restore request first. */
const ARCHIVED_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * Why a dump described by `manifest` at `manifestKey` cannot be restored, or `undefined` when it can.
 *
 * @param head the dump object's HeadObject answer, `undefined` when the object (version) does not exist
 */
export function dumpProblem(manifestKey: string, manifest: BackupManifest, source: string, head: DumpObjectHead | undefined): string | undefined {
  const keyInfo = parseBackupKey(manifestKey);
  if (manifest.source !== source) return `the manifest is of source ${JSON.stringify(manifest.source)}, not ${JSON.stringify(source)}`;
  if (keyInfo && manifest.database !== keyInfo.database) {
    return `the manifest is of database ${JSON.stringify(manifest.database)} but its key names ${JSON.stringify(keyInfo.database)}`;
  }
  if (!head) return `the dump object ${manifest.s3.key}${manifest.s3.versionId ? ` (version ${manifest.s3.versionId})` : ''} does not exist`;
  const expectedBytes = dumpObjectBytes(manifest);
  if (head.contentLength !== undefined && head.contentLength !== expectedBytes) {
    return `the dump object is ${head.contentLength} bytes but the manifest says ${expectedBytes}`;
  }
  if (head.storageClass !== undefined && ARCHIVED_CLASSES.has(head.storageClass) && !/ongoing-request="false"/.test(head.restore ?? '')) {
    return `the dump object is archived in ${head.storageClass}; restore it from Glacier first or pick a newer backup`;
  }
  return undefined;
}

/** A snapshot as the pick handler sees it. */
export interface SnapshotCandidate extends Timed {
  readonly snapshotId: string;
  readonly snapshotArn: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly engine?: string;
  readonly engineVersion?: string;
  readonly masterUsername?: string;
  readonly encrypted: boolean;
  readonly sourceIdentifier?: string;
  readonly snapshotType?: string;
}

/**
 * Why a snapshot cannot be restored by a recovery test, or `undefined` when it can.
 *
 * @param isOwn whether the tags mark a snapshot created by this package (the scratch role may only restore those)
 */
export function snapshotProblem(snapshot: SnapshotCandidate, isOwn: boolean): string | undefined {
  if (!isOwn) return `it was ${NOT_OWN_SNAPSHOT}; the recovery test restores only its own snapshots`;
  if (snapshot.status.toLowerCase() !== 'available') return `it is ${JSON.stringify(snapshot.status)}, not available`;
  if (snapshot.masterUsername === undefined || snapshot.masterUsername === '') return 'RDS reports no master user name for it';
  return undefined;
}

/** Whole seconds from `dataAsOf` to `now` (never negative: a clock skew is not a negative age). */
export function ageSeconds(dataAsOf: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - dataAsOf.getTime()) / 1000));
}

/** A candidate the pick skipped, and why. */
export interface SkippedBackup {
  readonly id: string;
  readonly reason: string;
}

/** The dump a recovery test restores. */
export interface PickedDump {
  readonly manifestKey: string;
  readonly dumpKey: string;
  readonly database: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly versionId: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly serverVersion: string;
  readonly pgDumpVersion: string;
  /** Number of tables in the manifest. */
  readonly tables: number;
  readonly tiers: readonly string[];
}

/** The snapshot a recovery test restores. */
export interface PickedSnapshot {
  readonly snapshotKind: 'instance' | 'cluster';
  readonly snapshotId: string;
  readonly snapshotArn: string;
  readonly createdAt: string;
  readonly engine?: string;
  readonly engineVersion?: string;
  readonly masterUsername: string;
  readonly encrypted: boolean;
  readonly sourceIdentifier?: string;
}

/** What the pick returns: the backup, how old its data is, and what was skipped on the way. */
export interface PickedBackup {
  readonly kind: BackupKind;
  readonly selection: SelectionMode;
  /** A human-readable id: the manifest key or the snapshot id. */
  readonly id: string;
  /**
   * The moment the backed-up data is from (ISO-8601): a dump's `startedAt` (pg_dump reads one snapshot exported at
   * the start), a snapshot's creation time.
   */
  readonly dataAsOf: string;
  /** When the pick ran (ISO-8601). */
  readonly pickedAt: string;
  /** `pickedAt - dataAsOf` in whole seconds: the data age at test time, i.e. the RPO actually achieved. */
  readonly ageSeconds: number;
  /** The RPO the test checks against, when configured. */
  readonly rpoSeconds?: number;
  /** `ageSeconds <= rpoSeconds`, when an RPO is configured. */
  readonly withinRpo?: boolean;
  /** Newer (or, for random picks, other) candidates that were skipped, with the reason (at most 20). */
  readonly skipped: readonly SkippedBackup[];
  readonly dump?: PickedDump;
  readonly snapshot?: PickedSnapshot;
}

/** Most candidates the pick examines before giving up (each costs a GET and a HEAD, or nothing for snapshots). */
export const MAX_CANDIDATES_TRIED = 20;

/** The RPO fields of a pick. */
export function rpoFields(age: number, rpoSeconds: number | undefined): Pick<PickedBackup, 'rpoSeconds' | 'withinRpo'> {
  return rpoSeconds === undefined ? {} : { rpoSeconds, withinRpo: age <= rpoSeconds };
}

/** The {@link PickedDump} of a manifest. */
export function pickedDump(manifestKey: string, manifest: BackupManifest): PickedDump {
  return {
    manifestKey,
    dumpKey: manifest.s3.key,
    database: manifest.database,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    versionId: manifest.s3.versionId,
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    serverVersion: manifest.serverVersion,
    pgDumpVersion: manifest.pgDumpVersion,
    tables: manifest.tables.length,
    tiers: [...manifest.tiers],
  };
}
