/**
 * What the reports of the two recovery workflows (lib/recovery-test/ RecoveryTest and lib/failover/ Failover) have in common. Both state
 * machines collect each step's result in `$`, catch a failed step into `$.error`, clean up with a `Parallel` whose
 * own failure lands in `$.cleanupError`, verify with the same Lambdas (restore-verify, recovery-verify) and end in a
 * report handler whose result they publish and end by. What decides the outcome (the steps, the RPO, what the cleanup
 * means) differs and stays in ./recovery-report and ./failover-report. Pure.
 */
import { InvalidInput, MissingConfiguration } from '../common/errors';
import { FormattedNotification, NotificationDetail, formatNotification } from './notification';
import {
  ReportContext,
  ReportedExecution,
  RunStatus,
  StepError,
  executionFields,
  parseReportEnvelope,
  parseStepError,
  reportedError,
} from './run-report';
import { JsonObject, clip, expectObject } from '../common/validate';

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

/** `$` of the execution when it reaches the report: the parts both workflows have (each step adds its result). */
export interface CollectedRunState extends JsonObject {
  /** What a `Catch` caught before the cleanup. */
  readonly error?: StepError;
  /** The cleanup `Parallel`'s output: one result per branch (`{ what, names, status }`). */
  readonly cleanup?: JsonObject[];
  /** What the cleanup's `Catch` caught. */
  readonly cleanupError?: StepError;
  /** restore-verify's / recovery-verify's result. */
  readonly verify?: JsonObject;
}

function optionalRecord(value: unknown, field: string): JsonObject | undefined {
  return value === undefined || value === null ? undefined : expectObject(value, field);
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
 * Validates a recovery workflow's report event in the event's order: the envelope ({@link parseReportEnvelope}), the
 * workflow's `own` fields, the `state` (with `stepResults`, {@link parseCollectedState}), then `emulated`.
 *
 * @throws InvalidInput naming the field
 */
export function parseCollectedRun<S extends CollectedRunState, T extends object>(
  event: unknown,
  workflow: string,
  stepResults: readonly string[],
  own: (input: JsonObject) => T,
): CollectedRun<S> & T {
  const { input, execution } = parseReportEnvelope(event, workflow);
  const fields = own(input);
  const state = parseCollectedState<S>(input.state, stepResults);
  return { ...execution, ...fields, state, emulated: parseEmulated(input.emulated) };
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

/** The fields every recovery workflow's report document has. */
export interface WorkflowReportBase {
  readonly source: string;
  readonly status: RunStatus;
  /** Why the run failed, one line each; empty when it succeeded. */
  readonly failureReasons: readonly string[];
  readonly executionId: string;
  readonly executionName: string;
  /** ISO-8601 UTC. */
  readonly startedAt: string;
  /** ISO-8601 UTC: when the report was built. */
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly checks: readonly ReportCheck[];
  readonly error?: { readonly error: string; readonly cause?: string };
  readonly emulated?: readonly string[];
}

/** A validated report event: the execution, what it collected and what was emulated. */
export interface CollectedRun<S extends CollectedRunState = CollectedRunState> extends ReportedExecution {
  readonly state: S;
  readonly emulated: string[];
}

/** How a run went: one failure reason per cause, the step a caught error stopped it at, the checks. */
export interface RunVerdict<Step extends string> {
  readonly reasons: string[];
  readonly step?: Step;
  readonly checks: ReportCheck[];
}

/**
 * The verdict both workflows start from: the step a caught error stopped the run at (`failedStep` says which) and the
 * verification's checks, which fail the run unless they passed. Each workflow then adds its own checks and reasons.
 */
export function judgeSteps<Step extends string>(state: CollectedRunState, failedStep: () => Step): RunVerdict<Step> {
  const reasons: string[] = [];
  let step: Step | undefined;
  if (state.error) {
    step = failedStep();
    reasons.push(stepFailureReason(step, state.error));
  }
  const checks = reportChecks(state.verify);
  const verification = verificationFailure(state.verify, checks, state.error !== undefined);
  if (verification !== undefined) reasons.push(verification);
  return { reasons, ...(step !== undefined ? { step } : {}), checks };
}

/** What {@link reportHead} returns. */
export type ReportHead<Step extends string> = Pick<
  WorkflowReportBase,
  'source' | 'status' | 'failureReasons' | 'executionId' | 'executionName' | 'startedAt' | 'finishedAt' | 'durationSeconds'
> & { readonly failedStep?: Step };

/** The report's fields before the workflow's own: the source, the outcome `verdict` decides, the failed step, the execution. */
export function reportHead<Step extends string>(run: CollectedRun, context: ReportContext, verdict: RunVerdict<Step>): ReportHead<Step> {
  return {
    source: context.source,
    status: verdict.reasons.length === 0 ? 'SUCCEEDED' : 'FAILED',
    failureReasons: verdict.reasons,
    ...(verdict.step !== undefined ? { failedStep: verdict.step } : {}),
    ...executionFields(run, context.finishedAt),
  };
}

/** The report's last fields: what the run's `Catch` caught and what was emulated. */
export function reportTail(run: CollectedRun) {
  return {
    ...(run.state.error ? { error: reportedError(run.state.error) } : {}),
    ...(run.emulated.length > 0 ? { emulated: run.emulated } : {}),
  };
}

/** The SNS notification of a run: subject, message (one body per protocol) and message attributes (./notification). */
export type ReportNotification = FormattedNotification;

/** What a run's notification says besides its report: the workflow's words for it and its own facts. */
export interface RunNotificationFields {
  /** The workflow as a person reads it: `recovery test`, `failover rehearsal`. */
  readonly what: string;
  /** The step the run stopped at, when one failed. */
  readonly failedAt?: string;
  /** What to do next. */
  readonly nextStep: string;
  /** Facts before the source (e.g. the failover mode). */
  readonly lead?: Readonly<Record<string, NotificationDetail | undefined>>;
  /** The workflow's facts before the checks' count. */
  readonly before: Readonly<Record<string, NotificationDetail | undefined>>;
  /** The workflow's facts after it. */
  readonly after: Readonly<Record<string, NotificationDetail | undefined>>;
}

/**
 * The SNS notification of a run ({@link formatNotification}): the failure reasons are the cause; the details are the
 * outcome's `lead`, the workflow's `before` fields, the checks' count, its `after` fields, the failure reasons and
 * whether anything was emulated.
 */
export function runNotification(
  report: WorkflowReportBase & { readonly workflow: string },
  where: { readonly bucket: string; readonly reportKey: string },
  fields: RunNotificationFields,
): ReportNotification {
  return formatNotification({
    workflow: report.workflow,
    what: fields.what,
    status: report.status,
    source: report.source,
    executionId: report.executionId,
    report: { bucket: where.bucket, key: where.reportKey },
    ...(fields.failedAt !== undefined ? { failedAt: fields.failedAt } : {}),
    ...(report.failureReasons.length > 0 ? { cause: report.failureReasons.join('; ') } : {}),
    nextStep: fields.nextStep,
    details: {
      ...fields.lead,
      ...fields.before,
      checks: { total: report.checks.length, failed: report.checks.filter((c) => !c.passed).length },
      ...fields.after,
      ...(report.failureReasons.length > 0 ? { failureReasons: report.failureReasons } : {}),
      ...(report.emulated ? { emulated: true } : {}),
    },
  });
}

/** The recovery time objective a run is judged by (the construct's `rto`). */
export interface RtoTarget {
  readonly seconds: number;
  /** Whether a measured RTO above it fails the run; when false it is a failed check only. */
  readonly enforced: boolean;
}

/**
 * The RTO target from the handler's environment (`RTO_SECONDS`, `RTO_ENFORCED` = `true` | `false`); none when
 * `RTO_SECONDS` is not set.
 *
 * @throws MissingConfiguration when a value is malformed
 */
export function parseRtoTarget(seconds: string | undefined, enforced: string | undefined): RtoTarget | undefined {
  if (seconds === undefined || seconds === '') return undefined;
  const value = Number(seconds);
  if (!Number.isFinite(value) || value <= 0) throw new MissingConfiguration(`environment variable RTO_SECONDS must be a positive number of seconds, got ${JSON.stringify(seconds)}`);
  if (enforced !== undefined && enforced !== 'true' && enforced !== 'false') {
    throw new MissingConfiguration(`environment variable RTO_ENFORCED must be "true" or "false", got ${JSON.stringify(enforced)}`);
  }
  return { seconds: value, enforced: enforced !== 'false' };
}

/**
 * The RTO check of a run whose RTO was measured (`rtoSeconds`): passed when it is within the target. The reason is
 * set when it failed and the target is enforced (the run then ends FAILED). No check without a target or a measured
 * RTO (a run that stopped before the verification failed for that reason already).
 */
export function judgeRto(rtoSeconds: number | undefined, target: RtoTarget | undefined): { readonly check?: ReportCheck; readonly reason?: string } {
  if (target === undefined || rtoSeconds === undefined) return {};
  const passed = rtoSeconds <= target.seconds;
  const exceeded = `the measured RTO of ${rtoSeconds} s exceeds the target of ${target.seconds} s`;
  return {
    check: {
      name: 'RTO within target',
      passed,
      expected: `<= ${target.seconds} s`,
      actual: rtoSeconds,
      detail: passed ? `recovered in ${rtoSeconds} s` : target.enforced ? exceeded : `${exceeded} (not enforced: the run's outcome ignores it)`,
    },
    ...(!passed && target.enforced ? { reason: exceeded } : {}),
  };
}

/** What a report handler returns (the state machine publishes `subject`/`message` and ends by `status`). */
export interface ReportHandlerResult {
  readonly status: RunStatus;
  /** Key of the report in BUCKET_NAME. */
  readonly reportKey: string;
  readonly versionId?: string;
  readonly subject: string;
  /** The message, a `MessageStructure: json` document (./notification). */
  readonly message: string;
  /** The message attributes (NOTIFICATION_ATTRIBUTES of ./notification). */
  readonly attributes: ReportNotification['attributes'];
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
    attributes: notification.attributes,
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
