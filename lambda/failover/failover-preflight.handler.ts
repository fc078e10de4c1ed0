/**
 * Failover preflight handler: everything a failover checks before it changes anything. One `action` per call:
 * - `validate`: the execution input ({@link FailoverInput}); refuses it with a message saying what to change.
 * - `preflight`: the DR region answers (a cheap describe call), the freshest recovery point exists and its data age
 *   is within the RPO (unless `acceptDataLoss`), and returns the plan: what will be created or promoted, and names.
 *   For `promote-replica` the data age is the replica's lag, measured by the next action.
 * - `replica-lag`: connects to the replica (read-only) and measures its lag with the configured SQL; refuses a lag
 *   beyond the RPO, or one that cannot be measured, unless `acceptDataLoss`.
 *
 * Nothing here creates, modifies or deletes anything.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DrRegionUnavailable, InvalidInput, NoRecoveryPoint, RestoreFailed } from '../common/errors';
import { FailoverConfig, readFailoverConfig } from './config';
import { newestRestorableDump } from '../selection/dump-lookup';
import {
  ExecutionScope,
  FailoverRequest,
  parseExecutionScope,
  parseFailoverInput,
  parseFailoverRequest,
} from './request';
import {
  FailoverPlan,
  PlannedReplica,
  RecoveryPoint,
  datedRecoveryPoint,
  enforceRpo,
  formatSeconds,
  newestUsableSnapshot,
  planSteps,
  plannedNames,
  snapshotDataAsOf,
  checkRestoreWindow,
} from './plan';
import { checkRegionAnswers, clusterRestoreWindow, describeGlobalMember, describeReplica, findReplicatedBackups, listSnapshotsOf } from './rds';
import { logger } from '../common/logger';
import { connect, scrubSecrets } from '../postgres/target';
import { parseRestoreTarget, resolveRestoreTarget, type RestoreTargetInput } from '../restore/restore-target';
import { expectObject, expectOneOf } from '../common/validate';

export type { FailoverInput, FailoverRequest } from './request';
export type { FailoverPlan, RecoveryPoint } from './plan';
export { DrRegionUnavailable, NoRecoveryPoint, RecoveryPointTooOld } from '../common/errors';

/** `validate`: the raw execution input. */
export interface ValidateEvent {
  readonly action: 'validate';
  /** The execution input as the person gave it. */
  readonly input: unknown;
}

/** `preflight`: the validated request and the execution (names derive from it). */
export interface PreflightEvent extends ExecutionScope {
  readonly action: 'preflight';
  readonly request: FailoverRequest;
}

/** `replica-lag`: where the replica is (from the plan) and whether data loss is accepted. */
export interface ReplicaLagEvent {
  readonly action: 'replica-lag';
  readonly target: RestoreTargetInput;
  readonly acceptDataLoss: boolean;
  /** The replica's identifier, for the report. */
  readonly replicaIdentifier: string;
}

/** Every input of the handler. */
export type PreflightHandlerEvent = ValidateEvent | PreflightEvent | ReplicaLagEvent;

/** `replica-lag`'s result. */
export interface ReplicaLagResult {
  /** Seconds, or null when the SQL returned none (e.g. the instance is not replaying). */
  readonly lagSeconds: number | null;
  /** `pg_is_in_recovery()` on the replica. */
  readonly inRecovery: boolean;
  readonly measuredAt: string;
  /** The recovery point with the measured data age, judged against the RPO. */
  readonly recoveryPoint: RecoveryPoint;
}

const s3 = new S3Client({});
const secrets = new SecretsManagerClient({});

/** Validates the handler's event (not the failover input itself: that is the `validate` action's job). */
export function parsePreflightEvent(event: unknown): PreflightHandlerEvent {
  const v = expectObject(event, 'event');
  const action = expectOneOf(v.action, 'action', ['validate', 'preflight', 'replica-lag'] as const);
  if (action === 'validate') return { action, input: v.input };
  if (action === 'preflight') return { action, ...parseExecutionScope(v), request: parseFailoverRequest(v.request) };
  if (typeof v.acceptDataLoss !== 'boolean') throw new InvalidInput('acceptDataLoss must be true or false');
  if (typeof v.replicaIdentifier !== 'string' || v.replicaIdentifier === '') throw new InvalidInput('replicaIdentifier must be a non-empty string');
  return { action, target: parseRestoreTarget(v.target), acceptDataLoss: v.acceptDataLoss, replicaIdentifier: v.replicaIdentifier };
}

async function regionAnswers(config: FailoverConfig): Promise<{ call: string; milliseconds: number }> {
  try {
    return await checkRegionAnswers(config.drRegion, {
      ...(config.subnetGroupName !== undefined ? { subnetGroupName: config.subnetGroupName } : {}),
      ...(config.replica?.kind === 'instance' ? { instanceIdentifier: config.replica.identifier } : {}),
      ...(config.replica?.kind === 'global-cluster' ? { clusterIdentifier: config.replica.identifier } : {}),
    });
  } catch (error) {
    const e = error as Error;
    throw new DrRegionUnavailable(`the DR region ${config.drRegion} did not answer the preflight's describe call: ${e.name}: ${e.message}`);
  }
}

async function snapshotPoint(config: FailoverConfig, now: Date): Promise<Pick<FailoverPlan, 'recoveryPoint' | 'snapshot'>> {
  const kind = config.sourceKind === 'cluster' ? 'cluster' : 'instance';
  const identifier = config.sourceIdentifier as string;
  const { snapshot, skipped } = newestUsableSnapshot(await listSnapshotsOf(config.drRegion, kind, identifier), identifier);
  if (!snapshot) {
    throw new NoRecoveryPoint(
      `no usable ${kind} snapshot of ${identifier} created by cdk-backup-dr in ${config.drRegion}` +
        `${skipped.length > 0 ? ` (skipped: ${skipped.join('; ')})` : ''}; copy snapshots to this region (PostgresBackup snapshotCopy) or pick another strategy`,
    );
  }
  const dataAsOf = snapshotDataAsOf(snapshot) as Date;
  return {
    recoveryPoint: datedRecoveryPoint('snapshot', snapshot.snapshotId, dataAsOf, config.rpoSeconds, now, `newest usable ${kind} snapshot copy in ${config.drRegion}${skipped.length > 0 ? `; skipped ${skipped.length} newer` : ''}`),
    snapshot: {
      kind,
      snapshotId: snapshot.snapshotId,
      snapshotArn: snapshot.snapshotArn,
      engine: snapshot.engine ?? (kind === 'cluster' ? 'aurora-postgresql' : 'postgres'),
      ...(snapshot.engineVersion !== undefined ? { engineVersion: snapshot.engineVersion } : {}),
      masterUsername: snapshot.masterUsername as string,
      dataAsOf: dataAsOf.toISOString(),
    },
  };
}

async function dumpPoint(config: FailoverConfig, now: Date): Promise<Pick<FailoverPlan, 'recoveryPoint' | 'dump'>> {
  const bucket = config.bucketName as string;
  const found = await newestRestorableDump(s3, bucket, config.sourceId, config.database);
  if (!found.manifestKey || !found.manifest) {
    throw new NoRecoveryPoint(
      `no restorable dump of ${config.sourceId}/${config.database} in s3://${bucket} (${found.candidates} manifests` +
        `${found.skipped.length > 0 ? `; skipped: ${found.skipped.join('; ')}` : ''}); check that the backups replicate to this bucket or pick another strategy`,
    );
  }
  const dataAsOf = new Date(found.manifest.startedAt);
  return {
    recoveryPoint: datedRecoveryPoint('dump', found.manifestKey, dataAsOf, config.rpoSeconds, now, `newest restorable dump in s3://${bucket}${found.skipped.length > 0 ? `; skipped ${found.skipped.length} newer` : ''}`),
    dump: {
      manifestKey: found.manifestKey,
      dumpKey: found.manifest.s3.key,
      database: found.manifest.database,
      bytes: found.manifest.bytes,
      dataAsOf: found.manifest.startedAt,
    },
  };
}

async function pointInTimePoint(config: FailoverConfig, request: FailoverRequest, now: Date): Promise<Pick<FailoverPlan, 'recoveryPoint' | 'pointInTime'>> {
  const identifier = config.sourceIdentifier as string;
  const target = new Date(request.targetTime as string);
  if (config.sourceKind === 'cluster') return clusterPointInTimePoint(config, identifier, target, now);
  const [backups] = await findReplicatedBackups(config.drRegion, identifier);
  if (!backups) {
    throw new NoRecoveryPoint(
      `no automated backups of ${identifier} with a restore window in ${config.drRegion}; turn on cross-region automated backup replication ` +
        `(aws rds start-db-instance-automated-backups-replication --region ${config.drRegion} --source-db-instance-arn <arn of ${identifier}>) or pick another strategy`,
    );
  }
  checkRestoreWindow(target, backups, `the replicated backups in ${config.drRegion}`);
  return {
    recoveryPoint: datedRecoveryPoint(
      'point-in-time',
      backups.arn,
      target,
      config.rpoSeconds,
      now,
      `replicated automated backups of ${identifier} (restorable up to ${backups.latestRestorableTime.toISOString()})`,
    ),
    pointInTime: {
      automatedBackupsArn: backups.arn,
      restoreTime: target.toISOString(),
      ...(backups.earliestRestorableTime !== undefined ? { earliestRestorableTime: backups.earliestRestorableTime.toISOString() } : {}),
      latestRestorableTime: backups.latestRestorableTime.toISOString(),
      ...(backups.masterUsername !== undefined ? { masterUsername: backups.masterUsername } : {}),
    },
  };
}

/** An Aurora cluster restores to a point in time from its own continuous backups, in its own region. */
async function clusterPointInTimePoint(config: FailoverConfig, identifier: string, target: Date, now: Date): Promise<Pick<FailoverPlan, 'recoveryPoint' | 'pointInTime'>> {
  const window = await clusterRestoreWindow(config.drRegion, identifier);
  if (!window) {
    throw new NoRecoveryPoint(
      `Aurora cluster ${identifier} does not exist in ${config.drRegion}, or RDS reports no restore window for it yet (its first backup has not finished); ` +
        'check the identifier and the region, or pick another strategy',
    );
  }
  checkRestoreWindow(target, window, `Aurora cluster ${identifier}`);
  return {
    recoveryPoint: datedRecoveryPoint(
      'point-in-time',
      window.clusterArn,
      target,
      config.rpoSeconds,
      now,
      `continuous backups of Aurora cluster ${identifier} in ${config.drRegion} (restorable up to ${window.latestRestorableTime.toISOString()})`,
    ),
    pointInTime: {
      sourceClusterIdentifier: identifier,
      engine: window.engine,
      restoreTime: target.toISOString(),
      ...(window.earliestRestorableTime !== undefined ? { earliestRestorableTime: window.earliestRestorableTime.toISOString() } : {}),
      latestRestorableTime: window.latestRestorableTime.toISOString(),
      ...(window.masterUsername !== undefined ? { masterUsername: window.masterUsername } : {}),
    },
  };
}

async function replicaPoint(config: FailoverConfig): Promise<Pick<FailoverPlan, 'recoveryPoint' | 'replica'>> {
  const replica = config.replica;
  if (!replica) throw new NoRecoveryPoint('no replica is configured for promote-replica');
  const base = { rpoSeconds: config.rpoSeconds, detail: 'the data age is the replica lag, measured next' };
  if (replica.kind === 'instance') {
    const facts = await describeReplica(config.drRegion, replica.identifier);
    if (!facts) throw new NoRecoveryPoint(`read replica ${replica.identifier} does not exist in ${config.drRegion}; pick another strategy`);
    if (facts.state.status !== 'available') {
      throw new NoRecoveryPoint(`read replica ${replica.identifier} is ${JSON.stringify(facts.state.status)}, not available; wait for it or pick another strategy`);
    }
    if (!facts.state.endpoint) throw new NoRecoveryPoint(`read replica ${replica.identifier} has no endpoint yet`);
    const planned: PlannedReplica = {
      kind: 'instance',
      identifier: replica.identifier,
      ...(facts.state.arn !== undefined ? { arn: facts.state.arn } : {}),
      endpoint: facts.state.endpoint,
      secretArn: replica.secretArn,
      status: facts.state.status,
      replication: [
        facts.replicatesFrom !== undefined ? `replicates from ${facts.replicatesFrom}` : 'RDS reports no replication source: the instance may already be promoted',
        ...facts.replication,
      ],
    };
    return { recoveryPoint: { kind: 'replica', id: replica.identifier, ...base }, replica: planned };
  }
  const globalId = replica.globalClusterIdentifier as string;
  const facts = await describeGlobalMember(config.drRegion, globalId, replica.identifier);
  if (!facts) throw new NoRecoveryPoint(`Aurora cluster ${replica.identifier} does not exist in ${config.drRegion}; pick another strategy`);
  if (facts.cluster.status !== 'available') {
    throw new NoRecoveryPoint(`Aurora cluster ${replica.identifier} is ${JSON.stringify(facts.cluster.status)}, not available`);
  }
  const endpoint = facts.readerEndpoint ?? facts.cluster.endpoint;
  if (!endpoint) throw new NoRecoveryPoint(`Aurora cluster ${replica.identifier} has no endpoint yet`);
  const planned: PlannedReplica = {
    kind: 'global-cluster',
    identifier: replica.identifier,
    arn: facts.clusterArn,
    globalClusterIdentifier: globalId,
    endpoint,
    secretArn: replica.secretArn,
    status: facts.cluster.status,
    replication: [facts.member ? (facts.writer ? `already the writer of ${globalId}` : `secondary of ${globalId}`) : `not a member of ${globalId}`],
  };
  return { recoveryPoint: { kind: 'global-cluster', id: replica.identifier, ...base }, replica: planned };
}

async function preflight(event: PreflightEvent): Promise<FailoverPlan> {
  const config = readFailoverConfig(process.env);
  const { request } = event;
  if (!config.strategies.includes(request.strategy)) throw new InvalidInput(`strategy ${request.strategy} is not configured`);
  const now = new Date();
  const drRegionCheck = await regionAnswers(config);
  let found: Partial<FailoverPlan> & Pick<FailoverPlan, 'recoveryPoint'>;
  switch (request.strategy) {
    case 'restore-snapshot':
      found = await snapshotPoint(config, now);
      break;
    case 'restore-dump':
      found = await dumpPoint(config, now);
      break;
    case 'point-in-time':
      found = await pointInTimePoint(config, request, now);
      break;
    case 'promote-replica':
      found = await replicaPoint(config);
      break;
  }
  // promote-replica: the age is known only after the lag is measured (replica-lag enforces the RPO then).
  const recoveryPoint = request.strategy === 'promote-replica' ? found.recoveryPoint : enforceRpo(found.recoveryPoint, request.acceptDataLoss);
  const names = plannedNames(event, request.strategy, config.sourceKind);
  const plan: FailoverPlan = {
    strategy: request.strategy,
    dryRun: request.dryRun,
    acceptDataLoss: request.acceptDataLoss,
    reason: request.reason,
    ...(request.targetTime !== undefined ? { targetTime: request.targetTime } : {}),
    drRegion: config.drRegion,
    primaryRegion: config.primaryRegion,
    checkedAt: now.toISOString(),
    drRegionCheck,
    ...found,
    recoveryPoint,
    resource: names ? names.resource : 'replica',
    ...(names ? { names } : {}),
    steps: planSteps(request, names, recoveryPoint, found.replica),
  };
  logger.info('failover planned', {
    strategy: plan.strategy,
    dryRun: plan.dryRun,
    recoveryPoint: recoveryPoint.id,
    ageSeconds: recoveryPoint.ageSeconds ?? null,
    withinRpo: recoveryPoint.withinRpo ?? null,
    acceptDataLoss: plan.acceptDataLoss,
    creates: names?.identifier ?? null,
  });
  return plan;
}

/** Interprets the lag query's first value (pure): a finite, non-negative number of seconds, or null. */
export function lagValue(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) return null;
  return Math.max(0, Math.round(n * 1000) / 1000);
}

async function replicaLag(event: ReplicaLagEvent): Promise<ReplicaLagResult> {
  const config = readFailoverConfig(process.env);
  const replica = config.replica;
  if (!replica) throw new InvalidInput('replica-lag needs a configured replica (REPLICA_IDENTIFIER)');
  const target = await resolveRestoreTarget(secrets, event.target);
  const client = await connect(target);
  let inRecovery: boolean;
  let lagSeconds: number | null;
  const measuredAt = new Date();
  try {
    await client.query('BEGIN READ ONLY');
    await client.query("SET LOCAL statement_timeout = '30s'");
    inRecovery = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true;
    const result = await client.query({ text: replica.lagSql, rowMode: 'array' });
    const row = result.rows[0] as unknown[] | undefined;
    lagSeconds = lagValue(row?.[0]);
    await client.query('COMMIT');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new RestoreFailed(scrubSecrets(`measuring the lag of ${event.replicaIdentifier} failed: ${message}`, [target.password]));
  } finally {
    await client.end();
  }
  const kind = replica.kind === 'instance' ? 'replica' : 'global-cluster';
  const point: RecoveryPoint =
    lagSeconds === null
      ? {
          kind,
          id: event.replicaIdentifier,
          rpoSeconds: config.rpoSeconds,
          detail: inRecovery
            ? 'the lag query returned no value (nothing replayed yet?)'
            : 'the replica is not in recovery (already promoted, or not a replica), so its lag cannot be measured',
        }
      : datedRecoveryPoint(
          kind,
          event.replicaIdentifier,
          new Date(measuredAt.getTime() - lagSeconds * 1000),
          config.rpoSeconds,
          measuredAt,
          `replica lag ${formatSeconds(lagSeconds)} measured on the replica${inRecovery ? '' : ' (not in recovery)'}`,
        );
  logger.info('replica lag measured', { replica: event.replicaIdentifier, lagSeconds, inRecovery, withinRpo: point.withinRpo ?? null });
  return { lagSeconds, inRecovery, measuredAt: measuredAt.toISOString(), recoveryPoint: enforceRpo(point, event.acceptDataLoss) };
}

/**
 * Lambda entry point.
 *
 * @throws InvalidInput (bad failover input: the message says what to change), DrRegionUnavailable, NoRecoveryPoint,
 *   RecoveryPointTooOld (older than the RPO without acceptDataLoss), RestoreFailed (replica unreachable) — all before
 *   anything is created.
 * @example
 * { "action": "validate", "input": { "strategy": "restore-snapshot", "dryRun": true, "reason": "DR rehearsal" } }
 */
export async function handler(event: unknown): Promise<FailoverRequest | FailoverPlan | ReplicaLagResult> {
  const input = parsePreflightEvent(event);
  switch (input.action) {
    case 'validate': {
      const config = readFailoverConfig(process.env);
      const request = parseFailoverInput(input.input, config.strategies, new Date());
      logger.info('failover requested', { strategy: request.strategy, dryRun: request.dryRun, acceptDataLoss: request.acceptDataLoss, reason: request.reason });
      return request;
    }
    case 'preflight':
      return preflight(input);
    case 'replica-lag':
      return replicaLag(input);
  }
}
