/**
 * The backup run report: what the BackupWorkflow collected about one run, validated, turned into the JSON document
 * written to `reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` (the audit evidence), and the
 * metrics published for it. Everything here is pure; lambda/reporting/backup-report.handler.ts does the I/O.
 */
import { InvalidInput } from '../common/errors';
import { JsonObject, Tier, expectNumber, expectObject, expectOneOf, expectString, expectTiers, optionalString } from '../common/validate';
import { ReportContext, RunStatus, StepError, datedReportKey, executionFields, parseReportEnvelope, parseStepError, reportedError } from './run-report';
import { BACKUP_REPORT_PREFIX } from '../common/names';
import { BACKUP_METRICS } from '../common/metrics';
import { FormattedNotification, formatNotification } from './notification';

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

/**
 * What one database's item of the BackupWorkflow's Map returns: its dump and verification, or the error that its dump
 * or verification ended with (the item caught it, so the other databases went on).
 */
export interface DatabaseRunResult extends JsonObject {
  readonly database: string;
  readonly status: RunStatus;
  readonly dump?: DumpRunResult;
  readonly verification?: JsonObject;
  readonly error?: JsonObject & StepError;
}

/** One database's outcome as the report lists it. */
export interface DatabaseOutcome {
  readonly database: string;
  readonly status: RunStatus;
  readonly manifestKey?: string;
  readonly bytes?: number;
  /** The verify result's status (`verified`), when it ran. */
  readonly verification?: string;
  readonly error?: { readonly error: string; readonly cause?: string };
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
 * The branch results may come either as top-level fields (`databases`, `dumps`, `verification`, `snapshot`,
 * `drCopy`) or as the raw output array of the backup `Parallel` state in `results` (each element an object holding
 * some of those fields); they are merged. `databases` (the Map's per-database results) adds each database's dump and
 * verification to `dumps` and `verification`.
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
  readonly databases?: DatabaseRunResult[];
  readonly dumps?: DumpRunResult[];
  readonly verification?: JsonObject[];
  readonly snapshot?: SnapshotRunResult;
  readonly drCopy?: SnapshotRunResult;
  /** What the snapshot branch caught (`{ Error, Cause }`) when its snapshot or DR copy failed. */
  readonly snapshotError?: StepError;
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
  readonly databases: DatabaseOutcome[];
  readonly dumps: DumpRunResult[];
  readonly verification: JsonObject[];
  readonly snapshot?: SnapshotRunResult;
  readonly drCopy?: SnapshotRunResult;
  readonly snapshotError?: StepError;
  readonly error?: StepError;
}

/** Version of the report document's shape. */
export const REPORT_SCHEMA_VERSION = 1;

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
    /** Databases whose dump or verification failed. */
    readonly databasesFailed: number;
  };
  /** Each database's outcome, in the order they were given. */
  readonly databases: DatabaseOutcome[];
  readonly dumps: DumpRunResult[];
  readonly verification: JsonObject[];
  readonly snapshot?: SnapshotRunResult;
  readonly drCopy?: SnapshotRunResult;
  /** Why the snapshot or its DR copy failed (the dumps ran on). */
  readonly snapshotError?: { readonly error: string; readonly cause?: string };
  readonly error?: { readonly error: string; readonly cause?: string };
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

function parseDatabase(value: JsonObject, field: string): { outcome: DatabaseOutcome; dump?: DumpRunResult; verification?: JsonObject } {
  const database = expectString(value.database, `${field}.database`);
  const status = expectOneOf(value.status, `${field}.status`, ['SUCCEEDED', 'FAILED'] as const);
  if (status === 'FAILED') {
    const error = parseStepError(value.error, `${field}.error`);
    if (!error) throw new InvalidInput(`${field}.error must be given for a FAILED database: pass the Catch result ({ Error, Cause })`);
    return { outcome: { database, status, error: reportedError(error) } };
  }
  const dump = parseDump(expectObject(value.dump, `${field}.dump`), `${field}.dump`);
  const verification = expectObject(value.verification, `${field}.verification`);
  const verified = optionalString(verification.status, `${field}.verification.status`);
  return {
    outcome: {
      database,
      status,
      ...(dump.manifestKey !== undefined ? { manifestKey: dump.manifestKey } : {}),
      bytes: dumpBytes(dump),
      ...(verified !== undefined ? { verification: verified } : {}),
    },
    dump,
    verification,
  };
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

/**
 * Validates and normalizes what the state machine sent.
 *
 * @throws InvalidInput naming the field and what to change.
 */
export function parseBackupReportEvent(event: unknown): BackupRunSummary {
  const { input, execution } = parseReportEnvelope(event, 'backup');
  const status = expectOneOf(input.status, 'status', ['SUCCEEDED', 'FAILED'] as const);
  const tiers = expectTiers(input.tiers);

  // Merge the Parallel output (if any) with the top-level fields; top-level wins.
  const parts: JsonObject[] = [...(optionalArrayOfObjects(input.results, 'results') ?? []), input];
  const databases: DatabaseOutcome[] = [];
  const dumps: DumpRunResult[] = [];
  const verification: JsonObject[] = [];
  let snapshot: SnapshotRunResult | undefined;
  let drCopy: SnapshotRunResult | undefined;
  let snapshotError: StepError | undefined;
  parts.forEach((part, i) => {
    const where = part === input ? '' : `results[${i}].`;
    optionalArrayOfObjects(part.databases, `${where}databases`)?.forEach((item, j) => {
      const parsed = parseDatabase(item, `${where}databases[${j}]`);
      databases.push(parsed.outcome);
      if (parsed.dump) dumps.push(parsed.dump);
      if (parsed.verification) verification.push(parsed.verification);
    });
    const partDumps = optionalArrayOfObjects(part.dumps, `${where}dumps`);
    partDumps?.forEach((dump, j) => dumps.push(parseDump(dump, `${where}dumps[${j}]`)));
    verification.push(...(optionalArrayOfObjects(part.verification, `${where}verification`) ?? []));
    snapshot = parseSnapshot(part.snapshot, `${where}snapshot`) ?? snapshot;
    drCopy = parseSnapshot(part.drCopy, `${where}drCopy`) ?? drCopy;
    snapshotError = parseStepError(part.snapshotError, `${where}snapshotError`) ?? snapshotError;
  });

  const error = parseStepError(input.error, 'error');
  if (status === 'FAILED' && !error) {
    throw new InvalidInput('error must be given for a FAILED run: pass the Catch result ({ Error, Cause }) as "error"');
  }
  return {
    workflow: 'backup',
    status,
    ...execution,
    tiers,
    databases,
    dumps,
    verification,
    ...(snapshot ? { snapshot } : {}),
    ...(drCopy ? { drCopy } : {}),
    ...(snapshotError ? { snapshotError } : {}),
    ...(error ? { error } : {}),
  };
}

/** Size of one dump: `bytes`, else `manifest.bytes`, else 0. */
export function dumpBytes(dump: DumpRunResult): number {
  if (typeof dump.bytes === 'number') return dump.bytes;
  if (typeof dump.manifest?.bytes === 'number') return dump.manifest.bytes;
  return 0;
}

/**
 * The error of a run whose branches completed but some databases failed: the first failed database's error name, and
 * a cause naming every failed database with its error (and the ones that were backed up).
 */
export function databasesFailure(databases: readonly DatabaseOutcome[]): StepError | undefined {
  const failed = databases.filter((d) => d.status === 'FAILED');
  if (failed.length === 0) return undefined;
  const done = databases.filter((d) => d.status === 'SUCCEEDED').map((d) => d.database);
  const each = failed.map((d) => `${d.database}: ${d.error?.error ?? 'failed'}${d.error?.cause ? `: ${d.error.cause}` : ''}`);
  return {
    Error: failed[0].error?.error ?? 'DatabaseFailed',
    Cause: `${failed.length} of ${databases.length} database(s) failed (${each.join(' | ')}); backed up: ${done.length > 0 ? done.join(', ') : 'none'}`,
  };
}

/**
 * The error of a run whose branches completed with a failure in either: the failed databases (see
 * {@link databasesFailure}) and the failed snapshot. The error name is the first failed database's, else the
 * snapshot's.
 */
export function branchesFailure(summary: Pick<BackupRunSummary, 'databases' | 'snapshotError'>): StepError | undefined {
  const databases = databasesFailure(summary.databases);
  const snapshot = summary.snapshotError;
  if (!snapshot) return databases;
  const snapshotCause = `snapshot failed: ${snapshot.Error}${snapshot.Cause ? `: ${snapshot.Cause}` : ''}`;
  if (!databases) {
    return { Error: snapshot.Error, Cause: summary.databases.length > 0 ? `${snapshotCause}; every database was backed up` : snapshotCause };
  }
  return { Error: databases.Error, Cause: `${databases.Cause}; ${snapshotCause}` };
}

/**
 * Builds the report document. Pure: `source` and `finishedAt` are passed in. The run FAILED when the workflow says so,
 * or when any database or the snapshot failed (then `error` says which).
 */
export function buildBackupReport(summary: BackupRunSummary, context: ReportContext): BackupReport {
  const { executionId, executionName, startedAt, finishedAt, durationSeconds } = executionFields(summary, context.finishedAt);
  const caught = summary.error ?? branchesFailure(summary);
  const error = caught ? reportedError(caught) : undefined;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    workflow: 'backup',
    source: context.source,
    status: error ? 'FAILED' : summary.status,
    executionId,
    executionName,
    tiers: summary.tiers,
    startedAt,
    finishedAt,
    durationSeconds,
    totals: {
      dumps: summary.dumps.length,
      dumpBytes: summary.dumps.reduce((sum, dump) => sum + dumpBytes(dump), 0),
      snapshots: (summary.snapshot ? 1 : 0) + (summary.drCopy ? 1 : 0),
      databasesFailed: summary.databases.filter((d) => d.status === 'FAILED').length,
    },
    databases: summary.databases,
    dumps: summary.dumps,
    verification: summary.verification,
    ...(summary.snapshot ? { snapshot: summary.snapshot } : {}),
    ...(summary.drCopy ? { drCopy: summary.drCopy } : {}),
    ...(summary.snapshotError ? { snapshotError: reportedError(summary.snapshotError) } : {}),
    ...(error ? { error } : {}),
  };
}

/**
 * `reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`, dated by the run's start (UTC); the timestamp
 * has the dump keys' format (`20240131T020000.123Z`), so reports sort in time order.
 */
export function backupReportKey(report: Pick<BackupReport, 'startedAt' | 'executionName'>): string {
  return datedReportKey(BACKUP_REPORT_PREFIX, report.startedAt, report.executionName);
}

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

/** What to do after a failed backup run, from what failed. */
export function backupNextStep(report: BackupReport): string {
  const rerun = `then start a backup by hand (start-execution with {"tiers":${JSON.stringify(report.tiers)}}) so that the RPO is met`;
  const failed = report.databases.filter((d) => d.status === 'FAILED');
  if (report.error?.error === 'InvalidInput') return 'The run was started with an input it refused: start it with {"tiers":["daily"]} (daily, weekly, monthly, yearly).';
  if (failed.length > 0) {
    return `Read the error of ${failed.map((d) => d.database).join(', ')} in the report (connection, credentials, disk, pg_dump version), fix it, ${rerun}.`;
  }
  if (report.snapshotError) return `The RDS snapshot or its DR copy failed: check the RDS events and the manual-snapshot quota of both regions, ${rerun}.`;
  return `Read the cause, fix it, ${rerun}.`;
}

/** Where a failed backup run failed: the databases that failed, or the snapshot. */
function backupFailedAt(report: BackupReport): string | undefined {
  const failed = report.databases.filter((d) => d.status === 'FAILED').map((d) => d.database);
  if (failed.length > 0) return `dump of ${failed.join(', ')}`;
  if (report.snapshotError) return 'snapshot';
  return undefined;
}

/** The notification of a backup run (published for FAILED runs). */
export function backupNotification(report: BackupReport, reportKey: string, bucket: string): FormattedNotification {
  const failedAt = report.status === 'FAILED' ? backupFailedAt(report) : undefined;
  return formatNotification({
    workflow: 'backup',
    what: 'backup',
    status: report.status,
    source: report.source,
    executionId: report.executionId,
    report: { bucket, key: reportKey },
    ...(failedAt !== undefined ? { failedAt } : {}),
    ...(report.error ? { cause: `${report.error.error}${report.error.cause ? `: ${report.error.cause}` : ''}` } : {}),
    nextStep: report.status === 'SUCCEEDED' ? 'Nothing to do.' : backupNextStep(report),
    details: {
      execution: report.executionId,
      tiers: report.tiers,
      ...(report.error ? { error: report.error.error } : {}),
      dumps: report.totals.dumps,
      dumpBytes: report.totals.dumpBytes,
      databasesFailed: report.totals.databasesFailed,
    },
  });
}
