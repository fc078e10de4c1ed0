/**
 * The cleanup handler's input and configuration, validated before anything is listed or deleted, and the report of
 * one run. Pure: ./cleanup.handler.ts does the I/O.
 */
import { InvalidInput, MissingConfiguration } from '../common/errors';
import { expectObject, expectOneOf } from '../common/validate';
import { CLEANUP_REPORT_PREFIX } from '../common/names';
import { formatKeyTimestamp } from '../backup/manifest';
import type { DumpCleanupResult, SnapshotCleanupResult, SnapshotQuota } from './cleanup-core';
import { RetentionRules, retentionRulesProblems } from './policy';

/** Which copy of the backups a run cleans. */
export type CleanupTarget = 'primary' | 'replica';

/** What the state machine (or a person) sends the cleanup handler. */
export interface CleanupEvent {
  /** `primary`: the backup bucket and the primary-region snapshots; `replica`: the replica bucket and the DR copies. */
  readonly target: CleanupTarget;
  /**
   * List and decide, delete nothing; the plan is in the result and the report.
   * @default false
   */
  readonly dryRun?: boolean;
  /** `$$.Execution.Name`, for the report key. */
  readonly executionName?: string;
}

/** Validates the event. @throws InvalidInput naming the field. */
export function parseCleanupEvent(value: unknown): Required<Omit<CleanupEvent, 'executionName'>> & Pick<CleanupEvent, 'executionName'> {
  const event = expectObject(value, 'event');
  const target = expectOneOf(event.target, 'target', ['primary', 'replica'] as const);
  if (event.dryRun !== undefined && typeof event.dryRun !== 'boolean') throw new InvalidInput(`dryRun must be true or false; got ${JSON.stringify(event.dryRun)}`);
  if (event.executionName !== undefined && typeof event.executionName !== 'string') throw new InvalidInput('executionName must be a string');
  return { target, dryRun: event.dryRun === true, ...(event.executionName ? { executionName: event.executionName } : {}) };
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
  /** Every failure, in words; the run is FAILED when there is one. */
  readonly errors: readonly string[];
}

/** `reports/cleanup/<YYYY>/<MM>/<DD>/<timestamp>-<target>[-<executionName>].json`. */
export function cleanupReportKey(startedAt: Date, target: CleanupTarget, executionName?: string): string {
  const stamp = formatKeyTimestamp(startedAt);
  const name = executionName ? `-${executionName.replace(/[^A-Za-z0-9._-]/g, '_')}` : '';
  return `${CLEANUP_REPORT_PREFIX}${stamp.slice(0, 4)}/${stamp.slice(4, 6)}/${stamp.slice(6, 8)}/${stamp}-${target}${name}.json`;
}
