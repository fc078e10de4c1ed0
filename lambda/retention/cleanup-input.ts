/**
 * The cleanup handler's input and configuration, validated before anything is listed or deleted, and the report of
 * one run. Pure: ./cleanup.handler.ts does the I/O.
 */
import { InvalidInput, MissingConfiguration } from '../common/errors';
import { expectObject, expectOneOf } from '../common/validate';
import { CLEANUP_REPORT_PREFIX, SOURCE_NAME_HINT, isRdsIdentifier, isSourceName } from '../common/names';
import type { SnapshotKind } from '../rds/snapshot';
import { formatKeyTimestamp } from '../backup/manifest';
import type { DumpCleanupResult, SnapshotCleanupResult, SnapshotQuota } from './cleanup-core';
import { RetentionRules, retentionRulesProblems } from './policy';

/** Which copy of the backups a run cleans. */
export type CleanupTarget = 'primary' | 'replica';

/** What a person (or a schedule) asks of one cleanup run: the state machine's execution input, or the handler's event. */
export interface CleanupRequest {
  /** `primary`: the backup bucket and the primary-region snapshots; `replica`: the replica bucket and the DR copies. */
  readonly target: CleanupTarget;
  /**
   * List and decide, delete nothing; the plan is in the result and the report.
   * @default false
   */
  readonly dryRun?: boolean;
}

/** The handler's event when invoked by hand: the request, optionally named for the report key. */
export interface CleanupEvent extends CleanupRequest {
  /** Names the report (`…-<target>-<executionName>.json`). */
  readonly executionName?: string;
}

/**
 * The handler's event from the state machine: the execution input exactly as it was given (so a misspelt field such
 * as `dryrun` is refused instead of dropped) and `$$.Execution.Name`.
 */
export interface CleanupTaskEvent {
  readonly request: CleanupRequest;
  readonly executionName: string;
}

/** A validated event. */
export interface ParsedCleanupEvent {
  readonly target: CleanupTarget;
  readonly dryRun: boolean;
  readonly executionName?: string;
}

const REQUEST_FIELDS = 'a cleanup request takes target ("primary" or "replica") and dryRun (true or false)';

function rejectUnknown(event: Record<string, unknown>, allowed: readonly string[], what: string): void {
  const unknown = Object.keys(event).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new InvalidInput(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: ${what}`);
}

/**
 * Validates the event, {@link CleanupEvent} or {@link CleanupTaskEvent}, before anything is read or listed.
 * @throws InvalidInput naming the field and what it takes
 */
export function parseCleanupEvent(value: unknown): ParsedCleanupEvent {
  const event = expectObject(value, 'event');
  let request: Record<string, unknown>;
  if ('request' in event) {
    rejectUnknown(event, ['request', 'executionName'], 'the state machine sends request and executionName');
    request = expectObject(event.request, 'the execution input');
    rejectUnknown(request, ['target', 'dryRun'], REQUEST_FIELDS);
  } else {
    request = event;
    rejectUnknown(request, ['target', 'dryRun', 'executionName'], `${REQUEST_FIELDS} (and executionName, a name for the report)`);
  }
  const target = expectOneOf(request.target, 'target', ['primary', 'replica'] as const);
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') {
    throw new InvalidInput(`dryRun must be true or false (a JSON boolean); got ${JSON.stringify(request.dryRun)}`);
  }
  const executionName = event.executionName;
  if (executionName !== undefined && (typeof executionName !== 'string' || executionName === '' || executionName.length > 80)) {
    throw new InvalidInput(`executionName must be a string of 1 to 80 characters; got ${JSON.stringify(executionName)}`);
  }
  return { target, dryRun: request.dryRun === true, ...(executionName ? { executionName } : {}) };
}

/** The snapshots one run cleans. */
export interface CleanupSnapshotsConfig {
  readonly kind: SnapshotKind;
  /** The DB instance or cluster identifier. */
  readonly source: string;
}

/** Everything a run of one target needs from the environment, read and checked before anything is listed. */
export interface CleanupConfig {
  /** The Lambda's region: where the backup bucket and the reports are. */
  readonly home: string;
  readonly reportBucket: string;
  readonly kmsKeyId: string;
  readonly source: string;
  /** Where this target's bucket and snapshots are. */
  readonly region: string;
  /** This target's bucket. */
  readonly bucket: string;
  readonly rules: RetentionRules;
  readonly orphanGraceSeconds: number;
  readonly objectLock: boolean;
  readonly removeVersions: boolean;
  readonly snapshots?: CleanupSnapshotsConfig;
  /** RecoveryTest / Failover state machines whose running executions may have picked a backup (never deleted then). */
  readonly inUseStateMachines: readonly string[];
}

/** A Step Functions state machine ARN. */
export const STATE_MACHINE_ARN_PATTERN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new MissingConfiguration(`environment variable ${name} is not set; the construct that deploys this function must set it`);
  return value;
}

function flag(env: Env, name: string): boolean {
  const value = env[name];
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new MissingConfiguration(`${name} must be "true" or "false"; got ${JSON.stringify(value)}`);
}

/**
 * Reads the configuration of a run of `target` (see ./cleanup.handler.ts for the variables).
 * @throws InvalidInput for target `replica` when this cleanup has no replica; MissingConfiguration for a deployment error
 */
export function readCleanupConfig(env: Env, target: CleanupTarget): CleanupConfig {
  const home = required(env, 'AWS_REGION');
  const source = required(env, 'SOURCE_ID');
  if (!isSourceName(source)) throw new MissingConfiguration(`SOURCE_ID ${SOURCE_NAME_HINT}; got ${JSON.stringify(source)}`);
  const replica = target === 'replica';
  if (replica && !env.REPLICA_BUCKET_NAME) {
    throw new InvalidInput('target "replica": this cleanup has no replica bucket (its backup bucket does not replicate); start it with target "primary"');
  }
  const region = replica ? required(env, 'DR_REGION') : home;
  const rules = replica && env.REPLICA_RETENTION_POLICY
    ? parseRulesJson('REPLICA_RETENTION_POLICY', env.REPLICA_RETENTION_POLICY)
    : parseRulesJson('RETENTION_POLICY', required(env, 'RETENTION_POLICY'));
  const graceText = env.ORPHAN_GRACE_SECONDS;
  const orphanGraceSeconds = graceText === undefined || graceText === '' ? 86_400 : Number(graceText);
  if (!Number.isInteger(orphanGraceSeconds) || orphanGraceSeconds < 3_600 || orphanGraceSeconds > 366 * 86_400) {
    throw new MissingConfiguration(`ORPHAN_GRACE_SECONDS must be a whole number of seconds from 3600 to ${366 * 86_400}; got ${JSON.stringify(graceText)}`);
  }
  let snapshots: CleanupSnapshotsConfig | undefined;
  if (env.SNAPSHOT_KIND || env.SNAPSHOT_SOURCE) {
    const kind = required(env, 'SNAPSHOT_KIND');
    if (kind !== 'instance' && kind !== 'cluster') throw new MissingConfiguration(`SNAPSHOT_KIND must be "instance" or "cluster"; got ${JSON.stringify(kind)}`);
    const snapshotSource = required(env, 'SNAPSHOT_SOURCE');
    if (!isRdsIdentifier(snapshotSource)) throw new MissingConfiguration(`SNAPSHOT_SOURCE must be an RDS identifier; got ${JSON.stringify(snapshotSource)}`);
    snapshots = { kind, source: snapshotSource };
  }
  const inUseStateMachines = (env.IN_USE_STATE_MACHINES ?? '').split(',').map((arn) => arn.trim()).filter((arn) => arn !== '');
  for (const arn of inUseStateMachines) {
    if (!STATE_MACHINE_ARN_PATTERN.test(arn)) throw new MissingConfiguration(`IN_USE_STATE_MACHINES must list state machine ARNs separated by commas; got ${JSON.stringify(arn)}`);
  }
  return {
    home,
    reportBucket: required(env, 'BUCKET_NAME'),
    kmsKeyId: required(env, 'BUCKET_KMS_KEY_ARN'),
    source,
    region,
    bucket: replica ? required(env, 'REPLICA_BUCKET_NAME') : required(env, 'BUCKET_NAME'),
    rules,
    orphanGraceSeconds,
    objectLock: flag(env, replica ? 'REPLICA_OBJECT_LOCK' : 'OBJECT_LOCK'),
    removeVersions: flag(env, 'REMOVE_VERSIONS'),
    ...(snapshots ? { snapshots } : {}),
    inUseStateMachines,
  };
}

/** Reads a retention policy from the environment (JSON written by the construct). @throws MissingConfiguration */
export function parseRulesJson(name: string, text: string): RetentionRules {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MissingConfiguration(`${name} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || typeof (value as { timeZone?: unknown }).timeZone !== 'string') {
    throw new MissingConfiguration(`${name} must be a retention policy object with a timeZone`);
  }
  const rules = value as RetentionRules;
  const problems = retentionRulesProblems(rules);
  if (problems.length > 0) throw new MissingConfiguration(`${name}: ${problems.join('; ')}`);
  return rules;
}

/** The report of one cleanup run of one target, written to `reports/cleanup/…`. */
export interface CleanupReport {
  readonly workflow: 'cleanup';
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly target: CleanupTarget;
  readonly dryRun: boolean;
  readonly source: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly policy: RetentionRules;
  readonly dumps?: DumpCleanupResult;
  readonly snapshots?: SnapshotCleanupResult;
  readonly quota?: SnapshotQuota;
  /** The running recovery tests and failovers asked, and what they picked (backup id -> execution). */
  readonly inUse?: { readonly runningExecutions: readonly string[]; readonly backups: Readonly<Record<string, string>> };
  /** Every failure, in words; the run is FAILED when there is one. */
  readonly errors: readonly string[];
}

/** `reports/cleanup/<YYYY>/<MM>/<DD>/<timestamp>-<target>[-<executionName>].json`. */
export function cleanupReportKey(startedAt: Date, target: CleanupTarget, executionName?: string): string {
  const stamp = formatKeyTimestamp(startedAt);
  const name = executionName ? `-${executionName.replace(/[^A-Za-z0-9._-]/g, '_')}` : '';
  return `${CLEANUP_REPORT_PREFIX}${stamp.slice(0, 4)}/${stamp.slice(4, 6)}/${stamp.slice(6, 8)}/${stamp}-${target}${name}.json`;
}
