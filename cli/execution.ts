/**
 * Starting a deployed state machine and following its execution: each state entered is printed as it happens (from
 * the execution history, page by page), until the execution ends. Ctrl-C stops the following, not the execution.
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { randomBytes } from 'node:crypto';
import type { CliIo } from './io';

/** How an execution ended (or stood when the following stopped). */
export interface ExecutionOutcome {
  readonly executionArn: string;
  readonly name: string;
  /** RUNNING (following stopped), SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE. */
  readonly status: string;
  readonly startDate: string;
  readonly stopDate?: string;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  /** The states entered, in order. */
  readonly states: readonly string[];
}

/** Options of {@link startAndFollow}. */
export interface FollowOptions {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly input: unknown;
  /** Execution name prefix, e.g. `cli-drill`; a timestamp and random suffix are added. */
  readonly namePrefix: string;
  readonly io: CliIo;
  /** @default 5000 */
  readonly pollMs?: number;
  /** Print progress lines to stderr. @default true */
  readonly progress?: boolean;
}

/** A unique execution name: `<prefix>-<UTC stamp>-<hex>` (at most 80 characters, as Step Functions allows). */
export function executionName(prefix: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${prefix}-${stamp}-${randomBytes(3).toString('hex')}`.slice(0, 80);
}

/** The name of the state an event entered, or undefined for other events. */
export function enteredState(event: HistoryEvent): string | undefined {
  return event.type?.endsWith('StateEntered') ? event.stateEnteredEventDetails?.name : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function parseOutput(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Starts an execution and follows it until it ends (or `io.signal` fires: then status stays RUNNING). */
export async function startAndFollow(options: FollowOptions): Promise<ExecutionOutcome> {
  const { sfn, io } = options;
  const now = io.now?.() ?? new Date();
  const name = executionName(options.namePrefix, now);
  const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: options.stateMachineArn, name, input: JSON.stringify(options.input) }));
  const executionArn = started.executionArn!;
  const progress = options.progress !== false;
  if (progress) io.stderr(`started ${executionArn}\n`);
  let states: string[] = [];
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const status = described.status ?? 'RUNNING';
    // The history is read from its start each poll (a workflow's has some hundred events at most); only the states
    // not printed yet are printed.
    const entered = await enteredStates(sfn, executionArn);
    if (progress) for (const e of entered.slice(states.length)) io.stderr(`  ${e.at.toISOString().slice(11, 19)}  ${e.state}\n`);
    states = entered.map((e) => e.state);
    if (status !== 'RUNNING' || io.signal?.aborted) {
      return {
        executionArn,
        name,
        status,
        startDate: (described.startDate ?? now).toISOString(),
        ...(described.stopDate ? { stopDate: described.stopDate.toISOString() } : {}),
        ...(described.output !== undefined ? { output: parseOutput(described.output) } : {}),
        ...(described.error ? { error: described.error } : {}),
        ...(described.cause ? { cause: described.cause } : {}),
        states,
      };
    }
    await sleep(options.pollMs ?? 5000, io.signal);
  }
}

/** The states an execution entered so far, oldest first, from its whole history (paginated). */
async function enteredStates(sfn: SFNClient, executionArn: string): Promise<{ state: string; at: Date }[]> {
  const out: { state: string; at: Date }[] = [];
  let token: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: token, maxResults: 1000 }));
    for (const event of page.events ?? []) {
      const state = enteredState(event);
      if (state !== undefined) out.push({ state, at: event.timestamp ?? new Date(0) });
    }
    token = page.nextToken;
  } while (token);
  return out;
}
