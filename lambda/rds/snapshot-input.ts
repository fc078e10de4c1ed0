/**
 * Input and output shapes of the snapshot handler, and the validation of its input (pure).
 *
 * The state machine calls one handler with an `action` discriminator:
 *   create → wait (Retry on NotReady) → copy → wait with `region` = the DR region (Retry on NotReady).
 */
import { InvalidInput } from '../common/errors';
import { SNAPSHOT_KINDS, SnapshotKind, parseRdsArn, SNAPSHOT_ARN_TYPE } from './snapshot';
import { Tier, expectObject, expectOneOf, expectString, expectTiers, expectTimestamp, optionalString } from '../common/validate';
import { isRdsIdentifier } from '../common/names';

export type { SnapshotKind } from './snapshot';

/** Start a manual snapshot of a DB instance or an Aurora cluster. */
export interface CreateSnapshotInput {
  readonly action: 'create';
  readonly kind: SnapshotKind;
  /** DB instance identifier (kind `instance`) or DB cluster identifier (kind `cluster`), not an ARN. */
  readonly identifier: string;
  /** The tiers this run satisfies; written into the `cdk-backup-dr:tiers` tag. */
  readonly tiers: Tier[];
  /**
   * ISO-8601 time the snapshot is for; it fixes the snapshot identifier, so pass `$$.Execution.StartTime`
   * and a retried task finds the snapshot it already started instead of starting a second one.
   * @default - the current time
   */
  readonly requestedAt?: string;
  /**
   * Identifies the run (pass `$$.Execution.Id`); hashed into the snapshot identifier, so two runs started in the same
   * second get their own snapshots while a retried task still finds the one it started.
   * @default - none: runs started in the same second compute the same identifier
   */
  readonly runId?: string;
}

/** Check a snapshot's status: returns when `available`, throws `NotReady` while creating or copying. */
export interface WaitSnapshotInput {
  readonly action: 'wait';
  readonly kind: SnapshotKind;
  /** The snapshot identifier (not the ARN). */
  readonly snapshotId: string;
  /**
   * Region the snapshot lives in; the DR region to wait on a copy.
   * @default - the function's own region (AWS_REGION)
   */
  readonly region?: string;
}

/** Copy an available snapshot to the DR region (DR_REGION), encrypted with DR_KMS_KEY_ARN. */
export interface CopySnapshotInput {
  readonly action: 'copy';
  readonly kind: SnapshotKind;
  /** ARN of the source snapshot (the `snapshotArn` returned by `create` or `wait`). */
  readonly snapshotArn: string;
  /** Tiers written on the copy; pass the run's tiers. */
  readonly tiers: Tier[];
  /**
   * The DB instance or cluster the source snapshot was taken from; written on the copy's source tag.
   * @default - read from the source snapshot
   */
  readonly sourceIdentifier?: string;
}

/** Every input the snapshot handler accepts. */
export type SnapshotEvent = CreateSnapshotInput | WaitSnapshotInput | CopySnapshotInput;

/** What every action returns: where the snapshot is and what state it is in. */
export interface SnapshotResult {
  readonly kind: SnapshotKind;
  /** Snapshot identifier (lowercase). */
  readonly snapshotId: string;
  /** Snapshot ARN. */
  readonly snapshotArn: string;
  /** Region the snapshot lives in. */
  readonly region: string;
  /** RDS status at the time of the call (`creating`, `copying`, `available`, …). */
  readonly status: string;
  /** The DB instance or cluster identifier the snapshot was taken from. */
  readonly sourceIdentifier: string;
  /** Tiers from the snapshot's `cdk-backup-dr:tiers` tag (empty when the tag is missing). */
  readonly tiers: Tier[];
  /** Whether the snapshot is encrypted. */
  readonly encrypted: boolean;
  /** KMS key ARN the snapshot is encrypted with, when encrypted. */
  readonly kmsKeyId?: string;
  /** When RDS took the snapshot (ISO-8601), once known. */
  readonly snapshotCreateTime?: string;
  /** Allocated storage of the source in GiB, when RDS reports it. */
  readonly allocatedStorageGiB?: number;
  /** Engine and version of the source, when RDS reports them. */
  readonly engine?: string;
  readonly engineVersion?: string;
  /** All tags of the snapshot. */
  readonly tags: Record<string, string>;
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
const REGION_HINT = 'must be an AWS region name such as us-west-2';

function expectKind(value: unknown): SnapshotKind {
  return expectOneOf(value, 'kind', SNAPSHOT_KINDS);
}

function expectIdentifier(value: unknown, field: string, maxLength: number): string {
  const id = expectString(value, field);
  if (!isRdsIdentifier(id, maxLength)) {
    throw new InvalidInput(
      `${field} must be an RDS identifier (1-${maxLength} letters, digits or hyphens, starting with a letter, ` +
        `no trailing or double hyphen), not an ARN; got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/**
 * Validates a snapshot handler event before any AWS call.
 *
 * @throws InvalidInput naming the field and what to change.
 */
export function parseSnapshotEvent(event: unknown): SnapshotEvent {
  const input = expectObject(event, 'event');
  const action = expectOneOf(input.action, 'action', ['create', 'wait', 'copy'] as const);
  const kind = expectKind(input.kind);
  switch (action) {
    case 'create': {
      const requestedAt = optionalString(input.requestedAt, 'requestedAt');
      if (requestedAt !== undefined) expectTimestamp(requestedAt, 'requestedAt');
      const runId = optionalString(input.runId, 'runId');
      return {
        action,
        kind,
        identifier: expectIdentifier(input.identifier, 'identifier', 63),
        tiers: expectTiers(input.tiers),
        ...(requestedAt !== undefined ? { requestedAt } : {}),
        ...(runId !== undefined ? { runId } : {}),
      };
    }
    case 'wait': {
      const region = optionalString(input.region, 'region', REGION, REGION_HINT);
      return {
        action,
        kind,
        snapshotId: expectIdentifier(input.snapshotId, 'snapshotId', 255),
        ...(region !== undefined ? { region } : {}),
      };
    }
    case 'copy': {
      const snapshotArn = expectString(input.snapshotArn, 'snapshotArn');
      const arn = parseRdsArn(snapshotArn);
      if (!arn || arn.resourceType !== SNAPSHOT_ARN_TYPE[kind]) {
        throw new InvalidInput(
          `snapshotArn must be the ARN of a ${kind} snapshot (arn:aws:rds:<region>:<account>:${SNAPSHOT_ARN_TYPE[kind]}:<id>); ` +
            `got ${JSON.stringify(snapshotArn)}`,
        );
      }
      const sourceIdentifier =
        input.sourceIdentifier === undefined ? undefined : expectIdentifier(input.sourceIdentifier, 'sourceIdentifier', 63);
      return {
        action,
        kind,
        snapshotArn,
        tiers: expectTiers(input.tiers),
        ...(sourceIdentifier !== undefined ? { sourceIdentifier } : {}),
      };
    }
  }
}
