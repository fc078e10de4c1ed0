/**
 * The failover report: what a Failover execution collected, turned into the outcome, the JSON document written to
 * `reports/failover/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` (the audit evidence, and the previous values a
 * failback puts back), its metrics and the SNS message. Pure; lambda/reporting/failover-report.handler.ts does the I/O.
 *
 * A run SUCCEEDED only when no step failed, the checks ran and passed, a real failover repointed every configured
 * target, a dry run's cleanup finished, and the measured RTO was within the target (when one is set and enforced).
 * Anything else is FAILED, with one reason per cause.
 */
import { InvalidInput } from '../common/errors';
import {
  CleanupSummary,
  CollectedRun,
  CollectedRunState,
  ReportCheck,
  ReportEventBase,
  ReportNotification,
  WorkflowReportBase,
  cleanupSummary,
  judgeCleanup,
  judgeRto,
  judgeSteps,
  finiteNumber,
  nonEmptyString,
  parseCollectedRun,
  reportHead,
  reportTail,
  roundSeconds,
  runNotification,
  secondsBetween,
  type RtoTarget,
} from './recovery-workflow-report';
import { MetricDatum } from './backup-report';
import { ReportContext, datedReportKey } from './run-report';
import { JsonObject } from '../common/validate';
import { FAILOVER_REPORT_PREFIX } from '../common/names';
import { FAILOVER_METRICS } from '../common/metrics';
import type { NotificationDetail } from './notification';

export type { MetricDatum } from './backup-report';
export type { RunStatus, StepError } from './run-report';

/** Version of the failover report's shape. */
export const FAILOVER_REPORT_SCHEMA_VERSION = 1;

/** Dimension values of `Mode`: a dry run rehearses, the real thing fails over. */
export type FailoverMode = 'rehearsal' | 'failover';

/** The step a failed run stopped at. */
export type FailoverStep =
  | 'validate'
  | 'preflight'
  | 'replica-lag'
  | 'promote'
  | 'create'
  | 'wait'
  | 'set-password'
  | 'confirm-writable'
  | 'restore'
  | 'verify'
  | 'repoint';

/** `$` of the execution when it reaches the report: each field is present once its step has run. */
export interface FailoverRunState extends CollectedRunState {
  /** The execution input as given. */
  readonly input?: unknown;
  readonly request?: JsonObject;
  readonly plan?: JsonObject;
  readonly lag?: JsonObject;
  readonly promotion?: JsonObject;
  readonly created?: JsonObject;
  readonly password?: JsonObject;
  readonly database?: JsonObject;
  readonly writable?: JsonObject;
  readonly restore?: JsonObject;
  readonly verify?: JsonObject;
  readonly repoint?: JsonObject;
}

/** The fields of {@link FailoverRunState} that hold a step's result. */
const STEP_RESULTS = ['request', 'plan', 'lag', 'promotion', 'created', 'password', 'database', 'writable', 'restore', 'verify', 'repoint'] as const;

/** What the state machine sends the report handler. */
export interface FailoverReportEvent extends ReportEventBase {
  readonly workflow: 'failover';
  /** Whether the construct configured repoint targets (a real failover must then repoint). */
  readonly repointConfigured: boolean;
  readonly state: FailoverRunState;
}

/** A validated {@link FailoverReportEvent}. */
export interface FailoverRunSummary extends CollectedRun<FailoverRunState> {
  readonly repointConfigured: boolean;
}

/** Durations measured by the run, seconds. */
export interface FailoverTimings {
  /** From the create (or promote) call to the database being available. */
  readonly provisionSeconds?: number;
  readonly restoreSeconds?: number;
  readonly verifySeconds?: number;
  readonly repointSeconds?: number;
  /**
   * The measured RTO: from the start of the execution to the database being available, plus the restore, the verify
   * and (real failovers) the repoint. Gaps between those steps (state transitions, Lambda start-up) are not counted.
   */
  readonly rtoSeconds?: number;
}

/** One check, as in the report. */
export type FailoverCheck = ReportCheck;

/** The failover report document. */
export interface FailoverReport extends WorkflowReportBase {
  readonly schemaVersion: typeof FAILOVER_REPORT_SCHEMA_VERSION;
  readonly workflow: 'failover';
  /** `rehearsal` (dry run) or `failover`; absent when the input was invalid. */
  readonly mode?: FailoverMode;
  readonly failedStep?: FailoverStep;
  /** The validated request, or the input as given when it was refused. */
  readonly request?: JsonObject;
  readonly input?: unknown;
  readonly plan?: JsonObject;
  /** The recovery point used, with its data age. */
  readonly recoveryPoint?: JsonObject;
  /** How much data the failover loses (or, rehearsed, would lose): the recovery point's age, seconds. */
  readonly dataLossWindowSeconds?: number;
  /** The database that serves (or, rehearsed, would serve) after the failover. */
  readonly database?: {
    readonly identifier?: string;
    readonly kind?: string;
    readonly endpoint?: unknown;
    readonly secretArn?: string;
    readonly secretName?: string;
  };
  readonly promotion?: JsonObject;
  readonly timings: FailoverTimings;
  /** The construct's `rto`, when set. */
  readonly rtoTargetSeconds?: number;
  readonly checks: readonly FailoverCheck[];
  /** Real failovers: what was repointed, with the previous values that a failback restores. */
  readonly repoint?: { readonly changes: readonly JsonObject[]; readonly at?: string };
  /** Dry runs: the cleanup of what the rehearsal created. */
  readonly cleanup?: CleanupSummary | { readonly status: 'not-needed'; readonly results: readonly string[] };
  /** Real failovers: what now exists in the DR region and stays (the new primary and its credentials). */
  readonly resourcesKept?: readonly string[];
  /** How to go back, in words (real failovers). */
  readonly failback?: readonly string[];
}

/**
 * Validates what the state machine sent.
 *
 * @throws InvalidInput naming the field
 */
export function parseFailoverReportEvent(event: unknown): FailoverRunSummary {
  return parseCollectedRun<FailoverRunState, { repointConfigured: boolean }>(event, 'failover', STEP_RESULTS, (input) => {
    if (typeof input.repointConfigured !== 'boolean') throw new InvalidInput('repointConfigured must be true or false');
    return { repointConfigured: input.repointConfigured };
  });
}

function obj(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** The step a run with an error stopped at: the first one whose result is missing. */
export function failedFailoverStep(state: FailoverRunState): FailoverStep {
  if (!state.request) return 'validate';
  if (!state.plan) return 'preflight';
  const strategy = state.plan.strategy;
  const dryRun = state.plan.dryRun === true;
  if (strategy === 'promote-replica') {
    if (!state.lag) return 'replica-lag';
    if (!dryRun) {
      if (!state.promotion) return 'promote';
      if (!state.database) return 'wait';
      if (!state.writable) return 'confirm-writable';
    }
  } else {
    if (!state.created) return 'create';
    if (strategy !== 'restore-dump' && !state.password) return state.database ? 'set-password' : 'wait';
    if (!state.database) return 'wait';
    if (strategy === 'restore-dump' && !state.restore) return 'restore';
  }
  if (!state.verify) return 'verify';
  return 'repoint';
}

/** The durations the run measured ({@link FailoverTimings}). */
export function measureFailoverTimings(state: FailoverRunState, startedAt: string, dryRun: boolean): FailoverTimings {
  const provisionStart = state.created?.startedAt ?? state.promotion?.startedAt;
  const provisionSeconds = secondsBetween(provisionStart, state.database?.availableAt);
  const restoreSeconds = finiteNumber(state.restore?.durationSeconds);
  const verifySeconds = finiteNumber(state.verify?.durationSeconds);
  const repointSeconds = finiteNumber(state.repoint?.durationSeconds);
  const untilAvailable = secondsBetween(startedAt, state.database?.availableAt);
  const needsRestore = state.plan?.strategy === 'restore-dump';
  const complete =
    untilAvailable !== undefined && verifySeconds !== undefined && (!needsRestore || restoreSeconds !== undefined) && (dryRun || repointSeconds !== undefined || state.repoint === undefined);
  return {
    ...(provisionSeconds !== undefined ? { provisionSeconds } : {}),
    ...(restoreSeconds !== undefined ? { restoreSeconds } : {}),
    ...(verifySeconds !== undefined ? { verifySeconds } : {}),
    ...(repointSeconds !== undefined ? { repointSeconds } : {}),
    ...(complete ? { rtoSeconds: roundSeconds(untilAvailable + (restoreSeconds ?? 0) + verifySeconds + (dryRun ? 0 : (repointSeconds ?? 0))) } : {}),
  };
}

/**
 * Builds the report and decides the outcome. Pure: `source`, `finishedAt` and where the report goes are passed in.
 */
export function buildFailoverReport(summary: FailoverRunSummary, context: ReportContext, rto?: RtoTarget): FailoverReport {
  const { state } = summary;
  const request = state.request;
  const plan = state.plan;
  const dryRun = (plan?.dryRun ?? request?.dryRun) === true;
  const mode: FailoverMode | undefined = request ? (dryRun ? 'rehearsal' : 'failover') : undefined;
  const verdict = judgeSteps(state, () => failedFailoverStep(state));
  const { reasons, checks } = verdict;

  const verified = state.verify?.passed === true;
  if (request && !dryRun && summary.repointConfigured && verified && !state.error && !state.repoint) {
    reasons.push('the repoint did not run: the application still points at the old endpoint');
  }

  // The recovery point: for a replica, the one with the measured lag.
  const recoveryPoint = obj(state.lag?.recoveryPoint) ?? obj(plan?.recoveryPoint);
  const dataLossWindowSeconds = finiteNumber(recoveryPoint?.ageSeconds);
  const rpoSeconds = finiteNumber(recoveryPoint?.rpoSeconds);
  if (recoveryPoint && rpoSeconds !== undefined) {
    const within = dataLossWindowSeconds !== undefined && dataLossWindowSeconds <= rpoSeconds;
    checks.push({
      name: 'data age within RPO',
      passed: within || plan?.acceptDataLoss === true,
      expected: `<= ${rpoSeconds} s`,
      ...(dataLossWindowSeconds !== undefined ? { actual: dataLossWindowSeconds } : {}),
      detail:
        dataLossWindowSeconds === undefined
          ? `data age unknown (${String(recoveryPoint.detail ?? '')})${plan?.acceptDataLoss === true ? '; accepted with acceptDataLoss' : ''}`
          : within
            ? `the recovery point's data is ${dataLossWindowSeconds} s old`
            : `the recovery point's data is ${dataLossWindowSeconds} s old, more than the RPO${plan?.acceptDataLoss === true ? '; accepted with acceptDataLoss' : ''}`,
    });
  }

  const timings = measureFailoverTimings(state, summary.startedAt, dryRun);
  const rtoVerdict = judgeRto(timings.rtoSeconds, rto);
  if (rtoVerdict.check) checks.push(rtoVerdict.check);
  if (rtoVerdict.reason) reasons.push(rtoVerdict.reason);

  // Cleanup: dry runs that created (or may have created) something.
  let cleanup: FailoverReport['cleanup'];
  const mayHaveCreated = plan !== undefined && obj(plan.names) !== undefined;
  if (dryRun && mayHaveCreated) {
    cleanup = cleanupSummary(state);
    const cleanupVerdict = judgeCleanup(cleanup, 'rehearsal resources may remain (names start with cdkbdr-fo- and cdk-backup-dr/failover/)');
    checks.push(cleanupVerdict.check);
    if (cleanupVerdict.reason) reasons.push(cleanupVerdict.reason);
  } else if (dryRun && plan !== undefined) {
    cleanup = { status: 'not-needed', results: ['the rehearsal created nothing'] };
  }

  const names = obj(plan?.names);
  const created = state.created;
  const database = state.database;
  const resourcesKept: string[] = [];
  if (!dryRun && created) {
    resourcesKept.push(
      `${String(created.resource ?? 'instance')} ${String(created.identifier ?? names?.identifier ?? '?')} (deletion protection on)`,
      `secret ${String(created.secretName ?? names?.secretName ?? '?')} (its master credentials)`,
    );
  }
  const changes = Array.isArray(state.repoint?.changes) ? (state.repoint?.changes as unknown[]).filter((c): c is JsonObject => obj(c) !== undefined) : undefined;
  const failback =
    !dryRun && request && (state.promotion || created)
      ? [
          'Fail back once the primary region is healthy: rebuild the old primary from this database (a cross-region read replica of it in the primary region, or a snapshot copied there, or a dump restored there).',
          'Stop writes, let the replica catch up, promote it in the primary region, then run the repoint back with the previous values below (or start a failover of the primary-region Failover).',
          ...(changes ?? []).map((c) => `${String(c.type)} ${String(c.name)}: set back to ${c.previous === null ? '(did not exist: delete it)' : String(c.previous)}`),
        ]
      : undefined;

  return {
    schemaVersion: FAILOVER_REPORT_SCHEMA_VERSION,
    workflow: 'failover',
    ...(mode !== undefined ? { mode } : {}),
    ...reportHead(summary, context, verdict),
    ...(request ? { request } : { input: state.input ?? null }),
    ...(plan ? { plan } : {}),
    ...(recoveryPoint ? { recoveryPoint } : {}),
    ...(dataLossWindowSeconds !== undefined ? { dataLossWindowSeconds } : {}),
    ...(database || created
      ? {
          database: {
            ...(nonEmptyString(database?.identifier ?? created?.identifier) ? { identifier: nonEmptyString(database?.identifier ?? created?.identifier) } : {}),
            ...(nonEmptyString(database?.kind ?? created?.resource) ? { kind: nonEmptyString(database?.kind ?? created?.resource) } : {}),
            ...(database?.endpoint !== undefined ? { endpoint: database.endpoint } : {}),
            ...(nonEmptyString(database?.secretArn ?? created?.secretArn) ? { secretArn: nonEmptyString(database?.secretArn ?? created?.secretArn) } : {}),
            ...(nonEmptyString(created?.secretName) ? { secretName: nonEmptyString(created?.secretName) } : {}),
          },
        }
      : {}),
    ...(state.promotion ? { promotion: state.promotion } : {}),
    timings,
    ...(rto ? { rtoTargetSeconds: rto.seconds } : {}),
    checks,
    ...(changes ? { repoint: { changes, ...(nonEmptyString(state.repoint?.at) ? { at: nonEmptyString(state.repoint?.at) } : {}) } } : {}),
    ...(cleanup ? { cleanup } : {}),
    ...(resourcesKept.length > 0 ? { resourcesKept } : {}),
    ...(failback ? { failback } : {}),
    ...reportTail(summary),
  };
}

/** `reports/failover/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`, dated by the run's start (UTC). */
export function failoverReportKey(report: Pick<FailoverReport, 'startedAt' | 'executionName'>): string {
  return datedReportKey(FAILOVER_REPORT_PREFIX, report.startedAt, report.executionName);
}

/**
 * The metrics of a run (dimensions Source and Mode): FailoverSucceeded (1/0) for every valid request;
 * DataLossWindowSeconds whenever the recovery point's age is known; FailoverDurationSeconds (the measured RTO) only
 * for a run that succeeded, so an alarm never sees the short duration of a run that failed early; FailoverRtoSeconds
 * whenever the RTO was measured, also when the run failed (e.g. for exceeding its RTO target). An invalid input
 * publishes nothing (it has no mode).
 */
export function failoverMetrics(report: FailoverReport): MetricDatum[] {
  if (report.mode === undefined) return [];
  const out: MetricDatum[] = [{ name: FAILOVER_METRICS.succeeded, unit: 'Count', value: report.status === 'SUCCEEDED' ? 1 : 0 }];
  if (report.dataLossWindowSeconds !== undefined) out.push({ name: FAILOVER_METRICS.dataLossWindowSeconds, unit: 'Seconds', value: report.dataLossWindowSeconds });
  if (report.status === 'SUCCEEDED' && report.timings.rtoSeconds !== undefined) {
    out.push({ name: FAILOVER_METRICS.durationSeconds, unit: 'Seconds', value: report.timings.rtoSeconds });
  }
  if (report.timings.rtoSeconds !== undefined) out.push({ name: FAILOVER_METRICS.rtoSeconds, unit: 'Seconds', value: report.timings.rtoSeconds });
  return out;
}

/** The SNS notification of a run. */
export type FailoverNotification = ReportNotification;

/** What to do after a run, from the first thing that went wrong. */
export function failoverNextStep(report: FailoverReport): string {
  const rehearsal = report.mode === 'rehearsal';
  if (report.mode === undefined) return 'The failover input was refused: read the failure reasons, correct the input (strategy, reason, dryRun) and start it again.';
  const cleanupLeft =
    report.cleanup?.status === 'failed'
      ? ' The cleanup failed too: delete the rehearsal database (cdkbdr-fo-…) and secret (cdk-backup-dr/failover/…) of this execution by hand.'
      : '';
  if (report.status === 'SUCCEEDED') {
    return rehearsal
      ? 'Nothing to do: the rehearsal is the evidence that a failover works; the next one is due within the rehearsal interval.'
      : `The DR database serves now${report.database?.identifier ? ` (${report.database.identifier})` : ''}: check the application, then plan the failback (the report lists the steps and the previous values).`;
  }
  if (rehearsal && report.failedStep === undefined && report.checks.some((c) => c.name === 'RTO within target' && !c.passed)) {
    return `The rehearsal took longer than the RTO: choose a faster strategy (promote a replica rather than restore), a larger instance class, or raise rto.${cleanupLeft}`;
  }
  if (!rehearsal && onlyOverRto(report)) {
    const serving = report.database?.identifier ? ` (${report.database.identifier})` : '';
    const app = report.repoint
      ? 'and the application was repointed to it'
      : 'but nothing was repointed (no repoint configured): point the application at it now';
    return (
      `The DR database is up${serving} ${app}. Do NOT run the failover again: it only took longer than the RTO. ` +
      'Check the application now; afterwards choose a faster strategy (promote a replica rather than restore) or raise rto, and plan the failback.'
    );
  }
  if (!rehearsal && repointFailed(report)) {
    const serving = report.database?.identifier ? ` (${report.database.identifier})` : '';
    return (
      `The DR database is up and verified${serving}, but the repoint failed part-way: the failure reason names the targets already ` +
      'repointed (with the values to put back when failing back), the one that failed and those not attempted. Do NOT run the failover again. ' +
      'Stop writes to the old primary, fix the cause in the report, point the remaining targets at the DR endpoint in the report by hand, ' +
      'and plan the failback.'
    );
  }
  if (rehearsal) {
    return `The rehearsal failed${report.failedStep ? ` at ${report.failedStep}` : ''}: read the failure reasons in the report and fix them now; a real failover would fail the same way.${cleanupLeft}`;
  }
  return (
    `The FAILOVER failed${report.failedStep ? ` at ${report.failedStep}` : ''}: read the failure reasons in the report, fix the cause and start it again ` +
    '(or with another strategy); resources it created are kept and named in the report.'
  );
}

/**
 * Whether the run did every step and failed nothing but its RTO check: a real failover like that has a serving
 * database (and, when configured, a repointed application).
 */
function onlyOverRto(report: FailoverReport): boolean {
  const failed = report.checks.filter((c) => !c.passed);
  return report.failedStep === undefined && report.failureReasons.length === 1 && failed.length === 1 && failed[0].name === 'RTO within target';
}

/** A real failover that stopped at the repoint: every earlier step (the database up and verified) succeeded. */
function repointFailed(report: FailoverReport): boolean {
  return report.status === 'FAILED' && report.failedStep === 'repoint';
}

/** The workflow as the subject names it; a real failover whose database is up says so (over its RTO, or stopped at the repoint). */
export function failoverWhat(report: FailoverReport): string {
  if (report.mode === 'rehearsal') return 'failover rehearsal';
  if (report.mode === undefined) return 'failover (invalid input)';
  if (report.status === 'FAILED' && onlyOverRto(report)) return 'FAILOVER (DB up, over RTO)';
  return repointFailed(report) ? 'FAILOVER (DB up)' : 'FAILOVER';
}

/** The subject, message and attributes published to the notification topic. */
export function failoverNotification(report: FailoverReport, reportKey: string, bucket: string): FailoverNotification {
  const what = failoverWhat(report);
  return runNotification(report, { bucket, reportKey }, {
    what,
    ...(report.failedStep !== undefined ? { failedAt: report.failedStep } : {}),
    nextStep: failoverNextStep(report),
    lead: report.mode !== undefined ? { mode: report.mode } : {},
    before: {
      ...(report.request ? { strategy: nonEmptyString(report.request.strategy), reason: nonEmptyString(report.request.reason) } : {}),
      ...(report.database?.endpoint !== undefined ? { endpoint: endpointDetail(report.database.endpoint) } : {}),
      ...(report.dataLossWindowSeconds !== undefined ? { dataLossWindowSeconds: report.dataLossWindowSeconds } : {}),
      ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
      ...(report.rtoTargetSeconds !== undefined ? { rtoTargetSeconds: report.rtoTargetSeconds } : {}),
    },
    after: {
      ...(report.repoint ? { repointed: report.repoint.changes as unknown as NotificationDetail } : {}),
      ...(report.cleanup ? { cleanup: report.cleanup.status } : {}),
      ...(report.resourcesKept ? { resourcesKept: report.resourcesKept } : {}),
    },
  });
}

/** The endpoint as the database result gives it (`{ address, port }` or text), as a detail. */
function endpointDetail(endpoint: unknown): NotificationDetail {
  if (typeof endpoint === 'string' || typeof endpoint === 'number') return endpoint;
  return JSON.stringify(endpoint);
}
