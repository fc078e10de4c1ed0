/**
 * Recovery-pick handler: the first step of a recovery test. Finds the backup to restore — the newest usable one by
 * default, one named in the input, or a random one within N days — and fails with `BackupNotFound` /
 * `BackupUnusable` before anything is created when there is none. What "usable" means is documented in
 * lambda/selection/backup-selection.
 *
 * Dumps: lists the manifests under `postgres/<SOURCE_ID>/` (or `postgres/<SOURCE_ID>/<DATABASE>/`) in BUCKET_NAME
 * with paginated ListObjectsV2, newest first by the key's timestamp, then reads each candidate's manifest and heads
 * its dump object until one is usable. Snapshots: lists the manual snapshots of SNAPSHOT_SOURCE_IDENTIFIER
 * (SNAPSHOT_KIND `instance` or `cluster`), paginated, newest first, keeping this package's own available ones.
 *
 * Returns the backup with its data age at pick time (the RPO actually achieved) and, with RPO_SECONDS, whether that
 * age is within the RPO.
 */
import { randomInt } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import {
  BackupKind,
  BackupSelection,
  MAX_CANDIDATES_TRIED,
  PickedBackup,
  SkippedBackup,
  SnapshotCandidate,
  ageSeconds,
  dumpCandidates,
  orderCandidates,
  parseSelection,
  pickedDump,
  rpoFields,
  selectionMode,
  snapshotProblem,
  sortNewestFirst,
} from './backup-selection';
import { examineDump, listKeys, skipReason } from './dump-lookup';
import { listSnapshots } from '../rds/client';
import { BackupNotFound, BackupUnusable, InvalidInput, MissingConfiguration, requireEnv } from '../common/errors';
import { logger } from '../common/logger';
import { BackupManifest, parseBackupKey } from '../backup/manifest';
import { isOwnSnapshot } from '../rds/snapshot';
import { expectObject, expectOneOf } from '../common/validate';
import { DATABASE_NAME_HINT, DUMP_KEY_PREFIX, isDatabaseName } from '../common/names';

export { BackupNotFound, BackupUnusable } from '../common/errors';
export type { BackupKind, BackupSelection, PickedBackup, PickedDump, PickedSnapshot, SkippedBackup } from './backup-selection';

/** Input of the recovery-pick handler. */
export interface PickInput {
  /** What the recovery test restores (fixed by the construct). */
  readonly kind: BackupKind;
  /** @default { latest: true } */
  readonly selection?: BackupSelection;
}

/** Validates the handler's input before any AWS call. */
export function parsePickInput(event: unknown): { kind: BackupKind; selection: BackupSelection } {
  const v = expectObject(event, 'input');
  const kind = expectOneOf(v.kind, 'kind', ['dump', 'snapshot'] as const);
  return { kind, selection: parseSelection(v.selection, kind) };
}

const s3 = new S3Client({});

function rpoSeconds(): number | undefined {
  const text = process.env.RPO_SECONDS;
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new MissingConfiguration(`RPO_SECONDS must be a positive whole number; got ${JSON.stringify(text)}`);
  return value;
}

function dumpResult(selection: BackupSelection, manifestKey: string, manifest: BackupManifest, skipped: SkippedBackup[], now: Date): PickedBackup {
  const age = ageSeconds(new Date(manifest.startedAt), now);
  return {
    kind: 'dump',
    selection: selectionMode(selection),
    id: manifestKey,
    dataAsOf: manifest.startedAt,
    pickedAt: now.toISOString(),
    ageSeconds: age,
    ...rpoFields(age, rpoSeconds()),
    skipped: skipped.slice(0, 20),
    dump: pickedDump(manifestKey, manifest),
  };
}

async function pickDump(selection: BackupSelection): Promise<PickedBackup> {
  const bucket = requireEnv('BUCKET_NAME');
  const source = requireEnv('SOURCE_ID');
  const database = process.env.DATABASE || undefined;
  if (database !== undefined && !isDatabaseName(database)) throw new MissingConfiguration(`DATABASE ${DATABASE_NAME_HINT}`);
  const now = new Date();

  if ('manifestKey' in selection) {
    const key = selection.manifestKey;
    if (parseBackupKey(key)?.source !== source) {
      throw new InvalidInput(`selection.manifestKey must be a backup of this source, under ${DUMP_KEY_PREFIX}${source}/; got ${JSON.stringify(key)}`);
    }
    const found = await examineDump(s3, bucket, source, key);
    if (!found) throw new BackupNotFound(`there is no manifest ${key} in bucket ${bucket}: no such backup`);
    if (found.problem !== undefined || !found.manifest) throw new BackupUnusable(`${key} cannot be restored: ${found.problem ?? 'unreadable manifest'}`);
    return dumpResult(selection, key, found.manifest, [], now);
  }

  const prefix = `${DUMP_KEY_PREFIX}${source}/${database !== undefined ? `${database}/` : ''}`;
  const all = dumpCandidates(await listKeys(s3, bucket, prefix), source, database);
  const ordered = orderCandidates(all, selection, now, randomInt);
  const where = 'randomWithinDays' in selection ? `within the last ${selection.randomWithinDays} days ` : '';
  if (ordered.length === 0) {
    throw new BackupNotFound(`no backup manifest ${where}under s3://${bucket}/${prefix} (${all.length} in total): nothing to restore`);
  }
  const skipped: SkippedBackup[] = [];
  for (const candidate of ordered.slice(0, MAX_CANDIDATES_TRIED)) {
    const found = await examineDump(s3, bucket, source, candidate.manifestKey);
    if (found?.manifest && found.problem === undefined) {
      if (skipped.length > 0) logger.warn('newer backups skipped', { skipped: skipped.length, picked: candidate.manifestKey });
      return dumpResult(selection, candidate.manifestKey, found.manifest, skipped, now);
    }
    skipped.push({ id: candidate.manifestKey, reason: skipReason(found) });
  }
  throw new BackupUnusable(
    `none of the ${Math.min(ordered.length, MAX_CANDIDATES_TRIED)} newest backups ${where}under s3://${bucket}/${prefix} can be restored: ` +
      skipped.map((s) => `${s.id}: ${s.reason}`).join('; '),
  );
}

/** The manual snapshots of `identifier` (or the one named `snapshotId`) in the Lambda's region, all pages. */
async function listSnapshotCandidates(kind: 'instance' | 'cluster', identifier: string, snapshotId?: string): Promise<SnapshotCandidate[]> {
  const found = await listSnapshots(undefined, kind, snapshotId !== undefined ? { snapshotId } : { sourceIdentifier: identifier });
  return found.map((s) => ({ ...s, timestamp: s.snapshotCreateTime ?? new Date(0) }));
}

function snapshotResult(selection: BackupSelection, kind: 'instance' | 'cluster', s: SnapshotCandidate, skipped: SkippedBackup[], now: Date): PickedBackup {
  const age = ageSeconds(s.timestamp, now);
  return {
    kind: 'snapshot',
    selection: selectionMode(selection),
    id: s.snapshotId,
    dataAsOf: s.timestamp.toISOString(),
    pickedAt: now.toISOString(),
    ageSeconds: age,
    ...rpoFields(age, rpoSeconds()),
    skipped: skipped.slice(0, 20),
    snapshot: {
      snapshotKind: kind,
      snapshotId: s.snapshotId,
      snapshotArn: s.snapshotArn,
      createdAt: s.timestamp.toISOString(),
      ...(s.engine !== undefined ? { engine: s.engine } : {}),
      ...(s.engineVersion !== undefined ? { engineVersion: s.engineVersion } : {}),
      masterUsername: s.masterUsername ?? '',
      encrypted: s.encrypted,
      ...(s.sourceIdentifier !== undefined ? { sourceIdentifier: s.sourceIdentifier } : {}),
    },
  };
}

async function pickSnapshot(selection: BackupSelection): Promise<PickedBackup> {
  const kind = expectOneOf(requireEnv('SNAPSHOT_KIND'), 'SNAPSHOT_KIND', ['instance', 'cluster'] as const);
  const identifier = requireEnv('SNAPSHOT_SOURCE_IDENTIFIER');
  const now = new Date();

  if ('snapshotId' in selection) {
    const [found] = await listSnapshotCandidates(kind, identifier, selection.snapshotId);
    if (!found) throw new BackupNotFound(`there is no ${kind} snapshot ${JSON.stringify(selection.snapshotId)}: no such backup`);
    const problem =
      found.sourceIdentifier !== undefined && found.sourceIdentifier.toLowerCase() !== identifier.toLowerCase()
        ? `it is a snapshot of ${found.sourceIdentifier}, not of ${identifier}`
        : snapshotProblem(found, isOwnSnapshot(found.tags));
    if (problem !== undefined) throw new BackupUnusable(`${kind} snapshot ${found.snapshotId} cannot be restored: ${problem}`);
    return snapshotResult(selection, kind, found, [], now);
  }

  const all = sortNewestFirst(await listSnapshotCandidates(kind, identifier), (s) => s.snapshotId);
  const ordered = orderCandidates(all, selection, now, randomInt);
  const where = 'randomWithinDays' in selection ? ` within the last ${selection.randomWithinDays} days` : '';
  if (ordered.length === 0) throw new BackupNotFound(`no manual ${kind} snapshot of ${identifier}${where}: nothing to restore`);
  const skipped: SkippedBackup[] = [];
  for (const candidate of ordered) {
    const problem = snapshotProblem(candidate, isOwnSnapshot(candidate.tags));
    if (problem === undefined) return snapshotResult(selection, kind, candidate, skipped, now);
    skipped.push({ id: candidate.snapshotId, reason: problem });
  }
  throw new BackupUnusable(
    `none of the ${ordered.length} manual ${kind} snapshots of ${identifier}${where} can be restored: ` +
      skipped.slice(0, MAX_CANDIDATES_TRIED).map((s) => `${s.id}: ${s.reason}`).join('; '),
  );
}

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed selection, BackupNotFound when nothing matches, BackupUnusable when what
 *   matches cannot be restored — all before the state machine creates anything.
 * @example
 * { "kind": "dump", "selection": { "latest": true } }
 * { "kind": "dump", "selection": { "manifestKey": "postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json" } }
 * { "kind": "snapshot", "selection": { "randomWithinDays": 30 } }
 */
export async function handler(event: unknown): Promise<PickedBackup> {
  const { kind, selection } = parsePickInput(event);
  const picked = kind === 'dump' ? await pickDump(selection) : await pickSnapshot(selection);
  logger.info('backup picked', {
    kind,
    selection: picked.selection,
    id: picked.id,
    dataAsOf: picked.dataAsOf,
    ageSeconds: picked.ageSeconds,
    skipped: picked.skipped.length,
    ...(picked.withinRpo !== undefined ? { withinRpo: picked.withinRpo } : {}),
  });
  return picked;
}
