/**
 * The notification of a workflow run that ended without reaching its own end: timed out (the state machine's
 * `timeout`) or stopped by hand (ABORTED). Neither reaches a `Catch`, so the run wrote no report and sent no message;
 * the EventBridge "Step Functions Execution Status Change" event is all there is. Formatted by the one formatter
 * (./notification) like every other message: a subject that says what ended how and where, the next step, the facts.
 */
import { InvalidInput } from '../common/errors';
import { expectObject, expectOneOf, expectString } from '../common/validate';
import { type FormattedNotification, type NotificationDetail, formatNotification } from './notification';

/** The end statuses that reach no `Catch`. */
export const UNREPORTED_END_STATUSES = ['TIMED_OUT', 'ABORTED'] as const;

/** What the construct knows about the workflow (the rule's input besides the event). */
export interface UnreportedEndFacts {
  /** `backup`, `recovery-test`, `failover`, `cleanup`, `freshness`: the `workflow` attribute. */
  readonly workflow: string;
  /** The workflow as a person reads it, e.g. `recovery test`. */
  readonly what: string;
  readonly source: string;
  /** What the reader has to check or do after such a run, e.g. which resources may remain. */
  readonly afterwards: string;
}

/** The fields of the EventBridge event that matter here. */
export interface UnreportedEnd {
  readonly status: (typeof UNREPORTED_END_STATUSES)[number];
  readonly executionArn: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  readonly error?: string;
  readonly cause?: string;
}

function optionalDate(value: unknown): Date | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return new Date(value);
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Validates a "Step Functions Execution Status Change" event of a TIMED_OUT or ABORTED execution.
 *
 * @throws InvalidInput naming the field
 */
export function parseUnreportedEnd(event: unknown): UnreportedEnd {
  const detail = expectObject(expectObject(event, 'event').detail, 'event.detail');
  const status = expectOneOf(detail.status, 'event.detail.status', UNREPORTED_END_STATUSES);
  const executionArn = expectString(detail.executionArn, 'event.detail.executionArn', /^arn:[^:]+:states:[^:]+:[^:]+:execution:/, 'must be an execution ARN');
  const startDate = optionalDate(detail.startDate);
  const stopDate = optionalDate(detail.stopDate);
  const error = optionalText(detail.error);
  const cause = optionalText(detail.cause);
  return { status, executionArn, ...(startDate ? { startDate } : {}), ...(stopDate ? { stopDate } : {}), ...(error ? { error } : {}), ...(cause ? { cause } : {}) };
}

/** What to do after such a run: why there is no report, then the workflow's own `afterwards`. */
export function unreportedEndNextStep(end: UnreportedEnd, facts: UnreportedEndFacts): string {
  const why =
    end.status === 'TIMED_OUT'
      ? `The ${facts.what} run exceeded its state machine's timeout and was stopped: it wrote no report and did not clean up after itself.`
      : `The ${facts.what} run was stopped by hand (ABORTED): it wrote no report and did not clean up after itself.`;
  return `${why} ${facts.afterwards} Then start a new run and confirm it succeeds.`;
}

/**
 * The notification of `end`: subject `cdk-backup-dr TIMED_OUT: <what> of <source> in <region>`, the next step, the
 * execution's console link, when it started and stopped.
 *
 * @throws InvalidInput when the facts are incomplete
 */
export function unreportedEndNotification(end: UnreportedEnd, facts: UnreportedEndFacts): FormattedNotification {
  for (const [name, value] of Object.entries(facts)) {
    if (typeof value !== 'string' || value === '') throw new InvalidInput(`${name} must be a non-empty string (the rule's input)`);
  }
  const details: Record<string, NotificationDetail | undefined> = {
    startedAt: end.startDate?.toISOString(),
    stoppedAt: end.stopDate?.toISOString(),
    durationSeconds: end.startDate && end.stopDate ? Math.round((end.stopDate.getTime() - end.startDate.getTime()) / 1000) : undefined,
    report: 'none: the run ended before its report step',
  };
  const cause = end.error || end.cause ? [end.error, end.cause].filter(Boolean).join(': ') : end.status === 'TIMED_OUT' ? 'the execution exceeded its timeout' : 'stopped by hand (StopExecution)';
  return formatNotification({
    workflow: facts.workflow,
    what: facts.what,
    status: end.status,
    source: facts.source,
    executionId: end.executionArn,
    cause,
    nextStep: unreportedEndNextStep(end, facts),
    details,
  });
}
