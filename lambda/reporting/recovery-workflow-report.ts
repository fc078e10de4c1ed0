/**
 * What the reports of the two recovery workflows (lib/recovery/: RecoveryTest and Failover) have in common. Both state
 * machines collect each step's result in `$`, catch a failed step into `$.error`, clean up with a `Parallel` whose
 * own failure lands in `$.cleanupError`, verify with the same Lambdas (restore-verify, recovery-verify) and end in a
 * report handler whose result they publish and end by. What decides the outcome (the steps, the RPO, what the cleanup
 * means) differs and stays in ./recovery-report and ./failover-report. Pure.
 */
import { InvalidInput } from '../common/errors';
import { RunStatus, StepError, executionNameFromId, reportedError } from './backup-report';
import { JsonObject, clip, expectObject, expectOneOf, expectString, expectTimestamp, optionalString } from '../common/validate';

/** The fields of a recovery workflow's report event besides `workflow`, `state` and the workflow's own. */
export interface ReportEventBase {
  /** `$$.Execution.Id`. */
  readonly executionId: string;
  /** @default - the last part of `executionId` */
  readonly executionName?: string;
  /** `$$.Execution.StartTime`. */
  readonly startedAt: string;
  /**
   * What was emulated instead of run as in AWS (set by local runs — the drill and the workflow tests — never by the
   * deployed state machine); copied into the report so that it cannot be mistaken for a run against AWS.
   * @default - none
   */
  readonly emulated?: string[];
}

/** The execution a report is about, validated. */
export interface ReportedExecution {
  readonly executionId: string;
  readonly executionName: string;
  /** ISO-8601 UTC. */
  readonly startedAt: string;
}

/** `$` of the execution when it reaches the report: the parts both workflows have (each step adds its result). */
export interface CollectedRunState extends JsonObject {
  /** What a `Catch` caught before the cleanup. */
  readonly error?: StepError;
  /** The cleanup `Parallel`'s output: one result per branch (`{ what, names, status }`). */
  readonly cleanup?: JsonObject[];
  /** What the cleanup's `Catch` caught. */
  readonly cleanupError?: StepError;
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
 * Validates the event's `workflow` and which execution it is about. Returns the event as an object too, for the
 * workflow's own fields (validated next, before the state, so that errors come in the event's order).
 *
 * @throws InvalidInput naming the field
 */
export function parseReportEnvelope(event: unknown, workflow: string): { readonly input: JsonObject; readonly execution: ReportedExecution } {
  const input = expectObject(event, 'event');
  expectOneOf(input.workflow, 'workflow', [workflow]);
  const executionId = expectString(input.executionId, 'executionId');
  const executionName = optionalString(input.executionName, 'executionName') ?? executionNameFromId(executionId);
  const startedAt = expectTimestamp(input.startedAt, 'startedAt').toISOString();
  return { input, execution: { executionId, executionName, startedAt } };
}

/**
 * Validates `state`: each of `stepResults` must be an object when present (null counts as absent), the errors must be
 * `{ Error, Cause? }` and the cleanup an array of objects. Other fields are kept as they are.
 *
 * @throws InvalidInput naming the field
 */
export function parseCollectedState<S extends CollectedRunState>(value: unknown, stepResults: readonly string[]): S {
  const raw = expectObject(value, 'state');
  let cleanup: JsonObject[] | undefined;
  if (raw.cleanup !== undefined) {
    if (!Array.isArray(raw.cleanup)) throw new InvalidInput('state.cleanup must be the array the cleanup Parallel returns');
    cleanup = raw.cleanup.map((item: unknown, i) => expectObject(item, `state.cleanup[${i}]`));
  }
  const state: JsonObject = { ...raw };
  for (const name of stepResults) state[name] = optionalRecord(raw[name], `state.${name}`);
  return {
    ...state,
    error: parseStepError(raw.error, 'state.error'),
    cleanup,
    cleanupError: parseStepError(raw.cleanupError, 'state.cleanupError'),
  } as S;
}

/**
 * Validates the event's `emulated` ({@link ReportEventBase.emulated}); none when absent.
 *
 * @throws InvalidInput when it is not an array of strings
 */
export function parseEmulated(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((e) => typeof e !== 'string')) throw new InvalidInput('emulated must be an array of strings');
  return value as string[];
}

/** `value` when it is a finite number. */
export function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** `value` when it is a non-empty string. */
export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Seconds rounded to the millisecond. */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Seconds from one ISO-8601 timestamp to another (0 when `to` is earlier); undefined unless both parse. */
export function secondsBetween(from: unknown, to: unknown): number | undefined {
  const a = typeof from === 'string' ? Date.parse(from) : Number.NaN;
  const b = typeof to === 'string' ? Date.parse(to) : Number.NaN;
  if (Number.isNaN(a) || Number.isNaN(b)) return undefined;
  return roundSeconds(Math.max(0, (b - a) / 1000));
}

/** Longest cause message {@link causeMessage} returns. */
const CAUSE_MESSAGE_LENGTH = 500;

/** The most useful line of a Step Functions Cause: a Lambda error's `errorMessage`, else the cause itself (short). */
export function causeMessage(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { errorMessage?: unknown }).errorMessage === 'string') {
      return clip((parsed as { errorMessage: string }).errorMessage, CAUSE_MESSAGE_LENGTH);
    }
  } catch {
    // Not JSON: an SDK integration or States.* cause, used as it is.
  }
  return clip(cause, CAUSE_MESSAGE_LENGTH);
}

/** The failure reason of the step a run stopped at: `<step> failed with <Error>: <the cause's message>`. */
export function stepFailureReason(step: string, caught: StepError): string {
  const message = causeMessage(caught.Cause);
  return `${step} failed with ${caught.Error}${message !== undefined ? `: ${message}` : ''}`;
}

/** One check of the verification, as a report lists it. */
export interface ReportCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly expected?: unknown;
  readonly actual?: unknown;
  readonly detail?: string;
}

/** The checks in a verify Lambda's result (`$.verify`); items that are not objects are left out. */
export function reportChecks(verify: JsonObject | undefined): ReportCheck[] {
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

/**
 * Why the verification fails the run, or undefined when it passed. A verification that did not run fails the run
 * only when no step failed: a step that failed is the reason already.
 */
export function verificationFailure(verify: JsonObject | undefined, checks: readonly ReportCheck[], stepFailed: boolean): string | undefined {
  if (!verify) return stepFailed ? undefined : 'the verification did not run';
  const failed = checks.filter((c) => !c.passed);
  if (verify.passed === true && failed.length === 0) return undefined;
  return `verification failed ${failed.length} of ${checks.length} checks: ${failed
    .slice(0, 10)
    .map((c) => `${c.name}${c.detail !== undefined ? ` (${c.detail})` : ''}`)
    .join('; ')}`;
}

/** The report's fields that say which execution it was and how long it ran, until `finishedAt` (when the report was built). */
export function executionFields(execution: ReportedExecution, finishedAt: Date) {
  const started = new Date(execution.startedAt);
  return {
    executionId: execution.executionId,
    executionName: execution.executionName,
    startedAt: started.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.max(0, Math.round((finishedAt.getTime() - started.getTime()) / 10) / 100),
  };
}

/** The SNS notification of a run. */
export interface ReportNotification {
  /** At most 100 characters (SNS's limit), ASCII. */
  readonly subject: string;
  /** JSON text. */
  readonly message: string;
}

/** `text` as an SNS subject: printable ASCII (anything else becomes `?`), at most 100 characters. */
export function notificationSubject(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}

/** What a report handler returns (the state machine publishes `subject`/`message` and ends by `status`). */
export interface ReportHandlerResult {
  readonly status: RunStatus;
  /** Key of the report in BUCKET_NAME. */
  readonly reportKey: string;
  readonly versionId?: string;
  readonly subject: string;
  readonly message: string;
  /** The failure reasons joined (empty on success), for the `Fail` state's cause. */
  readonly cause: string;
}

/** The handler's result for a report written under `reportKey` (as version `versionId` in a versioned bucket). */
export function reportHandlerResult(
  report: { readonly status: RunStatus; readonly failureReasons: readonly string[] },
  written: { readonly reportKey: string; readonly versionId?: string },
  notification: ReportNotification,
): ReportHandlerResult {
  return {
    status: report.status,
    reportKey: written.reportKey,
    ...(written.versionId ? { versionId: written.versionId } : {}),
    subject: notification.subject,
    message: notification.message,
    cause: report.failureReasons.join('; ').slice(0, 32_000),
  };
}

/** The cleanup's result in a report. */
export interface CleanupSummary {
  readonly status: 'done' | 'failed';
  /** One line per branch: `database cdkbdr-rt-…: gone`. */
  readonly results: readonly string[];
  readonly error?: { readonly error: string; readonly cause?: string };
}

/**
 * Judges the cleanup `Parallel`'s output: done only when it ran and every branch ended `gone`. A branch that gave up
 * (`{ what, status: 'failed', error }`) or a failure the cleanup's `Catch` caught makes it failed.
 */
export function cleanupSummary(state: Pick<CollectedRunState, 'cleanup' | 'cleanupError'>): CleanupSummary {
  const results = (state.cleanup ?? []).map((r) => {
    const names = Array.isArray(r.names) ? ` ${r.names.join(', ')}` : '';
    return `${String(r.what ?? 'resource')}${names}: ${String(r.status ?? 'unknown')}`;
  });
  const failedBranch = (state.cleanup ?? []).find((r) => r.status !== 'gone');
  const caught = state.cleanupError ?? (failedBranch ? branchError(failedBranch) : undefined);
  if (caught) return { status: 'failed', results, error: reportedError(caught) };
  if (!state.cleanup) return { status: 'failed', results, error: { error: 'CleanupDidNotRun', cause: 'the run reached the report without a cleanup result' } };
  return { status: 'done', results };
}

/**
 * The cleanup as the report's `cleanup` check, and the run's failure reason when it failed; `leftovers` says what
 * may remain (e.g. `scratch resources may remain (names start with …)`).
 */
export function judgeCleanup(cleanup: CleanupSummary, leftovers: string): { readonly check: ReportCheck; readonly reason?: string } {
  const done = cleanup.status === 'done';
  return {
    check: {
      name: 'cleanup',
      passed: done,
      detail: done ? cleanup.results.join('; ') : `${cleanup.error?.error ?? 'failed'}: ${causeMessage(cleanup.error?.cause) ?? ''}`,
    },
    ...(done ? {} : { reason: `cleanup failed with ${cleanup.error?.error ?? 'an error'}: ${leftovers}` }),
  };
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
