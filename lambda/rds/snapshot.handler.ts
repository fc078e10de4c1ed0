/**
 * Snapshot handler: RDS instance and Aurora cluster snapshots, and their copy to the DR region.
 *
 * One handler, one `action` per call (see {@link SnapshotEvent}):
 * - `create` starts a manual snapshot named `cdkbdr-<identifier>-<yyyymmddhhmmss>`, tagged with the creator, tiers
 *   and source, and returns at once (status `creating`); throws `NotReady` while the instance or cluster is busy
 *   (another snapshot, the automated backup window), so the state machine tries again later;
 * - `wait` returns the snapshot once `available`, throws `NotReady` while it is creating or copying (the state
 *   machine retries on that name), `SnapshotFailed` for a terminal state and `SnapshotNotFound` when it is missing;
 * - `copy` starts the copy of an available snapshot into DR_REGION, encrypted with DR_KMS_KEY_ARN, with the same
 *   identifier and tags plus `cdk-backup-dr:copied-from`; wait on it with `wait` and `region` = DR_REGION.
 *
 * Retried calls are safe: `create` and `copy` recognise the snapshot a previous attempt started and return it.
 */
import {
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { InvalidInput, NotReady, SnapshotFailed, SnapshotNotFound, requireEnv } from '../common/errors';
import { logger } from '../common/logger';
import { isAlreadyExists, isInvalidState, listSnapshots, rdsClient } from './client';
import {
  DescribedSnapshot,
  RdsTag,
  SNAPSHOT_TAGS,
  SnapshotKind,
  describedSnapshot,
  isOwnSnapshot,
  parseRdsArn,
  parseTierTag,
  snapshotDecision,
  snapshotIdentifier,
  snapshotTags,
  tagRecord,
} from './snapshot';
import {
  CopySnapshotInput,
  CreateSnapshotInput,
  SnapshotEvent,
  SnapshotResult,
  WaitSnapshotInput,
  parseSnapshotEvent,
} from './snapshot-input';

export type { CopySnapshotInput, CreateSnapshotInput, SnapshotEvent, SnapshotKind, SnapshotResult, WaitSnapshotInput } from './snapshot-input';

function homeRegion(): string {
  return requireEnv('AWS_REGION');
}

/** A described snapshot as the handler's result; `fallbackTags` stand in for tags RDS did not return (yet). */
function toResult(region: string, snapshot: DescribedSnapshot, fallbackTags?: readonly RdsTag[]): SnapshotResult {
  const tags = Object.keys(snapshot.tags).length > 0 ? snapshot.tags : tagRecord(fallbackTags);
  return {
    kind: snapshot.kind,
    region,
    status: snapshot.status === '' ? 'unknown' : snapshot.status,
    tiers: parseTierTag(tags[SNAPSHOT_TAGS.tiers]),
    tags,
    ...(snapshot.kmsKeyId ? { kmsKeyId: snapshot.kmsKeyId } : {}),
    ...(snapshot.snapshotCreateTime ? { snapshotCreateTime: snapshot.snapshotCreateTime.toISOString() } : {}),
    ...(snapshot.allocatedStorageGiB !== undefined ? { allocatedStorageGiB: snapshot.allocatedStorageGiB } : {}),
    ...(snapshot.engine ? { engine: snapshot.engine } : {}),
    ...(snapshot.engineVersion ? { engineVersion: snapshot.engineVersion } : {}),
    snapshotId: snapshot.snapshotId,
    snapshotArn: snapshot.snapshotArn,
    sourceIdentifier: snapshot.sourceIdentifier ?? tags[SNAPSHOT_TAGS.source] ?? '',
    encrypted: snapshot.encrypted,
  };
}

/** Looks a snapshot up by identifier in `region`; `undefined` when it does not exist. */
async function describeSnapshot(kind: SnapshotKind, snapshotId: string, region: string): Promise<SnapshotResult | undefined> {
  const found = (await listSnapshots(region, kind, { snapshotId })).find((s) => s.snapshotId === snapshotId);
  return found ? toResult(region, found) : undefined;
}

/**
 * After an "already exists" error: the snapshot a previous attempt of this same step started, or `undefined`
 * when the name is taken by something else.
 */
async function previousAttempt(
  kind: SnapshotKind,
  snapshotId: string,
  region: string,
  expected: Readonly<Record<string, string>>,
): Promise<SnapshotResult | undefined> {
  const existing = await describeSnapshot(kind, snapshotId, region);
  if (!existing || !isOwnSnapshot(existing.tags)) return undefined;
  return Object.entries(expected).every(([key, value]) => existing.tags[key] === value) ? existing : undefined;
}

/**
 * Runs `start` (which starts the snapshot or copy named `snapshotId` in `region`). When the name is taken, returns
 * the snapshot a previous attempt of this same step started ({@link previousAttempt}); anything else is rethrown.
 */
async function startOrResume(
  what: 'snapshot' | 'snapshot copy',
  target: { readonly kind: SnapshotKind; readonly snapshotId: string; readonly region: string; readonly expected: Readonly<Record<string, string>> },
  start: () => Promise<SnapshotResult>,
): Promise<SnapshotResult> {
  try {
    return await start();
  } catch (error) {
    if (isAlreadyExists(error)) {
      const { kind, snapshotId, region } = target;
      const existing = await previousAttempt(kind, snapshotId, region, target.expected);
      if (existing) {
        logger.info(`${what} already started by a previous attempt`, { kind, snapshotId, region });
        return existing;
      }
    }
    throw error;
  }
}

/** The snapshot in an RDS response; RDS always returns it, so its absence is an error, not a default. */
function returned<T>(snapshot: T | undefined, operation: string): T {
  if (snapshot === undefined) throw new Error(`${operation} returned no snapshot`);
  return snapshot;
}

async function startSnapshot(input: CreateSnapshotInput, region: string, snapshotId: string, tags: RdsTag[]): Promise<SnapshotResult> {
  const client = rdsClient(region);
  if (input.kind === 'instance') {
    const out = await client.send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: input.identifier, DBSnapshotIdentifier: snapshotId, Tags: tags }),
    );
    return toResult(region, describedSnapshot(input.kind, returned(out.DBSnapshot, 'CreateDBSnapshot')), tags);
  }
  const out = await client.send(
    new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: input.identifier, DBClusterSnapshotIdentifier: snapshotId, Tags: tags }),
  );
  return toResult(region, describedSnapshot(input.kind, returned(out.DBClusterSnapshot, 'CreateDBClusterSnapshot')), tags);
}

async function create(input: CreateSnapshotInput): Promise<SnapshotResult> {
  const region = homeRegion();
  const at = input.requestedAt !== undefined ? new Date(input.requestedAt) : new Date();
  const snapshotId = snapshotIdentifier(input.kind, input.identifier, at, input.runId);
  const tags = snapshotTags({ sourceIdentifier: input.identifier, tiers: input.tiers });
  return startOrResume('snapshot', { kind: input.kind, snapshotId, region, expected: { [SNAPSHOT_TAGS.source]: input.identifier } }, async () => {
    let result: SnapshotResult;
    try {
      result = await startSnapshot(input, region, snapshotId, tags);
    } catch (error) {
      // RDS refuses a snapshot while the source is busy (another snapshot, the automated backup window, a
      // modification): that passes, so the state machine tries again later (bounded by its Retry).
      if (isInvalidState(error)) {
        throw new NotReady(`${input.kind} ${input.identifier} in ${region} cannot be snapshotted now (${(error as Error).name}: ${(error as Error).message}); trying again later`);
      }
      throw error;
    }
    logger.info('snapshot started', { kind: input.kind, snapshotId: result.snapshotId, source: input.identifier, region });
    return result;
  });
}

async function wait(input: WaitSnapshotInput): Promise<SnapshotResult> {
  const region = input.region ?? homeRegion();
  const snapshot = await describeSnapshot(input.kind, input.snapshotId, region);
  if (!snapshot) {
    throw new SnapshotNotFound(`${input.kind} snapshot ${JSON.stringify(input.snapshotId)} does not exist in ${region}`);
  }
  switch (snapshotDecision(snapshot.status)) {
    case 'ready':
      logger.info('snapshot available', { kind: input.kind, snapshotId: snapshot.snapshotId, region });
      return snapshot;
    case 'pending':
      throw new NotReady(`${input.kind} snapshot ${snapshot.snapshotId} in ${region} is ${JSON.stringify(snapshot.status)}`);
    case 'failed':
      throw new SnapshotFailed(
        `${input.kind} snapshot ${snapshot.snapshotId} in ${region} is ${JSON.stringify(snapshot.status)} and will not become available`,
      );
  }
}

interface CopyTarget {
  readonly drRegion: string;
  readonly targetId: string;
  /** Undefined for an unencrypted cluster snapshot, which RDS refuses to encrypt while copying. */
  readonly kmsKeyId: string | undefined;
  readonly tags: RdsTag[];
}

async function startCopy(input: CopySnapshotInput, source: SnapshotResult, target: CopyTarget): Promise<SnapshotResult> {
  const client = rdsClient(target.drRegion);
  // With SourceRegion (and an ARN source) the SDK signs the PreSignedUrl that an encrypted cross-region copy needs.
  // RDS ignores CopyTags when Tags is given, so Tags carries the complete set.
  const common = {
    SourceRegion: source.region,
    ...(target.kmsKeyId !== undefined ? { KmsKeyId: target.kmsKeyId } : {}),
    CopyTags: true,
    Tags: target.tags,
  };
  if (input.kind === 'instance') {
    const out = await client.send(
      new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: input.snapshotArn, TargetDBSnapshotIdentifier: target.targetId, ...common }),
    );
    return toResult(target.drRegion, describedSnapshot(input.kind, returned(out.DBSnapshot, 'CopyDBSnapshot')), target.tags);
  }
  const out = await client.send(
    new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: input.snapshotArn,
      TargetDBClusterSnapshotIdentifier: target.targetId,
      ...common,
    }),
  );
  return toResult(target.drRegion, describedSnapshot(input.kind, returned(out.DBClusterSnapshot, 'CopyDBClusterSnapshot')), target.tags);
}

async function copy(input: CopySnapshotInput): Promise<SnapshotResult> {
  const drRegion = requireEnv('DR_REGION');
  const kmsKeyId = requireEnv('DR_KMS_KEY_ARN');
  // Validated by parseSnapshotEvent.
  const arn = parseRdsArn(input.snapshotArn);
  if (!arn) throw new InvalidInput(`snapshotArn is not an RDS ARN: ${JSON.stringify(input.snapshotArn)}`);
  if (arn.region === drRegion) {
    throw new InvalidInput(`the snapshot ${input.snapshotArn} is already in the DR region ${drRegion}; set DR_REGION to another region`);
  }
  const source = await describeSnapshot(input.kind, arn.resourceName, arn.region);
  if (!source) {
    throw new SnapshotNotFound(`${input.kind} snapshot ${JSON.stringify(arn.resourceName)} does not exist in ${arn.region}`);
  }
  if (snapshotDecision(source.status) !== 'ready') {
    throw new NotReady(`source ${input.kind} snapshot ${source.snapshotId} is ${JSON.stringify(source.status)}; copy it once available`);
  }
  const targetId = source.snapshotId;
  const tags = snapshotTags({
    sourceIdentifier: input.sourceIdentifier ?? source.sourceIdentifier,
    tiers: input.tiers,
    copiedFrom: input.snapshotArn,
  });
  // An unencrypted Aurora cluster snapshot cannot be encrypted by a copy (RDS rejects KmsKeyId); instance
  // snapshots can, and a cross-region copy of an encrypted snapshot needs the destination key.
  const useKey = input.kind === 'instance' || source.encrypted;
  if (!useKey) {
    logger.warn('source cluster snapshot is not encrypted, so its DR copy cannot be encrypted either', {
      snapshotId: source.snapshotId,
    });
  }
  const expected = { [SNAPSHOT_TAGS.copiedFrom]: input.snapshotArn };
  return startOrResume('snapshot copy', { kind: input.kind, snapshotId: targetId, region: drRegion, expected }, async () => {
    const result = await startCopy(input, source, { drRegion, targetId, kmsKeyId: useKey ? kmsKeyId : undefined, tags });
    logger.info('snapshot copy started', { kind: input.kind, snapshotId: result.snapshotId, from: arn.region, to: drRegion });
    return result;
  });
}

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed event (before any AWS call), NotReady while a snapshot is not available yet,
 *   SnapshotFailed / SnapshotNotFound for snapshots that will never become available, and RDS errors as they come.
 */
export async function handler(event: unknown): Promise<SnapshotResult> {
  const input: SnapshotEvent = parseSnapshotEvent(event);
  switch (input.action) {
    case 'create':
      return create(input);
    case 'wait':
      return wait(input);
    case 'copy':
      return copy(input);
  }
}
