/**
 * What every workflow's run report (backup, recovery test, failover) is built from: the execution it is about, the
 * error a `Catch` caught, where the report is written and how long the run took. Pure; the report I/O is in
 * ./report-store.
 */
import { formatKeyTimestamp } from '../backup/manifest';
import { InvalidInput } from '../common/errors';
import { JsonObject, expectObject, expectOneOf, expectString, expectTimestamp, optionalString } from '../common/validate';

/** Final status of a run. */
export type RunStatus = 'SUCCEEDED' | 'FAILED';

/** The error a Step Functions `Catch` puts at its `resultPath`. */
export interface StepError {
  readonly Error: string;
  readonly Cause?: string;
}

/** Longest error cause kept in a report (Step Functions causes can hold whole stack traces). */
export const MAX_CAUSE_LENGTH = 8192;

/** A caught error as a report holds it: the cause, when there is one, cut to {@link MAX_CAUSE_LENGTH}. */
export function reportedError(caught: StepError): { readonly error: string; readonly cause?: string } {
  const cause = caught.Cause;
  if (cause === undefined) return { error: caught.Error };
  return { error: caught.Error, cause: cause.length > MAX_CAUSE_LENGTH ? `${cause.slice(0, MAX_CAUSE_LENGTH)}… (truncated)` : cause };
}

/**
 * Validates a caught error `{ Error, Cause? }` at `field`; null counts as absent (a state field no step set).
 *
 * @throws InvalidInput naming the field
 */
export function parseStepError(value: unknown, field: string): StepError | undefined {
  if (value === undefined || value === null) return undefined;
  const error = expectObject(value, field);
  if (error.Cause !== undefined && typeof error.Cause !== 'string') throw new InvalidInput(`${field}.Cause must be a string`);
  return { Error: expectString(error.Error, `${field}.Error`), ...(typeof error.Cause === 'string' ? { Cause: error.Cause } : {}) };
}

/** `arn:aws:states:us-east-1:123456789012:execution:Machine:run-1` → `run-1`. */
export function executionNameFromId(executionId: string): string {
  const parts = executionId.split(':');
  // Standard: arn:aws:states:<region>:<account>:execution:<machine>:<name>; express adds :<uuid>.
  if (parts.length >= 8 && parts[0] === 'arn' && parts[5] === 'execution') return parts[7];
  if (parts.length >= 8 && parts[0] === 'arn' && parts[5] === 'express') return parts[7];
  return parts[parts.length - 1];
}

/** The execution a report is about, validated. */
export interface ReportedExecution {
  readonly executionId: string;
  readonly executionName: string;
  /** ISO-8601 UTC. */
  readonly startedAt: string;
}

/**
 * Validates the event's `workflow` and which execution it is about (`executionId`, `executionName`, default the last
 * part of the id, `startedAt`). Returns the event as an object too, for the workflow's own fields.
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

/** What a report is built with besides the run: the source (`SOURCE_ID`) and when the report was built. */
export interface ReportContext {
  readonly source: string;
  readonly finishedAt: Date;
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
