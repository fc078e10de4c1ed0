/**
 * Pure helpers for RDS instance and Aurora cluster snapshots: identifiers, tags, ARNs and the
 * "is it done yet?" decision, and the SDK's description of one. No AWS calls here; the snapshot handler and ./client
 * do the I/O.
 */
import { createHash } from 'node:crypto';
import type { DBClusterSnapshot, DBSnapshot } from '@aws-sdk/client-rds';
import { TIERS, Tier } from '../common/validate';
import { CREATOR_TAG, CREATOR_TAG_VALUE, SNAPSHOT_ID_PREFIX } from '../common/names';

export { CREATOR_TAG_VALUE };

/** Which RDS API family a snapshot belongs to. */
export type SnapshotKind = 'instance' | 'cluster';

/** The kinds, for validation messages. */
export const SNAPSHOT_KINDS: readonly SnapshotKind[] = ['instance', 'cluster'];

/** Tag keys written on every snapshot and copy this package creates. */
export const SNAPSHOT_TAGS = {
  /** Always {@link CREATOR_TAG_VALUE}: cleanup only ever touches snapshots carrying it. */
  creator: CREATOR_TAG,
  /** The tiers the run satisfied, joined with `+` in canonical order (`daily+weekly`). */
  tiers: 'cdk-backup-dr:tiers',
  /** The DB instance or cluster identifier the snapshot was taken from. */
  source: 'cdk-backup-dr:source',
  /** On cross-region copies only: the ARN of the snapshot that was copied. */
  copiedFrom: 'cdk-backup-dr:copied-from',
} as const;

/** Longest snapshot identifier RDS accepts, per kind (DB snapshots 255, DB cluster snapshots 63). */
export const MAX_SNAPSHOT_ID_LENGTH: Readonly<Record<SnapshotKind, number>> = { instance: 255, cluster: 63 };

/** An RDS / Aurora tag. */
export interface RdsTag {
  readonly Key: string;
  readonly Value: string;
}

/** `2024-01-31T02:03:04.567Z` → `20240131020304` (UTC). */
export function compactUtcTimestamp(at: Date): string {
  return at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * The snapshot identifier for a snapshot of `sourceIdentifier` taken at `at`:
 * `cdkbdr-<source>-<yyyymmddhhmmss>`, lowercase (RDS stores snapshot identifiers lowercase).
 *
 * Deterministic, so a retried task computes the same identifier and finds the snapshot it already started.
 * When the result would exceed the kind's limit (only cluster snapshots, limited to 63 characters, from
 * identifiers longer than 41 characters), the source part is shortened and an 8-character hash of the full
 * source identifier is added, so two long identifiers with the same prefix still get different names.
 */
export function snapshotIdentifier(kind: SnapshotKind, sourceIdentifier: string, at: Date, runId?: string): string {
  const source = sourceIdentifier
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  const stamp = compactUtcTimestamp(at);
  const max = MAX_SNAPSHOT_ID_LENGTH[kind];
  const plain = `${SNAPSHOT_ID_PREFIX}${source}-${stamp}`.replace(/-{2,}/g, '-');
  if (runId === undefined && plain.length <= max) {
    return plain;
  }
  const hashed = runId === undefined ? sourceIdentifier.toLowerCase() : `${sourceIdentifier.toLowerCase()}\n${runId}`;
  const hash = createHash('sha256').update(hashed).digest('hex').slice(0, 8);
  const budget = max - SNAPSHOT_ID_PREFIX.length - hash.length - stamp.length - 2;
  const prefix = source.slice(0, budget).replace(/-+$/, '');
  return `${SNAPSHOT_ID_PREFIX}${prefix}-${hash}-${stamp}`;
}

/** `['daily', 'weekly']` → `daily+weekly` (a comma is not allowed in RDS tag values). */
export function tierTagValue(tiers: readonly Tier[]): string {
  return TIERS.filter((tier) => tiers.includes(tier)).join('+');
}

/** Inverse of {@link tierTagValue}; unknown words are ignored, so a hand-edited tag never breaks cleanup. */
export function parseTierTag(value: string | undefined): Tier[] {
  const words = new Set((value ?? '').split('+').map((word) => word.trim()));
  return TIERS.filter((tier) => words.has(tier));
}

/** The tags for a snapshot this package creates (and, with `copiedFrom`, for its cross-region copy). */
export function snapshotTags(props: {
  readonly sourceIdentifier: string;
  readonly tiers: readonly Tier[];
  readonly copiedFrom?: string;
}): RdsTag[] {
  const tags: RdsTag[] = [
    { Key: SNAPSHOT_TAGS.creator, Value: CREATOR_TAG_VALUE },
    { Key: SNAPSHOT_TAGS.tiers, Value: tierTagValue(props.tiers) },
    { Key: SNAPSHOT_TAGS.source, Value: props.sourceIdentifier },
  ];
  if (props.copiedFrom !== undefined) {
    tags.push({ Key: SNAPSHOT_TAGS.copiedFrom, Value: props.copiedFrom });
  }
  return tags;
}

/** Turns an SDK `TagList` into a plain record (entries without a key are dropped). */
export function tagRecord(tags: readonly { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const tag of tags ?? []) {
    if (tag.Key !== undefined) record[tag.Key] = tag.Value ?? '';
  }
  return record;
}

/**
 * What this package reads of an SDK DB snapshot or DB cluster snapshot, named the same for both kinds. Identifier,
 * ARN and status are empty when RDS left them out; the optional fields are absent when empty.
 */
export interface DescribedSnapshot {
  readonly kind: SnapshotKind;
  readonly snapshotId: string;
  readonly snapshotArn: string;
  readonly status: string;
  readonly tags: Record<string, string>;
  /** DBInstanceIdentifier / DBClusterIdentifier the snapshot was taken from. */
  readonly sourceIdentifier?: string;
  readonly snapshotCreateTime?: Date;
  /** `OriginalSnapshotCreateTime`: when the snapshot a copy was made from was taken (instance snapshots only). */
  readonly originalCreateTime?: Date;
  readonly snapshotType?: string;
  readonly engine?: string;
  readonly engineVersion?: string;
  readonly masterUsername?: string;
  readonly kmsKeyId?: string;
  readonly allocatedStorageGiB?: number;
  readonly encrypted: boolean;
}

/** An SDK snapshot of either kind as a {@link DescribedSnapshot}. */
export function describedSnapshot(kind: SnapshotKind, snapshot: DBSnapshot | DBClusterSnapshot): DescribedSnapshot {
  const own =
    kind === 'instance'
      ? {
          snapshotId: (snapshot as DBSnapshot).DBSnapshotIdentifier,
          snapshotArn: (snapshot as DBSnapshot).DBSnapshotArn,
          sourceIdentifier: (snapshot as DBSnapshot).DBInstanceIdentifier,
          originalCreateTime: (snapshot as DBSnapshot).OriginalSnapshotCreateTime,
          encrypted: (snapshot as DBSnapshot).Encrypted,
        }
      : {
          snapshotId: (snapshot as DBClusterSnapshot).DBClusterSnapshotIdentifier,
          snapshotArn: (snapshot as DBClusterSnapshot).DBClusterSnapshotArn,
          sourceIdentifier: (snapshot as DBClusterSnapshot).DBClusterIdentifier,
          originalCreateTime: undefined,
          encrypted: (snapshot as DBClusterSnapshot).StorageEncrypted,
        };
  const s = snapshot;
  return {
    kind,
    snapshotId: own.snapshotId ?? '',
    snapshotArn: own.snapshotArn ?? '',
    status: s.Status ?? '',
    tags: tagRecord(s.TagList),
    ...(own.sourceIdentifier ? { sourceIdentifier: own.sourceIdentifier } : {}),
    ...(s.SnapshotCreateTime ? { snapshotCreateTime: new Date(s.SnapshotCreateTime) } : {}),
    ...(own.originalCreateTime ? { originalCreateTime: new Date(own.originalCreateTime) } : {}),
    ...(s.SnapshotType ? { snapshotType: s.SnapshotType } : {}),
    ...(s.Engine ? { engine: s.Engine } : {}),
    ...(s.EngineVersion ? { engineVersion: s.EngineVersion } : {}),
    ...(s.MasterUsername ? { masterUsername: s.MasterUsername } : {}),
    ...(s.KmsKeyId ? { kmsKeyId: s.KmsKeyId } : {}),
    ...(s.AllocatedStorage !== undefined ? { allocatedStorageGiB: s.AllocatedStorage } : {}),
    encrypted: own.encrypted ?? false,
  };
}

/**
 * True when the tags mark a snapshot created by this package: the only ones cleanup may delete and recovery may use.
 * The creator tag alone is not enough: the instances and clusters this package creates carry it too, and a snapshot
 * that took its tags from one of them (CopyTagsToSnapshot set later by someone) is not a backup this package made.
 * Only snapshots this package creates also carry the tiers and source tags.
 */
export function isOwnSnapshot(tags: Readonly<Record<string, string>>): boolean {
  return tags[SNAPSHOT_TAGS.creator] === CREATOR_TAG_VALUE && SNAPSHOT_TAGS.tiers in tags && SNAPSHOT_TAGS.source in tags;
}

/** Why a snapshot that fails {@link isOwnSnapshot} is skipped, for reports. */
export const NOT_OWN_SNAPSHOT =
  'not created by cdk-backup-dr (it lacks the cdk-backup-dr:creator, cdk-backup-dr:tiers and cdk-backup-dr:source tags ' +
  'this package puts on its snapshots)';

/** What to do about a snapshot in a given status. */
export type SnapshotDecision = 'ready' | 'pending' | 'failed';

/** Statuses that are still moving towards `available`. */
const IN_PROGRESS_STATUSES = new Set(['creating', 'copying', 'pending', 'modifying', 'upgrading', 'backing-up']);

/**
 * `available` → ready; `creating` / `copying` (and the other transitional states) → pending, i.e. poll again;
 * anything else (`failed`, `deleting`, `incompatible-*`, …) → failed, which no amount of waiting fixes.
 * A status the API left out is treated as pending: the Retry's attempt limit bounds the wait.
 */
export function snapshotDecision(status: string | undefined): SnapshotDecision {
  if (status === undefined || status === '') return 'pending';
  const normalized = status.toLowerCase();
  if (normalized === 'available') return 'ready';
  if (IN_PROGRESS_STATUSES.has(normalized)) return 'pending';
  return 'failed';
}

/** The parts of an ARN (`arn:partition:service:region:account:resource-type:resource-name`). */
export interface RdsArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly resourceType: string;
  readonly resourceName: string;
}

/** Parses an RDS ARN such as `arn:aws:rds:us-east-1:123456789012:snapshot:name`; undefined when it is not one. */
export function parseRdsArn(arn: string): RdsArn | undefined {
  const match = /^arn:(aws[a-z-]*):rds:([a-z0-9-]+):(\d{12}):([a-z-]+):(.+)$/.exec(arn);
  if (!match) return undefined;
  return { partition: match[1], region: match[2], account: match[3], resourceType: match[4], resourceName: match[5] };
}

/** The ARN resource type of a snapshot of each kind. */
export const SNAPSHOT_ARN_TYPE: Readonly<Record<SnapshotKind, string>> = {
  instance: 'snapshot',
  cluster: 'cluster-snapshot',
};
