/** `cleanup`: runs the deployed retention cleanup (a plan with --dry-run), follows it and prints the plan. */
import type { CleanupItem, SeriesOutcome } from '../../lambda/retention/cleanup-core';
import { EXIT, helpRequested, parseOptions, USAGE_FOOTER, UsageError, wholeNumber, type CliCommand } from '../io';
import { confirmed, runWorkflow } from '../run-workflow';

const USAGE = `Usage: cdk-backup-dr cleanup --stack STACK (--dry-run | --yes) [--target primary|replica] [options]

Runs the stack's retention cleanup state machine: the GFS retention policy over the dumps (and snapshots) of the
primary bucket, or of the replica in the DR region. With --dry-run nothing is deleted: the plan (each backup, kept
or deleted, and why) is printed from the run's report. Without --dry-run the backups the policy no longer keeps are
deleted: confirm on the terminal, or pass --yes.

Options:
  --stack STACK          the deployed stack with the BackupRetention
  --target TARGET        primary (default) or replica
  --dry-run              plan only: list what would be deleted and why
  --yes                  delete without asking
  --show N               backups listed per series, 0-500 (default 50; the JSON has them all)
  --bucket BUCKET        where the report is (default: the stack's bucket)
  --poll SECONDS         how often to ask for the execution's state, 1-300 (default 5)

${USAGE_FOOTER}`;

function seriesLines(series: SeriesOutcome, show: number, dryRun: boolean): string[] {
  const line = (item: CleanupItem) => `    ${item.keep ? 'keep  ' : dryRun ? 'DELETE' : 'deleted'} ${item.time.slice(0, 19).replace('T', ' ')}  ${item.id}  ${item.reasons.join(', ')}`;
  return [
    `  ${series.series}: ${series.kept} kept, ${series.deleted} ${dryRun ? 'to delete' : 'deleted'}`,
    ...series.items.slice(0, show).map(line),
    ...(series.items.length > show || series.omitted > 0 ? [`    … ${series.items.length - Math.min(show, series.items.length) + series.omitted} more`] : []),
  ];
}

/** The cleanup report (its plan) in lines. */
export function describeCleanupReport(report: Record<string, unknown> | undefined, show = 50): string[] {
  if (!report) return [];
  const dryRun = report.dryRun === true;
  const dumps = report.dumps as { series?: SeriesOutcome[]; swept?: string[]; errors?: string[] } | undefined;
  const snapshots = report.snapshots as { series?: SeriesOutcome; region?: string } | undefined;
  const errors = Array.isArray(report.errors) ? (report.errors as string[]) : [];
  return [
    `${dryRun ? 'plan (dry run, nothing deleted)' : 'applied'} for ${String(report.source ?? '?')} (${String(report.target ?? '?')})`,
    ...(dumps?.series ?? []).flatMap((s) => seriesLines(s, show, dryRun)),
    ...(dumps?.swept?.length ? [`  dumps without a manifest ${dryRun ? 'to sweep' : 'swept'}: ${dumps.swept.join(', ')}`] : []),
    ...(snapshots?.series ? seriesLines(snapshots.series, show, dryRun) : []),
    ...errors.map((e) => `  error: ${e}`),
  ];
}

export const cleanupCommand: CliCommand = {
  name: 'cleanup',
  summary: "run a deployed stack's retention cleanup; --dry-run prints the plan and deletes nothing",
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      stack: { type: 'string' },
      target: { type: 'string' },
      'dry-run': { type: 'boolean' },
      yes: { type: 'boolean' },
      show: { type: 'string' },
      bucket: { type: 'string' },
      poll: { type: 'string' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const target = values.target ?? 'primary';
    if (target !== 'primary' && target !== 'replica') throw new UsageError(`--target must be primary or replica; got ${JSON.stringify(target)}`);
    if (values['dry-run'] && values.yes) throw new UsageError('give --dry-run (plan) or --yes (delete), not both');
    const dryRun = values['dry-run'] ?? false;
    const show = wholeNumber(values.show, '--show', 50, 0, 500);
    const pollMs = wholeNumber(values.poll, '--poll', 5, 1, 300) * 1000;
    return runWorkflow({
      io,
      region: values.region,
      stack: values.stack,
      bucket: values.bucket,
      workflow: 'cleanup',
      input: { target, dryRun },
      namePrefix: dryRun ? 'cli-cleanup-plan' : 'cli-cleanup',
      json: values.json,
      pollMs,
      // The cleanup Lambda names its report (its own start time is in the key); the state machine returns it.
      report: (outcome) => {
        const result = (outcome.output as { result?: { reportKey?: unknown } } | undefined)?.result;
        return typeof result?.reportKey === 'string' ? result.reportKey : undefined;
      },
      describe: (report) => describeCleanupReport(report, show),
      ...(dryRun ? {} : { confirm: () => confirmed(io, values.yes, `Delete the backups of stack ${values.stack} (${target}) that its retention policy no longer keeps?`) }),
    });
  },
};
