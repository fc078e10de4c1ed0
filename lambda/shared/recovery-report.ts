/**
 * The recovery-test report: what the RecoveryTest state machine collected about one run, turned into the outcome
 * (a test passes only when the backup restored, every check passed, the data was within the RPO and the cleanup
 * finished), the JSON document written to `reports/recovery-test/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`
 * (the audit evidence), its metrics and the SNS message. Pure; lambda/recovery-report does the I/O.
 *
 * Mirrors ./report (the backup report): same schema version field, key format, cause truncation and metric
 * dimension (`Source`).
 */
import { InvalidInput } from './errors';
import { MAX_CAUSE_LENGTH, MetricDatum, RunStatus, StepError, datedReportKey, executionNameFromId } from './report';
import { JsonObject, expectObject, expectOneOf, expectString, expectTimestamp, optionalString } from './validate';

export { SOURCE_DIMENSION } from './report';
export type { MetricDatum, RunStatus, StepError } from './report';

/** Version of the recovery-test report's shape. */
export const RECOVERY_REPORT_SCHEMA_VERSION = 1;

/** Key prefix of recovery-test reports. */
export const RECOVERY_REPORT_PREFIX = 'reports/recovery-test/';

/** Names of the metrics a recovery test publishes (namespace `CdkBackupDr`, dimension `Source`). */
export const RECOVERY_TEST_METRICS = {
  succeeded: 'RecoveryTestSucceeded',
  restoreDurationSeconds: 'RestoreDurationSeconds',
  backupAgeSeconds: 'BackupAgeSeconds',
} as const;

/** One check of the test, as it appears in the report. */
export interface ReportCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly expected?: unknown;
  readonly actual?: unknown;
  readonly detail?: string;
}

/**
 * The state the machine hands over (`$` of the execution): each field is present once its step has run. Unknown
 * fields are ignored.
 */
export interface RecoveryRunState extends JsonObject {
  readonly selection?: JsonObject;
  /** recovery-pick's result. */
  readonly backup?: JsonObject;
  /** scratch `create`'s result. */
  readonly created?: JsonObject;
  /** scratch `wait`'s result (the last one). */
  readonly ready?: JsonObject;
  /** restore's result (dumps). */
  readonly restore?: JsonObject;
  /** restore-verify's / recovery-verify's result. */
  readonly verify?: JsonObject;
  /** What a `Catch` caught before the cleanup. */
  readonly error?: StepError;
  /**
   * The cleanup `Parallel`'s output: one result per branch, `{ what, names, status: 'gone' }`, or
   * `{ what, status: 'failed', error }` from a branch that gave up.
   */
  readonly cleanup?: JsonObject[];
  /** What the cleanup's `Catch` caught. */
  readonly cleanupError?: StepError;
}

/** What the state machine sends the report handler. */
export interface RecoveryReportEvent {
  readonly workflow: 'recovery-test';
  /** `$$.Execution.Id`. */
  readonly executionId: string;
  /** @default - the last part of `executionId` */
  readonly executionName?: string;
  /** `$$.Execution.StartTime`. */
  readonly startedAt: string;
  readonly kind: 'dump' | 'snapshot';
  /** `$`: everything the run collected. */
  readonly state: RecoveryRunState;
  /**
   * What was emulated instead of run as in AWS (set by local runs — the drill and the workflow tests — never by the
   * deployed state machine); copied into the report so that it cannot be mistaken for a run against AWS.
   * @default - none
   */
  readonly emulated?: string[];
}

/** The step a failed run stopped at, inferred from what it had collected. */
export type FailedStep = 'pick' | 'create' | 'wait' | 'restore' | 'verify' | 'report-input';

/** Durations measured by the run, seconds. */
export interface RecoveryTimings {
  /** From the start of the scratch creation (or snapshot restore) to the database being available. */
  readonly provisionSeconds?: number;
  /** pg_restore of the dump (dumps only; for snapshots the restore is part of provisioning). */
  readonly restoreSeconds?: number;
  readonly verifySeconds?: number;
  /**
   * RTO actual: provisioning + restore + verify, i.e. from the start of the scratch creation to the verification
   * done, without the gaps between steps (state transitions, Lambda start-up: typically seconds). Only when the
   * verification ran.
   */
  readonly rtoSeconds?: number;
}

/** The cleanup's result in the report. */
export interface CleanupSummary {
  readonly status: 'done' | 'failed';
  /** One line per branch: `database cdkbdr-rt-…: gone`. */
  readonly results: readonly string[];
  readonly error?: { readonly error: string; readonly cause?: string };
}

/** The JSON document written for every recovery test. */
export interface RecoveryTestReport {
  readonly schemaVersion: typeof RECOVERY_REPORT_SCHEMA_VERSION;
  readonly workflow: 'recovery-test';
  readonly source: string;
  readonly status: RunStatus;
  /** Why the test failed, one line each; empty when it succeeded. */
  readonly failureReasons: readonly string[];
  /** The step the run stopped at, when a step failed. */
  readonly failedStep?: FailedStep;
  readonly executionId: string;
  readonly executionName: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly kind: 'dump' | 'snapshot';
  readonly selection?: JsonObject;
  /** The backup restored (recovery-pick's result), when one was picked. */
  readonly backup?: JsonObject;
  /** The data age at test time (RPO actual), seconds. */
  readonly dataAgeSeconds?: number;
  readonly rpoSeconds?: number;
  readonly scratch?: {
    readonly identifier?: string;
    readonly resource?: string;
    readonly secretName?: string;
    readonly endpoint?: unknown;
    readonly engineVersion?: unknown;
  };
  readonly timings: RecoveryTimings;
  readonly checks: readonly ReportCheck[];
  readonly cleanup: CleanupSummary;
  readonly error?: { readonly error: string; readonly cause?: string };
  readonly emulated?: readonly string[];
}

/** A validated {@link RecoveryReportEvent}. */
export interface RecoveryRunSummary {
  readonly executionId: string;
  readonly executionName: string;
  readonly startedAt: string;
  readonly kind: 'dump' | 'snapshot';
  readonly state: RecoveryRunState;
  readonly emulated: string[];
}

function optionalRecord(value: unknown, field: string): JsonObject | undefined {
  return value === undefined || value === null ? undefined : expectObject(value, field);
}

function parseStepError(value: unknown, field: string): StepError | undefined {
  if (value === undefined || value === null) return undefined;
  const error = expectObject(value, field);
  if (error.Cause !== undefined && typeof error.Cause !== 'string') throw new InvalidInput(`${field}.Cause must be a string`);
  return { Error: expectString(error.Error, `${field}.Error`), ...(typeof error.Cause === 'string' ? { Cause: error.Cause } : {}) };
}

/**
 * Validates what the state machine sent.
 *
 * @throws InvalidInput naming the field and what to change.
 */
export function parseRecoveryReportEvent(event: unknown): RecoveryRunSummary {
  const input = expectObject(event, 'event');
  expectOneOf(input.workflow, 'workflow', ['recovery-test'] as const);
  const executionId = expectString(input.executionId, 'executionId');
  const executionName = optionalString(input.executionName, 'executionName') ?? executionNameFromId(executionId);
  const startedAt = expectTimestamp(input.startedAt, 'startedAt').toISOString();
  const kind = expectOneOf(input.kind, 'kind', ['dump', 'snapshot'] as const);
  const raw = expectObject(input.state, 'state');
  let cleanup: JsonObject[] | undefined;
  if (raw.cleanup !== undefined) {
    if (!Array.isArray(raw.cleanup)) throw new InvalidInput('state.cleanup must be the array the cleanup Parallel returns');
    cleanup = raw.cleanup.map((item: unknown, i) => expectObject(item, `state.cleanup[${i}]`));
  }
  const state: RecoveryRunState = {
    ...raw,
    selection: optionalRecord(raw.selection, 'state.selection'),
    backup: optionalRecord(raw.backup, 'state.backup'),
    created: optionalRecord(raw.created, 'state.created'),
    ready: optionalRecord(raw.ready, 'state.ready'),
    restore: optionalRecord(raw.restore, 'state.restore'),
    verify: optionalRecord(raw.verify, 'state.verify'),
    error: parseStepError(raw.error, 'state.error'),
    cleanup,
    cleanupError: parseStepError(raw.cleanupError, 'state.cleanupError'),
  };
  let emulated: string[] = [];
  if (input.emulated !== undefined) {
    if (!Array.isArray(input.emulated) || input.emulated.some((e) => typeof e !== 'string')) {
      throw new InvalidInput('emulated must be an array of strings');
    }
    emulated = input.emulated as string[];
  }
  return { executionId, executionName, startedAt, kind, state, emulated };
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function secondsBetween(from: unknown, to: unknown): number | undefined {
  const a = typeof from === 'string' ? Date.parse(from) : NaN;
  const b = typeof to === 'string' ? Date.parse(to) : NaN;
  if (Number.isNaN(a) || Number.isNaN(b)) return undefined;
  return round(Math.max(0, (b - a) / 1000));
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** The durations the run measured ({@link RecoveryTimings}). */
export function measureTimings(kind: 'dump' | 'snapshot', state: RecoveryRunState): RecoveryTimings {
  const provisionSeconds = secondsBetween(state.created?.startedAt, state.ready?.availableAt);
  const restoreSeconds = kind === 'dump' ? num(state.restore?.durationSeconds) : undefined;
  const verifySeconds = num(state.verify?.durationSeconds);
  const complete = provisionSeconds !== undefined && verifySeconds !== undefined && (kind === 'snapshot' || restoreSeconds !== undefined);
  return {
    ...(provisionSeconds !== undefined ? { provisionSeconds } : {}),
    ...(restoreSeconds !== undefined ? { restoreSeconds } : {}),
    ...(verifySeconds !== undefined ? { verifySeconds } : {}),
    ...(complete ? { rtoSeconds: round(provisionSeconds + (restoreSeconds ?? 0) + verifySeconds) } : {}),
  };
}

/** The step a run with an error stopped at: the first one whose result is missing. */
export function failedStep(kind: 'dump' | 'snapshot', state: RecoveryRunState): FailedStep {
  if (!state.backup) return 'pick';
  if (!state.created) return 'create';
  if (!state.ready) return 'wait';
  if (kind === 'dump' && !state.restore) return 'restore';
  return 'verify';
}

function truncateCause(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  return cause.length > MAX_CAUSE_LENGTH ? `${cause.slice(0, MAX_CAUSE_LENGTH)}… (truncated)` : cause;
}

/** The most useful line of a Step Functions Cause: a Lambda error's `errorMessage`, else the cause itself (short). */
export function causeMessage(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { errorMessage?: unknown }).errorMessage === 'string') {
      return shorten((parsed as { errorMessage: string }).errorMessage);
    }
  } catch {
    // Not JSON: an SDK integration or States.* cause, used as it is.
  }
  return shorten(cause);
}

function shorten(text: string, limit = 500): string {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

function checksOf(verify: JsonObject | undefined): ReportCheck[] {
  const checks = verify?.checks;
  if (!Array.isArray(checks)) return [];
  return checks
    .filter((c): c is JsonObject => typeof c === 'object' && c !== null && !Array.isArray(c))
    .map((c) => ({
      name: String(c.name),
      passed: c.passed === true,
      ...(c.expected !== undefined ? { expected: c.expected } : {}),
      ...(c.actual !== undefined ? { actual: c.actual } : {}),
      ...(typeof c.detail === 'string' ? { detail: c.detail } : {}),
    }));
}

function cleanupSummary(state: RecoveryRunState): CleanupSummary {
  const results = (state.cleanup ?? []).map((r) => {
    const names = Array.isArray(r.names) ? ` ${r.names.join(', ')}` : '';
    return `${String(r.what ?? 'resource')}${names}: ${String(r.status ?? 'unknown')}`;
  });
  const failedBranch = (state.cleanup ?? []).find((r) => r.status !== 'gone');
  const caught = state.cleanupError ?? (failedBranch ? branchError(failedBranch) : undefined);
  if (caught) {
    const cause = truncateCause(caught.Cause);
    return { status: 'failed', results, error: { error: caught.Error, ...(cause !== undefined ? { cause } : {}) } };
  }
  if (!state.cleanup) return { status: 'failed', results, error: { error: 'CleanupDidNotRun', cause: 'the run reached the report without a cleanup result' } };
  return { status: 'done', results };
}

/** The error a cleanup branch recorded when it gave up (`{ what, status: 'failed', error: { Error, Cause } }`). */
function branchError(result: JsonObject): StepError {
  const error = result.error;
  if (typeof error === 'object' && error !== null && !Array.isArray(error) && typeof (error as JsonObject).Error === 'string') {
    const e = error as JsonObject;
    return { Error: String(e.Error), ...(typeof e.Cause === 'string' ? { Cause: `${String(result.what)} cleanup: ${e.Cause}` } : {}) };
  }
  return { Error: 'CleanupFailed', Cause: `${String(result.what ?? 'a resource')} cleanup ended with status ${JSON.stringify(result.status)}` };
}

/**
 * Builds the report and decides the outcome. Pure: `source` and `finishedAt` are passed in.
 *
 * The test SUCCEEDED only when: no step failed, the verification ran and every check passed, the data age is within
 * the RPO (when one is configured), and the cleanup finished. Anything else is FAILED, with one reason per cause.
 */
export function buildRecoveryReport(summary: RecoveryRunSummary, context: { readonly source: string; readonly finishedAt: Date }): RecoveryTestReport {
  const { state, kind } = summary;
  const reasons: string[] = [];
  let step: FailedStep | undefined;
  if (state.error) {
    step = failedStep(kind, state);
    const message = causeMessage(state.error.Cause);
    reasons.push(`${step} failed with ${state.error.Error}${message !== undefined ? `: ${message}` : ''}`);
  }

  const checks = checksOf(state.verify);
  if (state.verify) {
    const failed = checks.filter((c) => !c.passed);
    if (state.verify.passed !== true || failed.length > 0) {
      reasons.push(
        `verification failed ${failed.length} of ${checks.length} checks: ${failed
          .slice(0, 10)
          .map((c) => `${c.name}${c.detail !== undefined ? ` (${c.detail})` : ''}`)
          .join('; ')}`,
      );
    }
  } else if (!state.error) {
    reasons.push('the verification did not run');
  }

  const backup = state.backup;
  const dataAgeSeconds = num(backup?.ageSeconds);
  const rpoSeconds = num(backup?.rpoSeconds);
  if (dataAgeSeconds !== undefined && rpoSeconds !== undefined) {
    const within = dataAgeSeconds <= rpoSeconds;
    checks.push({
      name: 'data age within RPO',
      passed: within,
      expected: `<= ${rpoSeconds} s`,
      actual: dataAgeSeconds,
      detail: within ? `the backup's data is ${dataAgeSeconds} s old` : `the newest usable backup's data is ${dataAgeSeconds} s old, more than the RPO of ${rpoSeconds} s`,
    });
    if (!within) reasons.push(`data age ${dataAgeSeconds} s exceeds the RPO of ${rpoSeconds} s`);
  }

  const cleanup = cleanupSummary(state);
  checks.push({
    name: 'cleanup',
    passed: cleanup.status === 'done',
    detail: cleanup.status === 'done' ? cleanup.results.join('; ') : `${cleanup.error?.error ?? 'failed'}: ${causeMessage(cleanup.error?.cause) ?? ''}`,
  });
  if (cleanup.status !== 'done') {
    reasons.push(`cleanup failed with ${cleanup.error?.error ?? 'an error'}: scratch resources may remain (names start with cdkbdr-rt- and cdk-backup-dr/scratch/)`);
  }

  const started = new Date(summary.startedAt);
  const created = state.created;
  const ready = state.ready;
  const errorCause = truncateCause(state.error?.Cause);
  return {
    schemaVersion: RECOVERY_REPORT_SCHEMA_VERSION,
    workflow: 'recovery-test',
    source: context.source,
    status: reasons.length === 0 ? 'SUCCEEDED' : 'FAILED',
    failureReasons: reasons,
    ...(step !== undefined ? { failedStep: step } : {}),
    executionId: summary.executionId,
    executionName: summary.executionName,
    startedAt: started.toISOString(),
    finishedAt: context.finishedAt.toISOString(),
    durationSeconds: Math.max(0, Math.round((context.finishedAt.getTime() - started.getTime()) / 10) / 100),
    kind,
    ...(state.selection ? { selection: state.selection } : {}),
    ...(backup ? { backup } : {}),
    ...(dataAgeSeconds !== undefined ? { dataAgeSeconds } : {}),
    ...(rpoSeconds !== undefined ? { rpoSeconds } : {}),
    ...(created || ready
      ? {
          scratch: {
            ...(str(created?.identifier) ? { identifier: str(created?.identifier) } : {}),
            ...(str(created?.resource) ? { resource: str(created?.resource) } : {}),
            ...(str(created?.secretName) ? { secretName: str(created?.secretName) } : {}),
            ...(ready?.endpoint !== undefined ? { endpoint: ready.endpoint } : {}),
            ...(ready?.engineVersion !== undefined ? { engineVersion: ready.engineVersion } : {}),
          },
        }
      : {}),
    timings: measureTimings(kind, state),
    checks,
    cleanup,
    ...(state.error ? { error: { error: state.error.Error, ...(errorCause !== undefined ? { cause: errorCause } : {}) } } : {}),
    ...(summary.emulated.length > 0 ? { emulated: summary.emulated } : {}),
  };
}

/** `reports/recovery-test/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`, dated by the run's start (UTC). */
export function recoveryReportKey(report: Pick<RecoveryTestReport, 'startedAt' | 'executionName'>): string {
  return datedReportKey(RECOVERY_REPORT_PREFIX, report.startedAt, report.executionName);
}

/**
 * The metrics of a test: RecoveryTestSucceeded (1/0) always; BackupAgeSeconds when a backup was picked (the data
 * age at test time); RestoreDurationSeconds (RTO actual) only for a test that succeeded, so an alarm on it never
 * sees the short duration of a restore that failed early.
 */
export function recoveryTestMetrics(report: RecoveryTestReport): MetricDatum[] {
  const metrics: MetricDatum[] = [{ name: RECOVERY_TEST_METRICS.succeeded, unit: 'Count', value: report.status === 'SUCCEEDED' ? 1 : 0 }];
  if (report.dataAgeSeconds !== undefined) metrics.push({ name: RECOVERY_TEST_METRICS.backupAgeSeconds, unit: 'Seconds', value: report.dataAgeSeconds });
  if (report.status === 'SUCCEEDED' && report.timings.rtoSeconds !== undefined) {
    metrics.push({ name: RECOVERY_TEST_METRICS.restoreDurationSeconds, unit: 'Seconds', value: report.timings.rtoSeconds });
  }
  return metrics;
}

/** The SNS notification of a test. */
export interface RecoveryNotification {
  /** At most 100 characters (SNS's limit), ASCII. */
  readonly subject: string;
  /** JSON text. */
  readonly message: string;
}

/** The subject and message published to the notification topic. */
export function recoveryNotification(report: RecoveryTestReport, reportKey: string, bucket: string): RecoveryNotification {
  const subject = `cdk-backup-dr recovery test ${report.status}: ${report.source}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
  const message = {
    workflow: 'recovery-test',
    status: report.status,
    source: report.source,
    executionId: report.executionId,
    report: `s3://${bucket}/${reportKey}`,
    ...(report.backup ? { backup: report.backup.id, dataAsOf: report.backup.dataAsOf } : {}),
    ...(report.dataAgeSeconds !== undefined ? { dataAgeSeconds: report.dataAgeSeconds } : {}),
    ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
    checks: { total: report.checks.length, failed: report.checks.filter((c) => !c.passed).length },
    cleanup: report.cleanup.status,
    ...(report.failureReasons.length > 0 ? { failureReasons: report.failureReasons } : {}),
    ...(report.emulated ? { emulated: true } : {}),
  };
  return { subject, message: JSON.stringify(message, null, 2) };
}
