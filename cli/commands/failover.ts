/** `failover`: starts the deployed Failover (or rehearses it with --dry-run), follows it and prints its report. */
import { FAILOVER_REPORT_PREFIX } from '../../lambda/common/names';
import { InvalidInput } from '../../lambda/common/errors';
import { FAILOVER_STRATEGIES, parseFailoverInput, type FailoverStrategyName } from '../../lambda/failover/request';
import { EXIT, formatDuration, helpRequested, parseOptions, USAGE_FOOTER, UsageError, wholeNumber, type CliCommand } from '../io';
import { confirmed, runWorkflow, seconds } from '../run-workflow';

const USAGE = `Usage: cdk-backup-dr failover --stack STACK --strategy STRATEGY --reason TEXT [--dry-run] [--yes] [options]

Starts the stack's Failover state machine: preflight, then promote or restore in the DR region, verify, and (a real
failover) repoint, or (--dry-run) delete what the rehearsal created. Follows the execution on stderr and prints the
report: the recovery point, the data-loss window, the database that serves, the checks, the cleanup or failback.
A real failover asks for confirmation first (type y), unless --yes; without a terminal it needs --yes.

Options:
  --stack STACK          the deployed stack with the Failover (in the DR region: pass its --region)
  --strategy STRATEGY    ${FAILOVER_STRATEGIES.join(', ')} (one the construct configured)
  --reason TEXT          why (recorded in the report and the notification)
  --dry-run              rehearse: nothing promoted or repointed, everything created deleted
  --target-time ISO      for point-in-time: the moment to restore to (ISO-8601)
  --accept-data-loss     go ahead although the freshest recovery point is older than the RPO
  --yes                  do not ask for confirmation
  --bucket BUCKET        where the report is (default: the stack's bucket)
  --poll SECONDS         how often to ask for the execution's state, 1-300 (default 5)

${USAGE_FOOTER}`;

/** The failover report in lines. */
export function describeFailoverReport(report: Record<string, unknown> | undefined): string[] {
  if (!report) return [];
  const database = (report.database ?? {}) as Record<string, unknown>;
  const checks = Array.isArray(report.checks) ? (report.checks as { name?: string; passed?: boolean }[]) : [];
  const loss = seconds(report.dataLossWindowSeconds);
  const cleanup = report.cleanup as { status?: string } | undefined;
  return [
    `mode: ${String(report.mode ?? '-')}`,
    `data-loss window: ${loss === undefined ? '-' : formatDuration(loss)}`,
    `database: ${String(database.identifier ?? '-')}${database.endpoint ? ` at ${JSON.stringify(database.endpoint)}` : ''}`,
    `checks: ${checks.filter((c) => c.passed).length} of ${checks.length} passed`,
    ...(cleanup ? [`cleanup: ${cleanup.status ?? '-'}`] : []),
    ...(Array.isArray(report.failback) ? ['failback:', ...(report.failback as string[]).map((l) => `  ${l}`)] : []),
  ];
}

export const failoverCommand: CliCommand = {
  name: 'failover',
  summary: 'fail over to the DR region (or rehearse with --dry-run), follow it and print its report',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      stack: { type: 'string' },
      strategy: { type: 'string' },
      reason: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'target-time': { type: 'string' },
      'accept-data-loss': { type: 'boolean' },
      yes: { type: 'boolean' },
      bucket: { type: 'string' },
      poll: { type: 'string' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    if (!values.strategy) throw new UsageError(`--strategy is required: one of ${FAILOVER_STRATEGIES.join(', ')}`);
    const input = {
      strategy: values.strategy,
      dryRun: values['dry-run'] ?? false,
      reason: values.reason ?? '',
      ...(values['target-time'] !== undefined ? { targetTime: values['target-time'] } : {}),
      ...(values['accept-data-loss'] ? { acceptDataLoss: true } : {}),
    };
    const now = io.now?.() ?? new Date();
    const validate = (configured: readonly FailoverStrategyName[]): void => {
      try {
        parseFailoverInput(input, configured, now);
      } catch (error) {
        throw error instanceof InvalidInput ? new UsageError(error.message.replace(/\bdryRun\b/g, '--dry-run').replace(/\breason\b/, '--reason')) : error;
      }
    };
    validate(FAILOVER_STRATEGIES);
    const pollMs = wholeNumber(values.poll, '--poll', 5, 1, 300) * 1000;
    return runWorkflow({
      io,
      region: values.region,
      stack: values.stack,
      bucket: values.bucket,
      workflow: 'failover',
      input,
      namePrefix: input.dryRun ? 'cli-failover-rehearsal' : 'cli-failover',
      json: values.json,
      pollMs,
      report: FAILOVER_REPORT_PREFIX,
      describe: describeFailoverReport,
      // The state machine's comment lists the strategies its construct configured.
      check: (machine) => validate((machine.detail ?? '').split(/,\s*/).filter((s): s is FailoverStrategyName => (FAILOVER_STRATEGIES as readonly string[]).includes(s))),
      ...(input.dryRun
        ? {}
        : { confirm: () => confirmed(io, values.yes, `REAL failover of stack ${values.stack} with ${input.strategy}: promote/restore in the DR region and repoint. Go ahead?`) }),
    });
  },
};
