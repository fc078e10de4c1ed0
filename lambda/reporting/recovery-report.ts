/**
 * The recovery-test report: what the RecoveryTest state machine collected about one run, turned into the outcome
 * (a test passes only when the backup restored, every check passed, the data was within the RPO and the cleanup
 * finished), the JSON document written to `reports/recovery-test/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`
 * (the audit evidence), its metrics and the SNS message. Pure; lambda/reporting/recovery-report.handler.ts does the I/O.
 *
 * Built like the backup report (./backup-report) on ./run-report: same schema version field, key format, cause
 * truncation and metric dimension (`Source`).
 */
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
import { JsonObject, expectOneOf } from '../common/validate';
import { RECOVERY_REPORT_PREFIX } from '../common/names';
import { RECOVERY_TEST_METRICS } from '../common/metrics';

export { causeMessage } from './recovery-workflow-report';
export type { ReportCheck } from './recovery-workflow-report';
export type { MetricDatum } from './backup-report';
export type { RunStatus, StepError } from './run-report';

/** Version of the recovery-test report's shape. */
export const RECOVERY_REPORT_SCHEMA_VERSION = 1;

/**
 * The state the machine hands over (`$` of the execution): each field is present once its step has run. Unknown
 * fields are ignored.
 */
export interface RecoveryRunState extends CollectedRunState {
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
  /**
   * The cleanup `Parallel`'s output: one result per branch, `{ what, names, status: 'gone' }`, or
   * `{ what, status: 'failed', error }` from a branch that gave up.
   */
  readonly cleanup?: JsonObject[];
}

/** The fields of {@link RecoveryRunState} that hold a step's result. */
const STEP_RESULTS = ['selection', 'backup', 'created', 'ready', 'restore', 'verify'] as const;

/** What the state machine sends the report handler. */
export interface RecoveryReportEvent extends ReportEventBase {
  readonly workflow: 'recovery-test';
  readonly kind: 'dump' | 'snapshot';
  /** `$`: everything the run collected. */
  readonly state: RecoveryRunState;
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

/** The JSON document written for every recovery test. */
export interface RecoveryTestReport extends WorkflowReportBase {
  readonly schemaVersion: typeof RECOVERY_REPORT_SCHEMA_VERSION;
  readonly workflow: 'recovery-test';
  /** The step the run stopped at, when a step failed. */
  readonly failedStep?: FailedStep;
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
  /** The construct's `rto`, when set. */
  readonly rtoTargetSeconds?: number;
  readonly checks: readonly ReportCheck[];
  readonly cleanup: CleanupSummary;
}

/** A validated {@link RecoveryReportEvent}. */
export interface RecoveryRunSummary extends CollectedRun<RecoveryRunState> {
  readonly kind: 'dump' | 'snapshot';
}

/**
 * Validates what the state machine sent.
 *
 * @throws InvalidInput naming the field and what to change.
 */
export function parseRecoveryReportEvent(event: unknown): RecoveryRunSummary {
  return parseCollectedRun<RecoveryRunState, { kind: 'dump' | 'snapshot' }>(event, 'recovery-test', STEP_RESULTS, (input) => ({
    kind: expectOneOf(input.kind, 'kind', ['dump', 'snapshot'] as const),
  }));
}

/** The durations the run measured ({@link RecoveryTimings}). */
export function measureTimings(kind: 'dump' | 'snapshot', state: RecoveryRunState): RecoveryTimings {
  const provisionSeconds = secondsBetween(state.created?.startedAt, state.ready?.availableAt);
  const restoreSeconds = kind === 'dump' ? finiteNumber(state.restore?.durationSeconds) : undefined;
  const verifySeconds = finiteNumber(state.verify?.durationSeconds);
  const complete = provisionSeconds !== undefined && verifySeconds !== undefined && (kind === 'snapshot' || restoreSeconds !== undefined);
  return {
    ...(provisionSeconds !== undefined ? { provisionSeconds } : {}),
    ...(restoreSeconds !== undefined ? { restoreSeconds } : {}),
    ...(verifySeconds !== undefined ? { verifySeconds } : {}),
    ...(complete ? { rtoSeconds: roundSeconds(provisionSeconds + (restoreSeconds ?? 0) + verifySeconds) } : {}),
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

/**
 * Builds the report and decides the outcome. Pure: `source` and `finishedAt` are passed in.
 *
 * The test SUCCEEDED only when: no step failed, the verification ran and every check passed, the data age is within
 * the RPO (when one is configured), the measured RTO is within `rto` (when given and enforced), and the cleanup
 * finished. Anything else is FAILED, with one reason per cause.
 */
export function buildRecoveryReport(summary: RecoveryRunSummary, context: ReportContext, rto?: RtoTarget): RecoveryTestReport {
  const { state, kind } = summary;
  const verdict = judgeSteps(state, () => failedStep(kind, state));
  const { reasons, checks } = verdict;

  const backup = state.backup;
  const dataAgeSeconds = finiteNumber(backup?.ageSeconds);
  const rpoSeconds = finiteNumber(backup?.rpoSeconds);
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

  const timings = measureTimings(kind, state);
  const rtoVerdict = judgeRto(timings.rtoSeconds, rto);
  if (rtoVerdict.check) checks.push(rtoVerdict.check);
  if (rtoVerdict.reason) reasons.push(rtoVerdict.reason);

  const cleanup = cleanupSummary(state);
  const cleanupVerdict = judgeCleanup(cleanup, 'scratch resources may remain (names start with cdkbdr-rt- and cdk-backup-dr/scratch/)');
  checks.push(cleanupVerdict.check);
  if (cleanupVerdict.reason) reasons.push(cleanupVerdict.reason);

  const created = state.created;
  const ready = state.ready;
  return {
    schemaVersion: RECOVERY_REPORT_SCHEMA_VERSION,
    workflow: 'recovery-test',
    ...reportHead(summary, context, verdict),
    kind,
    ...(state.selection ? { selection: state.selection } : {}),
    ...(backup ? { backup } : {}),
    ...(dataAgeSeconds !== undefined ? { dataAgeSeconds } : {}),
    ...(rpoSeconds !== undefined ? { rpoSeconds } : {}),
    ...(created || ready
      ? {
          scratch: {
            ...(nonEmptyString(created?.identifier) ? { identifier: nonEmptyString(created?.identifier) } : {}),
            ...(nonEmptyString(created?.resource) ? { resource: nonEmptyString(created?.resource) } : {}),
            ...(nonEmptyString(created?.secretName) ? { secretName: nonEmptyString(created?.secretName) } : {}),
            ...(ready?.endpoint !== undefined ? { endpoint: ready.endpoint } : {}),
            ...(ready?.engineVersion !== undefined ? { engineVersion: ready.engineVersion } : {}),
          },
        }
      : {}),
    timings,
    ...(rto ? { rtoTargetSeconds: rto.seconds } : {}),
    checks,
    cleanup,
    ...reportTail(summary),
  };
}

/** `reports/recovery-test/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json`, dated by the run's start (UTC). */
export function recoveryReportKey(report: Pick<RecoveryTestReport, 'startedAt' | 'executionName'>): string {
  return datedReportKey(RECOVERY_REPORT_PREFIX, report.startedAt, report.executionName);
}

/**
 * The metrics of a test: RecoveryTestSucceeded (1/0) always; BackupAgeSeconds when a backup was picked (the data
 * age at test time); RestoreDurationSeconds (RTO actual) only for a test that succeeded, so an alarm on it never
 * sees the short duration of a restore that failed early; RecoveryTestRtoSeconds whenever the RTO was measured (the
 * verification ran), also when the test failed, e.g. for exceeding its RTO target.
 */
export function recoveryTestMetrics(report: RecoveryTestReport): MetricDatum[] {
  const metrics: MetricDatum[] = [{ name: RECOVERY_TEST_METRICS.succeeded, unit: 'Count', value: report.status === 'SUCCEEDED' ? 1 : 0 }];
  if (report.dataAgeSeconds !== undefined) metrics.push({ name: RECOVERY_TEST_METRICS.backupAgeSeconds, unit: 'Seconds', value: report.dataAgeSeconds });
  if (report.status === 'SUCCEEDED' && report.timings.rtoSeconds !== undefined) {
    metrics.push({ name: RECOVERY_TEST_METRICS.restoreDurationSeconds, unit: 'Seconds', value: report.timings.rtoSeconds });
  }
  if (report.timings.rtoSeconds !== undefined) metrics.push({ name: RECOVERY_TEST_METRICS.rtoSeconds, unit: 'Seconds', value: report.timings.rtoSeconds });
  return metrics;
}

/** The SNS notification of a test. */
export type RecoveryNotification = ReportNotification;

/** What to do after a test, from the first thing that went wrong. */
export function recoveryNextStep(report: RecoveryTestReport): string {
  if (report.status === 'SUCCEEDED') {
    return report.checks.some((c) => !c.passed)
      ? 'Nothing urgent: the test passed, but a check that is not enforced failed (see the checks in the report).'
      : 'Nothing to do: the report is the evidence that the backup restores.';
  }
  const cleanupLeft =
    report.cleanup.status === 'failed'
      ? ' The cleanup failed too: delete the scratch database (cdkbdr-rt-…) and secret (cdk-backup-dr/scratch/…) of this execution by hand.'
      : '';
  const step: Record<FailedStep, string> = {
    pick: `No usable backup of ${report.source} was found: check that its backups run and succeed (the backup alarms, reports/backup/ in the bucket), then start the test again.`,
    create: 'The scratch database could not be created: check the RDS quotas, the scratch subnet group and the KMS key grants in the cause, then start the test again.',
    wait: 'The scratch database did not become available in time: look at its RDS events, raise scratchWaitTimeout if it was only slow, then start the test again.',
    restore: 'The backup did not restore: read the pg_restore error in the report; test the previous backup ({"selection":{"backupKey":"…"}}) to find the newest one that restores, and fix the backups.',
    verify: 'The restored data failed its checks: read the failed checks in the report; the backup may be incomplete. Take a backup now and test it.',
    'report-input': 'The report input was malformed: this is a defect of the state machine; report it with the execution link.',
  };
  if (report.failedStep !== undefined) return `${step[report.failedStep]}${cleanupLeft}`;
  if (report.checks.some((c) => c.name === 'RTO within target' && !c.passed)) {
    return `Recovery took longer than the RTO: use a larger scratch instance class or storage, make the backup restore faster (fewer, smaller databases per dump), or raise rto.${cleanupLeft}`;
  }
  if (report.checks.some((c) => c.name === 'data age within RPO' && !c.passed)) {
    return `The newest backup is older than the RPO: check the backup alarms and reports/backup/ for failed or missing runs.${cleanupLeft}`;
  }
  if (report.checks.some((c) => !c.passed && c.name !== 'cleanup')) return `The restored data failed its checks: read the failed checks in the report.${cleanupLeft}`;
  return cleanupLeft.trim() || 'Read the failure reasons in the report.';
}

/** The subject, message and attributes published to the notification topic. */
export function recoveryNotification(report: RecoveryTestReport, reportKey: string, bucket: string): RecoveryNotification {
  return runNotification(report, { bucket, reportKey }, {
    what: 'recovery test',
    ...(report.failedStep !== undefined ? { failedAt: report.failedStep } : {}),
    nextStep: recoveryNextStep(report),
    before: {
      ...(report.backup ? { backup: nonEmptyString(report.backup.id), dataAsOf: nonEmptyString(report.backup.dataAsOf) } : {}),
      ...(report.dataAgeSeconds !== undefined ? { dataAgeSeconds: report.dataAgeSeconds } : {}),
      ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
      ...(report.rtoTargetSeconds !== undefined ? { rtoTargetSeconds: report.rtoTargetSeconds } : {}),
    },
    after: { cleanup: report.cleanup.status },
  });
}
