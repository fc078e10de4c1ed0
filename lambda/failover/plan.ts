/**
 * The failover plan: which recovery point a failover uses, how old its data is compared with the RPO, and what the
 * act step will create or promote. Pure: the preflight handler gathers the facts (./failover-recovery-points) and
 * these functions decide.
 */
import { ageSeconds } from '../selection/backup-selection';
import { InvalidInput, RecoveryPointTooOld } from '../common/errors';
import { ExecutionScope, FailoverNames, FailoverRequest, FailoverResource, FailoverStrategyName, failoverNames } from './request';
import { DbEndpoint } from '../rds/instances';
import { isOwnSnapshot, NOT_OWN_SNAPSHOT, SNAPSHOT_TAGS } from '../rds/snapshot';
import { SNAPSHOT_ID_PREFIX } from '../common/names';

/** What a failover restores or promotes. */
export type RecoveryPointKind = 'replica' | 'global-cluster' | 'snapshot' | 'dump' | 'point-in-time';

/** The recovery point of a failover and how its age compares with the RPO. */
export interface RecoveryPoint {
  readonly kind: RecoveryPointKind;
  /** Snapshot id, manifest key, replica identifier, automated backups ARN, or (Aurora point in time) source cluster ARN. */
  readonly id: string;
  /** The moment the data is from (ISO-8601); absent when it cannot be known (e.g. replica lag not measured yet). */
  readonly dataAsOf?: string;
  /** `now - dataAsOf` at preflight, whole seconds: the data-loss window if the primary is lost now. */
  readonly ageSeconds?: number;
  readonly rpoSeconds: number;
  /** `ageSeconds <= rpoSeconds`; absent while the age is unknown. */
  readonly withinRpo?: boolean;
  /** One sentence about the recovery point, for the report. */
  readonly detail: string;
}

/** A snapshot (or its DR copy) as the preflight sees it. */
export interface SnapshotFacts {
  readonly kind: 'instance' | 'cluster';
  readonly snapshotId: string;
  readonly snapshotArn: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
  /** DBInstanceIdentifier / DBClusterIdentifier the snapshot was taken from. */
  readonly sourceIdentifier?: string;
  readonly snapshotCreateTime?: Date;
  /** `OriginalSnapshotCreateTime`: when the snapshot a copy was made from was taken (instance snapshots only). */
  readonly originalCreateTime?: Date;
  readonly engine?: string;
  readonly engineVersion?: string;
  readonly masterUsername?: string;
  readonly encrypted?: boolean;
}

/** The snapshot a failover restores. */
export interface PlannedSnapshot {
  readonly kind: 'instance' | 'cluster';
  readonly snapshotId: string;
  readonly snapshotArn: string;
  readonly engine: string;
  readonly engineVersion?: string;
  readonly masterUsername: string;
  readonly dataAsOf: string;
}

/** The dump a failover restores. */
export interface PlannedDump {
  readonly manifestKey: string;
  readonly dumpKey: string;
  readonly database: string;
  readonly bytes: number;
  readonly dataAsOf: string;
}

/**
 * What a point-in-time failover restores from: an RDS instance's automated backups replicated to this region
 * (`automatedBackupsArn`), or an Aurora cluster's own continuous backups in its region (`sourceClusterIdentifier`).
 */
export interface PlannedPointInTime {
  /** ARN of the replicated automated backups (RDS instance source). */
  readonly automatedBackupsArn?: string;
  /** The source cluster (Aurora source): RestoreDBClusterToPointInTime reads its backups. */
  readonly sourceClusterIdentifier?: string;
  /** The source cluster's engine, e.g. `aurora-postgresql` (the writer instance needs it). */
  readonly engine?: string;
  readonly restoreTime: string;
  readonly earliestRestorableTime?: string;
  readonly latestRestorableTime: string;
  readonly masterUsername?: string;
}

/** The replica (or Aurora global secondary) a failover promotes. */
export interface PlannedReplica {
  readonly kind: 'instance' | 'global-cluster';
  readonly identifier: string;
  readonly arn?: string;
  readonly globalClusterIdentifier?: string;
  readonly endpoint: DbEndpoint;
  /** The secret the checks connect with (the replica has its source's credentials). */
  readonly secretArn: string;
  readonly status: string;
  /** What RDS says about replication (`StatusInfos`), one line each. */
  readonly replication: readonly string[];
}

/** What the preflight hands to the rest of the state machine. */
export interface FailoverPlan {
  readonly strategy: FailoverStrategyName;
  readonly dryRun: boolean;
  readonly acceptDataLoss: boolean;
  readonly reason: string;
  readonly targetTime?: string;
  readonly drRegion: string;
  readonly primaryRegion: string;
  readonly checkedAt: string;
  /** The cheap describe call that proved the DR region answers. */
  readonly drRegionCheck: { readonly call: string; readonly milliseconds: number };
  readonly recoveryPoint: RecoveryPoint;
  /** `instance` / `cluster`: a new database is created; `replica`: the replica is promoted (or, dry run, checked). */
  readonly resource: FailoverResource | 'replica';
  /** What a restore creates (absent for promote-replica). */
  readonly names?: FailoverNames;
  readonly snapshot?: PlannedSnapshot;
  readonly dump?: PlannedDump;
  readonly pointInTime?: PlannedPointInTime;
  readonly replica?: PlannedReplica;
  /** The plan in words, one step per line. */
  readonly steps: readonly string[];
}

/** The timestamp at the end of a snapshot id `cdkbdr-<source>-<yyyymmddhhmmss>`, as a UTC date. */
export function snapshotIdTime(snapshotId: string): Date | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(snapshotId);
  if (!m || !snapshotId.startsWith(SNAPSHOT_ID_PREFIX)) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? date : undefined;
}

/**
 * When a snapshot's data is from: the earliest of `OriginalSnapshotCreateTime` (a copy keeps its source's), the time
 * in the identifier this package gave it (the backup run's start), and the creation time RDS reports (for a copy:
 * when the copy was made). The earliest never understates the data age, so the RPO check errs on the safe side.
 */
export function snapshotDataAsOf(s: SnapshotFacts): Date | undefined {
  const times = [s.originalCreateTime, snapshotIdTime(s.snapshotId), s.snapshotCreateTime].filter((t): t is Date => t !== undefined && !Number.isNaN(t.getTime()));
  if (times.length === 0) return undefined;
  return new Date(Math.min(...times.map((t) => t.getTime())));
}

/** Why a snapshot cannot be the recovery point of a failover of `sourceIdentifier`, or undefined when it can. */
export function snapshotUnusable(s: SnapshotFacts, sourceIdentifier: string): string | undefined {
  if (!isOwnSnapshot(s.tags)) return NOT_OWN_SNAPSHOT;
  const source = s.tags[SNAPSHOT_TAGS.source] ?? s.sourceIdentifier;
  if (source === undefined || source.toLowerCase() !== sourceIdentifier.toLowerCase()) return `a snapshot of ${source ?? 'an unknown source'}, not of ${sourceIdentifier}`;
  if (s.status.toLowerCase() !== 'available') return `it is ${JSON.stringify(s.status)}, not available`;
  if (s.masterUsername === undefined || s.masterUsername === '') return 'RDS reports no master user name for it';
  if (snapshotDataAsOf(s) === undefined) return 'RDS reports no creation time for it';
  return undefined;
}

/** The newest usable snapshot among `snapshots`, with the reasons the newer ones were skipped. */
export function newestUsableSnapshot(
  snapshots: readonly SnapshotFacts[],
  sourceIdentifier: string,
): { readonly snapshot?: SnapshotFacts; readonly skipped: readonly string[] } {
  const sorted = [...snapshots].sort((a, b) => (snapshotDataAsOf(b)?.getTime() ?? 0) - (snapshotDataAsOf(a)?.getTime() ?? 0) || (a.snapshotId < b.snapshotId ? 1 : -1));
  const skipped: string[] = [];
  for (const s of sorted) {
    const problem = snapshotUnusable(s, sourceIdentifier);
    if (problem === undefined) return { snapshot: s, skipped };
    if (skipped.length < 20) skipped.push(`${s.snapshotId}: ${problem}`);
  }
  return { skipped };
}

/** A recovery point of known data age, judged against the RPO. */
export function datedRecoveryPoint(kind: RecoveryPointKind, id: string, dataAsOf: Date, rpoSeconds: number, now: Date, detail: string): RecoveryPoint {
  const age = ageSeconds(dataAsOf, now);
  return { kind, id, dataAsOf: dataAsOf.toISOString(), ageSeconds: age, rpoSeconds, withinRpo: age <= rpoSeconds, detail };
}

/** `90061` → `1 d 1 h 1 min 1 s`; for messages. */
export function formatSeconds(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.round(seconds));
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['min', 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest} s`);
  return parts.join(' ');
}

/**
 * Applies the RPO rule: a recovery point older than the RPO, or of unknown age, is refused unless the input said
 * `acceptDataLoss: true`. Returns the point when it may be used.
 *
 * @throws RecoveryPointTooOld saying how old the data is, the RPO, and how to go ahead anyway
 */
export function enforceRpo(point: RecoveryPoint, acceptDataLoss: boolean): RecoveryPoint {
  if (point.withinRpo === true || acceptDataLoss) return point;
  const rpo = formatSeconds(point.rpoSeconds);
  if (point.ageSeconds === undefined) {
    throw new RecoveryPointTooOld(
      `the data age of ${point.kind} ${point.id} cannot be measured (${point.detail}), so it may be older than the RPO of ${rpo}; ` +
        'pass acceptDataLoss: true to fail over anyway, or fix what prevents the measurement',
    );
  }
  throw new RecoveryPointTooOld(
    `the freshest recovery point (${point.kind} ${point.id}, data as of ${point.dataAsOf}) is ${formatSeconds(point.ageSeconds)} old, ` +
      `more than the RPO of ${rpo}; pass acceptDataLoss: true to fail over anyway and lose up to ${formatSeconds(point.ageSeconds)} of data`,
  );
}

/** The window `target` must fall into (pure); the message says which bound it misses and where the backups are. */
export function checkRestoreWindow(target: Date, window: { earliestRestorableTime?: Date; latestRestorableTime: Date }, what: string): void {
  if (target.getTime() > window.latestRestorableTime.getTime()) {
    throw new InvalidInput(
      `targetTime ${target.toISOString()} is after the latest restorable time ${window.latestRestorableTime.toISOString()} of ${what}; pick a targetTime at or before it`,
    );
  }
  if (window.earliestRestorableTime !== undefined && target.getTime() < window.earliestRestorableTime.getTime()) {
    throw new InvalidInput(
      `targetTime ${target.toISOString()} is before the earliest restorable time ${window.earliestRestorableTime.toISOString()} of ${what}; pick a targetTime within the retention window`,
    );
  }
}

/** What the act step does, in words (for the report and the execution history). */
export function planSteps(request: FailoverRequest, names: FailoverNames | undefined, point: RecoveryPoint, replica?: PlannedReplica): string[] {
  const steps: string[] = [];
  const created = names
    ? `${names.resource === 'cluster' ? `cluster ${names.clusterIdentifier} with writer ${names.instanceIdentifier}` : `instance ${names.identifier}`} and secret ${names.secretName}`
    : undefined;
  switch (request.strategy) {
    case 'promote-replica':
      if (request.dryRun) {
        steps.push(`check ${replica?.kind === 'global-cluster' ? 'the Aurora global secondary' : 'the read replica'} ${point.id}: replication lag vs RPO, then the checks, read-only (a dry run never promotes: promotion is irreversible)`);
      } else if (replica?.kind === 'global-cluster') {
        steps.push(
          request.acceptDataLoss
            ? `fail over global cluster ${replica.globalClusterIdentifier} to ${point.id} allowing data loss (FailoverGlobalCluster, AllowDataLoss)`
            : `switch global cluster ${replica.globalClusterIdentifier} over to ${point.id} (FailoverGlobalCluster without data loss: needs the primary region)`,
        );
      } else {
        steps.push(`promote read replica ${point.id} to a standalone primary (PromoteReadReplica: irreversible)`);
      }
      break;
    case 'restore-snapshot':
      steps.push(`restore snapshot ${point.id} (data as of ${point.dataAsOf}) into ${created}`);
      break;
    case 'point-in-time':
      steps.push(`restore ${point.id} to ${point.dataAsOf} into ${created}`);
      break;
    case 'restore-dump':
      steps.push(`create ${created}, then pg_restore ${point.id} (data as of ${point.dataAsOf}) into it`);
      break;
  }
  steps.push(request.strategy === 'restore-dump' ? 'verify: per-table row counts against the manifest and the validation queries' : 'verify: the validation queries');
  if (request.dryRun) {
    steps.push('dry run: no repoint; delete everything created (without final snapshots) and report the measured time to recover');
  } else {
    steps.push('repoint the configured SSM parameters, secrets and DNS records to the new endpoint (previous values go into the report)');
  }
  return steps;
}

/** The names of what a restore strategy creates for this execution, or undefined for promote-replica. */
export function plannedNames(scope: ExecutionScope, strategy: FailoverStrategyName, sourceKind: 'instance' | 'cluster' | 'endpoint'): FailoverNames | undefined {
  if (strategy === 'promote-replica') return undefined;
  // A dump restores into a new RDS for PostgreSQL instance whatever the source; snapshots and points in time keep their kind.
  const resource: FailoverResource = strategy !== 'restore-dump' && sourceKind === 'cluster' ? 'cluster' : 'instance';
  return failoverNames(scope, resource);
}
