/**
 * What `drill`, `failover` and `cleanup` share: resolve the stack, start its state machine, follow the execution,
 * read the run's report from the bucket, print, and choose the exit code.
 */
import { getTextObjectOrUndefined } from '../lambda/aws/s3';
import { datedReportKey } from '../lambda/reporting/run-report';
import { withAws } from './aws';
import { startAndFollow, type ExecutionOutcome } from './execution';
import { emit, EXIT, UsageError, type CliIo } from './io';
import { resolveStack, stateMachineOf, type StackStateMachine, type Workflow } from './stack';

/** Options of {@link runWorkflow}. */
export interface RunWorkflowOptions {
  readonly io: CliIo;
  readonly region?: string;
  readonly stack: string | undefined;
  readonly bucket?: string;
  readonly workflow: Workflow;
  /** A recovery test's kind (`dump`, `snapshot`). */
  readonly kind?: string;
  readonly input: unknown;
  readonly namePrefix: string;
  readonly json?: boolean;
  readonly pollMs?: number;
  /** Key prefix of the run's report (`reports/recovery-test/`), or a function of the outcome giving the key. */
  readonly report: string | ((outcome: ExecutionOutcome) => string | undefined);
  /** The report in words (after the status line). */
  readonly describe: (report: Record<string, unknown> | undefined, outcome: ExecutionOutcome) => string[];
  /** Checks the input against the resolved state machine (e.g. a configured strategy); throws UsageError. */
  readonly check?: (machine: StackStateMachine) => void;
  /** Asked before starting; false stops with exit 1 and nothing started. */
  readonly confirm?: (machine: StackStateMachine) => Promise<boolean>;
}

/** Runs a workflow of a deployed stack to its end; resolves to the exit code. */
export async function runWorkflow(options: RunWorkflowOptions): Promise<number> {
  const { io } = options;
  if (!options.stack) throw new UsageError('--stack is required: the deployed stack whose state machine to run');
  const stackName = options.stack;
  return withAws(options.region, [], async (aws) => {
    const stack = await resolveStack(aws, stackName);
    const machine = stateMachineOf(stack, options.workflow, options.kind);
    options.check?.(machine);
    if (options.confirm && !(await options.confirm(machine))) {
      io.stderr('not started: not confirmed\n');
      return EXIT.failed;
    }
    const outcome = await startAndFollow({
      sfn: aws.sfn,
      stateMachineArn: machine.arn,
      input: options.input,
      namePrefix: options.namePrefix,
      io,
      progress: true,
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    });
    if (outcome.status === 'RUNNING') {
      io.stderr(`stopped following; the execution keeps running: ${outcome.executionArn}\n`);
      emit(io, options.json, { execution: outcome }, () => `RUNNING ${outcome.executionArn}\n`);
      return EXIT.interrupted;
    }
    let reportKey: string | undefined;
    let report: Record<string, unknown> | undefined;
    const bucket = options.bucket ?? stack.bucket;
    if (bucket) {
      reportKey = typeof options.report === 'string' ? datedReportKey(options.report, outcome.startDate, outcome.name) : options.report(outcome);
      const text = reportKey === undefined ? undefined : await getTextObjectOrUndefined(aws.s3, bucket, reportKey);
      report = text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
    }
    emit(io, options.json, { execution: outcome, ...(reportKey ? { reportKey } : {}), report: report ?? null }, () =>
      [
        `${outcome.status}: ${outcome.executionArn}`,
        ...(outcome.error ? [`error: ${outcome.error}${outcome.cause ? `: ${outcome.cause}` : ''}`] : []),
        ...options.describe(report, outcome),
        !bucket
          ? 'report: the stack has no single backup bucket (pass --bucket to read the report)'
          : reportKey === undefined
            ? 'report: the run returned no report key'
            : report
              ? `report: s3://${bucket}/${reportKey}`
              : `report: none at s3://${bucket}/${reportKey} (the run ended before writing one)`,
      ].join('\n') + '\n',
    );
    return outcome.status === 'SUCCEEDED' ? EXIT.ok : EXIT.failed;
  });
}

/** A number of seconds from a report, or undefined. */
export function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * Asks `question` on the terminal unless `yes`; without a terminal, refuses (exit 2) rather than deciding alone.
 *
 * @throws UsageError when there is no terminal to ask and `--yes` was not given
 */
export async function confirmed(io: CliIo, yes: boolean | undefined, question: string): Promise<boolean> {
  if (yes) return true;
  if (!io.confirm) throw new UsageError(`${question.replace(/\?$/, '')}: there is no terminal to confirm on; pass --yes to go ahead`);
  return io.confirm(question);
}
