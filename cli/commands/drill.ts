/** `drill`: runs a deployed RecoveryTest now, follows it, prints its report (RTO, data age, checks, cleanup). */
import { RECOVERY_REPORT_PREFIX } from '../../lambda/common/names';
import { EXIT, formatDuration, helpRequested, parseOptions, USAGE_FOOTER, UsageError, wholeNumber, type CliCommand } from '../io';
import { runWorkflow, seconds } from '../run-workflow';
import { checkManifestKey } from '../backups';

const USAGE = `Usage: cdk-backup-dr drill --stack STACK [--kind dump|snapshot] [--manifest-key KEY | --snapshot-id ID] [options]

Starts the stack's RecoveryTest state machine now (the newest usable backup unless one is named), follows the
execution state by state on stderr, then prints its report: the backup restored, the data age (RPO actual)
against the RPO, the measured RTO (provision + restore + verify), each check and the cleanup. Exit 0 when the
run SUCCEEDED, 1 otherwise. Ctrl-C stops the following, not the run (exit 130; the run goes on and cleans up).

Options:
  --stack STACK        the deployed stack with the RecoveryTest
  --kind KIND          dump or snapshot, when the stack has a recovery test of each
  --manifest-key KEY   test this dump (default: the newest usable backup)
  --snapshot-id ID     test this snapshot
  --bucket BUCKET      where the report is (default: the stack's bucket)
  --poll SECONDS       how often to ask for the execution's state, 1-300 (default 5)

${USAGE_FOOTER}`;

/** The report of a recovery test in lines. */
export function describeRecoveryReport(report: Record<string, unknown> | undefined): string[] {
  if (!report) return [];
  const timings = (report.timings ?? {}) as Record<string, unknown>;
  const backup = (report.backup ?? {}) as Record<string, unknown>;
  const checks = Array.isArray(report.checks) ? (report.checks as { name?: string; passed?: boolean; detail?: string }[]) : [];
  const cleanup = (report.cleanup ?? {}) as { status?: string; results?: string[] };
  const age = seconds(report.dataAgeSeconds);
  const rpo = seconds(report.rpoSeconds);
  const rto = seconds(timings.rtoSeconds);
  const failed = checks.filter((c) => !c.passed);
  return [
    `backup: ${String(backup.manifestKey ?? backup.snapshotId ?? 'none picked')}`,
    `data age (RPO actual): ${age === undefined ? '-' : formatDuration(age)}${rpo === undefined ? '' : ` (target ${formatDuration(rpo)}${age !== undefined ? (age <= rpo ? ', met' : ', MISSED') : ''})`}`,
    `RTO measured: ${rto === undefined ? '-' : formatDuration(rto)}`,
    `checks: ${checks.length - failed.length} of ${checks.length} passed${failed.length ? `; failed: ${failed.map((c) => `${c.name}${c.detail ? ` (${c.detail})` : ''}`).join('; ')}` : ''}`,
    `cleanup: ${cleanup.status ?? '-'}${cleanup.results?.length ? ` (${cleanup.results.join('; ')})` : ''}`,
  ];
}

export const drillCommand: CliCommand = {
  name: 'drill',
  summary: "run a deployed stack's recovery test now, follow it and print its report (RTO, data age, checks)",
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      stack: { type: 'string' },
      kind: { type: 'string' },
      'manifest-key': { type: 'string' },
      'snapshot-id': { type: 'string' },
      bucket: { type: 'string' },
      poll: { type: 'string' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    if (values.kind !== undefined && values.kind !== 'dump' && values.kind !== 'snapshot') throw new UsageError(`--kind must be dump or snapshot; got ${JSON.stringify(values.kind)}`);
    if (values['manifest-key'] && values['snapshot-id']) throw new UsageError('give --manifest-key or --snapshot-id, not both');
    const manifestKey = values['manifest-key'];
    if (manifestKey !== undefined) checkManifestKey(manifestKey);
    const kind = values.kind ?? (manifestKey ? 'dump' : values['snapshot-id'] ? 'snapshot' : undefined);
    const pollMs = wholeNumber(values.poll, '--poll', 5, 1, 300) * 1000;
    const selection = manifestKey ? { manifestKey } : values['snapshot-id'] ? { snapshotId: values['snapshot-id'] } : undefined;
    return runWorkflow({
      io,
      region: values.region,
      stack: values.stack,
      bucket: values.bucket,
      workflow: 'recovery-test',
      kind,
      input: selection ? { selection } : {},
      namePrefix: 'cli-drill',
      json: values.json,
      pollMs,
      report: RECOVERY_REPORT_PREFIX,
      describe: describeRecoveryReport,
    });
  },
};
