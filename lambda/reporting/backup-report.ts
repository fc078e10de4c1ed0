/**
 * The backup run report: what the BackupWorkflow collected about one run, validated, turned into the JSON document
 * written to `reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` (the audit evidence), and the
 * metrics published for it. Everything here is pure; lambda/reporting/backup-report.handler.ts does the I/O.
 */
import { formatKeyTimestamp } from '../backup/manifest';
import { InvalidInput } from '../common/errors';
import {
  JsonObject,
  Tier,
  expectNumber,
  expectObject,
  expectOneOf,
  expectString,
  expectTiers,
  expectTimestamp,
  optionalString,
} from '../common/validate';

/** Final status of a run. */
export type RunStatus = 'SUCCEEDED' | 'FAILED';

/** The error a Step Functions `Catch` puts at its `resultPath`. */
export interface StepError {
  readonly Error: string;
  readonly Cause?: string;
}

/**
 * One dump as the dump branch returns it. The report reads `database`, `manifestKey`, `dumpKey` and the size
 * (`bytes`, or `manifest.bytes` when the item carries the whole manifest); other fields are kept as they are.
 */
export interface DumpRunResult extends JsonObject {
  readonly database?: string;
  readonly manifestKey?: string;
  readonly dumpKey?: string;
  readonly bytes?: number;
  readonly manifest?: JsonObject & { readonly bytes?: number };
}

/** A snapshot (or its DR copy) as the snapshot handler returns it; other fields are kept as they are. */
export interface SnapshotRunResult extends JsonObject {
  readonly kind: string;
  readonly snapshotId: string;
  readonly snapshotArn: string;
  readonly region: string;
}

/**
 * What the state machine sends the report handler.
 *
 * The branch results may come either as top-level fields (`dumps`, `verification`, `snapshot`, `drCopy`) or as the
 * raw output array of the backup `Parallel` state in `results` (each element an object holding some of those
 * fields); they are merged.
 */
export interface BackupReportEvent {
  readonly workflow: 'backup';
  readonly status: RunStatus;
  /** `$$.Execution.Id` (the execution ARN). */
  readonly executionId: string;
  /**
   * `$$.Execution.Name`.
   * @default - the last part of `executionId`
   */
  readonly executionName?: string;
  /** `$$.Execution.StartTime` (ISO-8601). */
  readonly startedAt: string;
  /** The tiers the run was started for. */
  readonly tiers: Tier[];
  readonly dumps?: DumpRunResult[];
  readonly verification?: JsonObject[];
  readonly snapshot?: SnapshotRunResult;
  readonly drCopy?: SnapshotRunResult;
  /** Output of the backup `Parallel` state. */
  readonly results?: JsonObject[];
  /** Set on failed runs: what the `Catch` caught. */
  readonly error?: StepError;
}

/** A validated, normalized {@link BackupReportEvent}. */
export interface BackupRunSummary {
  readonly workflow: 'backup';
  readonly status: RunStatus;
  readonly executionId: string;
  readonly executionName: string;
  readonly startedAt: string;
  readonly tiers: Tier[];
  readonly dumps: DumpRunResult[];
  readonly verification: JsonObject[];
  readonly snapshot?: SnapshotRunResult;
  readonly drCopy?: SnapshotRunResult;
  readonly error?: StepError;
}

/** Version of the report document's shape. */
export const REPORT_SCHEMA_VERSION = 1;

/** Key prefix of backup reports. */
export const BACKUP_REPORT_PREFIX = 'reports/backup/';

/** The JSON document written for every run. */
export interface BackupReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly workflow: 'backup';
  /** The backed-up server (`SOURCE_ID`). */
  readonly source: string;
  readonly status: RunStatus;
  readonly executionId: string;
  readonly executionName: string;
  readonly tiers: Tier[];
  /** ISO-8601 UTC. */
  readonly startedAt: string;
  /** ISO-8601 UTC: when the report was built. */
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly totals: {
    readonly dumps: number;
    /** Sum of the dumps' sizes; snapshots are not counted (RDS does not report their size in bytes). */
    readonly dumpBytes: number;
    readonly snapshots: number;
  };
  readonly dumps: DumpRunResult[];
  readonly verification: JsonObject[];
  readonly snapshot?: SnapshotRunResult;
  readonly drCopy?: SnapshotRunResult;
  readonly error?: { readonly error: string; readonly cause?: string };
}

/** Longest error cause kept in a report (Step Functions causes can hold whole stack traces). */
export const MAX_CAUSE_LENGTH = 8192;

/** A caught error as a report holds it: the cause, when there is one, cut to {@link MAX_CAUSE_LENGTH}. */
export function reportedError(caught: StepError): { readonly error: string; readonly cause?: string } {
  const cause = caught.Cause;
  if (cause === undefined) return { error: caught.Error };
  return { error: caught.Error, cause: cause.length > MAX_CAUSE_LENGTH ? `${cause.slice(0, MAX_CAUSE_LENGTH)}… (truncated)` : cause };
}

function optionalArrayOfObjects(value: unknown, field: string): JsonObject[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new InvalidInput(`${field} must be an array of objects`);
  return value.map((item, i) => expectObject(item, `${field}[${i}]`));
}

function parseDump(value: JsonObject, field: string): DumpRunResult {
  optionalString(value.database, `${field}.database`);
  optionalString(value.manifestKey, `${field}.manifestKey`);
  optionalString(value.dumpKey, `${field}.dumpKey`);
  if (value.bytes !== undefined) expectNumber(value.bytes, `${field}.bytes`, 0);
  if (value.manifest !== undefined) {
    const manifest = expectObject(value.manifest, `${field}.manifest`);
    if (manifest.bytes !== undefined) expectNumber(manifest.bytes, `${field}.manifest.bytes`, 0);
  }
  return value as DumpRunResult;
}

function parseSnapshot(value: unknown, field: string): SnapshotRunResult | undefined {
  if (value === undefined) return undefined;
  const snapshot = expectObject(value, field);
  expectString(snapshot.kind, `${field}.kind`);
  expectString(snapshot.snapshotId, `${field}.snapshotId`);
  expectString(snapshot.snapshotArn, `${field}.snapshotArn`);
  expectString(snapshot.region, `${field}.region`);
  return snapshot as SnapshotRunResult;
}

function parseStepError(value: unknown): StepError | undefined {
  if (value === undefined) return undefined;
  const error = expectObject(value, 'error');
  if (error.Cause !== undefined && typeof error.Cause !== 'string') {
    throw new InvalidInput('error.Cause must be a string (the Cause of a Step Functions Catch)');
  }
  return { Error: expectString(error.Error, 'error.Error'), ...(error.Cause !== undefined ? { Cause: error.Cause } : {}) };
}

/** `arn:aws:states:us-east-1:123456789012:execution:Machine:run-1` → `run-1`. */
export function executionNameFromId(executionId: string): string {
  const parts = executionId.split(':');
  // Standard: arn:aws:states:<region>:<account>:execution:<machine>:<name>; express adds :<uuid>.
  if (parts.length >= 8 && parts[0] === 'arn' && parts[5] === 'execution') return parts[7];
  if (parts.length >= 8 && parts[0] === 'arn' && parts[5] === 'express') return parts[7];
  return parts[parts.length - 1];
}

/**
 * Validates and normalizes what the state machine sent.
 *
 * @throws InvalidInput naming the field and what to change.
 */
export function parseBackupReportEvent(event: unknown): BackupRunSummary {
  const input = expectObject(event, 'event');
  expectOneOf(input.workflow, 'workflow', ['backup'] as const);
  const status = expectOneOf(input.status, 'status', ['SUCCEEDED', 'FAILED'] as const);
  const executionId = expectString(input.executionId, 'executionId');
  const executionName = optionalString(input.executionName, 'executionName') ?? executionNameFromId(executionId);
  const startedAt = expectTimestamp(input.startedAt, 'startedAt').toISOString();
  const tiers = expectTiers(input.tiers);

  // Merge the Parallel output (if any) with the top-level fields; top-level wins.
  const parts: JsonObject[] = [...(optionalArrayOfObjects(input.results, 'results') ?? []), input];
  const dumps: DumpRunResult[] = [];
  const verification: JsonObject[] = [];
  let snapshot: SnapshotRunResult | undefined;
  let drCopy: SnapshotRunResult | undefined;
  parts.forEach((part, i) => {
    const where = part === input ? '' : `results[${i}].`;
    const partDumps = optionalArrayOfObjects(part.dumps, `${where}dumps`);
    partDumps?.forEach((dump, j) => dumps.push(parseDump(dump, `${where}dumps[${j}]`)));
    verification.push(...(optionalArrayOfObjects(part.verification, `${where}verification`) ?? []));
    snapshot = parseSnapshot(part.snapshot, `${where}snapshot`) ?? snapshot;
    drCopy = parseSnapshot(part.drCopy, `${where}drCopy`) ?? drCopy;
  });

  const error = parseStepError(input.error);
  if (status === 'FAILED' && !error) {
    throw new InvalidInput('error must be given for a FAILED run: pass the Catch result ({ Error, Cause }) as "error"');
  }
  return {
    workflow: 'backup',
    status,
    executionId,
    executionName,
    startedAt,
    tiers,
    dumps,
    verification,
    ...(snapshot ? { snapshot } : {}),
    ...(drCopy ? { drCopy } : {}),
    ...(error ? { error } : {}),
  };
}

/** Size of one dump: `bytes`, else `manifest.bytes`, else 0. */
export function dumpBytes(dump: DumpRunResult): number {
  if (typeof dump.bytes === 'number') return dump.bytes;
  if (typeof dump.manifest?.bytes === 'number') return dump.manifest.bytes;
  return 0;
}

/** Builds the report document. Pure: `finishedAt` is passed in. */
export function buildBackupReport(summary: BackupRunSummary, context: { readonly source: string; readonly finishedAt: Date }): BackupReport {
  const started = new Date(summary.startedAt);
  const durationSeconds = Math.max(0, Math.round((context.finishedAt.getTime() - started.getTime()) / 10) / 100);
  const error = summary.error ? reportedError(summary.error) : undefined;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    workflow: 'backup',
    source: context.source,
    status: summary.status,
    executionId: summary.executionId,
    executionName: summary.executionName,
    tiers: summary.tiers,
    startedAt: started.toISOString(),
    finishedAt: context.finishedAt.toISOString(),
    durationSeconds,
    totals: {
      dumps: summary.dumps.length,
      dumpBytes: summary.dumps.reduce((sum, dump) => sum + dumpBytes(dump), 0),
      snapshots: (summary.snapshot ? 1 : 0) + (summary.drCopy ? 1 : 0),
    },
    dumps: summary.dumps,
    verification: summary.verification,
    ...(summary.snapshot ? { snapshot: summary.snapshot } : {}),
    ...(summary.drCopy ? { drCopy: summary.drCopy } : {}),
    ...(error ? { error } : {}),
  };
}

/** Characters kept from an execution name in a key; anything else becomes `-`. */
function keySafe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'run';
}

/**
 * `<prefix><YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`, dated by the run's start (UTC); the timestamp has the
 * dump keys' format (`20240131T020000.123Z`), so reports sort in time order. Every workflow's report uses this layout.
 */
export function datedReportKey(prefix: string, startedAt: string, executionName: string): string {
  const stamp = formatKeyTimestamp(new Date(startedAt));
  return `${prefix}${stamp.slice(0, 4)}/${stamp.slice(4, 6)}/${stamp.slice(6, 8)}/${stamp}-${keySafe(executionName)}.json`;
}

/**
 * `reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`, dated by the run's start (UTC); the timestamp
 * has the dump keys' format (`20240131T020000.123Z`), so reports sort in time order.
 */
export function backupReportKey(report: Pick<BackupReport, 'startedAt' | 'executionName'>): string {
  return datedReportKey(BACKUP_REPORT_PREFIX, report.startedAt, report.executionName);
}

/** Names of the metrics a backup run publishes (namespace `CdkBackupDr`, dimension `Source`). */
export const BACKUP_METRICS = {
  succeeded: 'BackupSucceeded',
  bytes: 'BackupBytes',
  durationSeconds: 'BackupDurationSeconds',
  lastSuccessTimestamp: 'LastSuccessTimestamp',
} as const;

/** The only dimension of the backup metrics. */
export const SOURCE_DIMENSION = 'Source';

/** A metric value to publish; `unit` is one of CloudWatch's unit names. */
export interface MetricDatum {
  readonly name: string;
  readonly unit: 'Count' | 'Bytes' | 'Seconds' | 'None';
  readonly value: number;
}

/**
 * The metrics of a run: BackupSucceeded (1/0) and BackupDurationSeconds always; BackupBytes when the run made dumps
 * (a snapshot-only run has no byte count, and a 0 would look like an empty dump); LastSuccessTimestamp (epoch
 * seconds of the end of the run) only on success, so "time since last success" alarms see the gap.
 */
export function backupRunMetrics(report: BackupReport): MetricDatum[] {
  const succeeded = report.status === 'SUCCEEDED';
  const metrics: MetricDatum[] = [
    { name: BACKUP_METRICS.succeeded, unit: 'Count', value: succeeded ? 1 : 0 },
    { name: BACKUP_METRICS.durationSeconds, unit: 'Seconds', value: report.durationSeconds },
  ];
  if (report.totals.dumps > 0) {
    metrics.push({ name: BACKUP_METRICS.bytes, unit: 'Bytes', value: report.totals.dumpBytes });
  }
  if (succeeded) {
    metrics.push({ name: BACKUP_METRICS.lastSuccessTimestamp, unit: 'None', value: Math.floor(new Date(report.finishedAt).getTime() / 1000) });
  }
  return metrics;
}
