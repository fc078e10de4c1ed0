/**
 * What every command of the operator CLI shares: its I/O, the exit codes (one home), the errors that choose them,
 * option parsing with the common options, and output as text or `--json`.
 */
import { parseArgs } from 'node:util';
import { awsErrorInfo } from '../lambda/aws/aws-error';
import { BackupDrError, DumpFailed, InvalidInput } from '../lambda/common/errors';

/** Where a command reads its environment and writes its output. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Fires on Ctrl-C; commands abort cleanly when it does. */
  readonly signal?: AbortSignal;
  /** Asks a yes/no question on the terminal; absent when there is none (then `--yes` is required). */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** The clock (tests fix it). @default () => new Date() */
  readonly now?: () => Date;
}

/** A sub-command. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Runs the command; resolves to the process exit code ({@link EXIT}). */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** The exit codes of every command, documented in the README's CLI section and in `--help`. */
export const EXIT = {
  /** Done, and what was checked passed. */
  ok: 0,
  /** The run failed: a backup, restore or verification failed, an execution ended FAILED/ABORTED/TIMED_OUT. */
  failed: 1,
  /** The command line is wrong (unknown option, missing value, bad format): nothing was done. */
  usage: 2,
  /** What was named does not exist: the stack, a state machine or bucket in it, a backup, a manifest. */
  notFound: 3,
  /** AWS refused or could not be reached: no or expired credentials, access denied, unknown region or endpoint. */
  aws: 4,
  /** Interrupted (Ctrl-C, SIGTERM): what was started locally was stopped; a started execution keeps running. */
  interrupted: 130,
} as const;

/** The exit code table for the help texts. */
export const EXIT_CODES_HELP = `Exit codes: 0 ok, 1 failed run or check, 2 usage error, 3 not found (stack, backup, manifest),
4 AWS credentials/access/endpoint, 130 interrupted.
`;

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Something named on the command line does not exist: exit code 3. */
export class NotFound extends Error {
  override readonly name = 'NotFound';
}

/** A failed run or check whose details were already printed: exit code 1 without another message. */
export class ReportedFailure extends Error {
  override readonly name = 'ReportedFailure';
}

/** AWS error names that mean the credentials, the access or the endpoint are the problem (exit code 4). */
const AWS_ACCESS_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'AccessDeniedException',
  'AuthorizationError',
  'UnauthorizedOperation',
  'TokenRefreshRequired',
  'ENOTFOUND',
  'ECONNREFUSED',
]);

/** AWS error names that mean a named resource does not exist (exit code 3). */
const AWS_NOT_FOUND_ERRORS = new Set([
  'NoSuchBucket',
  'NoSuchKey',
  'NotFound',
  'StateMachineDoesNotExist',
  'ExecutionDoesNotExist',
  'ResourceNotFoundException',
]);

function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
}

/** Whether `error` is the AWS SDK's "no region" or "no credentials" error. */
function isSdkConfigError(error: Error): boolean {
  return /Region is missing|Could not load credentials|credential/i.test(error.message) && !(error instanceof BackupDrError);
}

/** The exit code for an error a command threw. */
export function exitCodeFor(error: unknown, signal?: AbortSignal): number {
  if (signal?.aborted) return EXIT.interrupted;
  if (error instanceof UsageError || error instanceof InvalidInput || errorCode(error).startsWith('ERR_PARSE_ARGS')) return EXIT.usage;
  if (error instanceof NotFound) return EXIT.notFound;
  if (error instanceof BackupDrError) return EXIT.failed;
  if (!(error instanceof Error)) return EXIT.failed;
  const info = awsErrorInfo(error);
  const code = errorCode(error);
  if (info.accessDenied || AWS_ACCESS_ERRORS.has(info.code) || AWS_ACCESS_ERRORS.has(code) || isSdkConfigError(error)) return EXIT.aws;
  if (AWS_NOT_FOUND_ERRORS.has(info.code)) return EXIT.notFound;
  if (/Stack with id .* does not exist/.test(error.message)) return EXIT.notFound;
  return EXIT.failed;
}

/** A hint for an exit code, appended to the error line. */
export function hintFor(code: number): string {
  if (code === EXIT.aws) {
    return ' (check the AWS credentials and region: AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION or --region, AWS_ENDPOINT_URL for an emulator)';
  }
  return '';
}

/** The one-line message of an error, with a DumpFailed's failing step. */
export function errorLine(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof DumpFailed ? ` (${error.cause.failure})` : error instanceof DumpFailed ? ` (${error.failure})` : '';
  const message = error instanceof Error ? error.message : String(error);
  return `error${cause}: ${message}`;
}

/** An option of a command, as `node:util` parseArgs takes it. */
export type OptionSpec = { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean };

/** The options every command takes. */
export const COMMON_OPTIONS = {
  region: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionSpec>;

/** The values parseArgs gives for `options`: strings (or string lists) and booleans, each possibly absent. */
export type OptionValues<T extends Record<string, OptionSpec>> = {
  readonly [K in keyof T]?: T[K]['type'] extends 'string' ? (T[K]['multiple'] extends true ? string[] : string) : T[K]['multiple'] extends true ? boolean[] : boolean;
};

/** Parses a command's arguments: {@link COMMON_OPTIONS} and the command's own `options`; no positionals. */
export function parseOptions<T extends Record<string, OptionSpec>>(args: readonly string[], options: T): OptionValues<typeof COMMON_OPTIONS & T> {
  return parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...options }, strict: true, allowPositionals: false }).values as OptionValues<
    typeof COMMON_OPTIONS & T
  >;
}

/** Reads a whole number option in `[min, max]`. @throws UsageError */
export function wholeNumber(value: string | undefined, option: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Reads a non-negative decimal option. @throws UsageError */
export function decimal(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${option} must be a number of 0 or more; got ${JSON.stringify(value)}`);
  return n;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Reads a duration like `90s`, `15m`, `26h`, `7d` into seconds. @throws UsageError */
export function durationSeconds(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (!match || Number(match[1]) <= 0) throw new UsageError(`${option} must be a duration such as 90s, 15m, 26h or 7d; got ${JSON.stringify(value)}`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]]);
}

/** A number of seconds in words: `42 s`, `12 min`, `5.2 h`, `3.1 d`. */
export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

/** Bytes in binary units: `512 B`, `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Prints a result: the JSON document with `--json`, else the text. */
export function emit(io: CliIo, json: boolean | undefined, value: unknown, text: () => string): void {
  io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text());
}

/** A table of text columns, left-aligned, two spaces apart. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** A log sink writing one line per event to stderr. */
export function stderrLog(io: CliIo): { info: (m: string, a?: Record<string, unknown>) => void; warn: (m: string, a?: Record<string, unknown>) => void } {
  const line = (level: string, message: string, attributes?: Record<string, unknown>): void =>
    io.stderr(`${level} ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}\n`);
  return { info: (m, a) => line('info', m, a), warn: (m, a) => line('warn', m, a) };
}

/** `--help` handling shared by every command: prints the usage and tells the caller to stop. */
export function helpRequested(values: { readonly help?: boolean }, io: CliIo, usage: string): boolean {
  if (!values.help) return false;
  io.stdout(usage);
  return true;
}

/** The text every usage ends with: where AWS settings come from, and the exit codes. */
export const USAGE_FOOTER = `Common options: --region REGION (default: AWS_REGION), --json (machine-readable output on stdout), -h/--help.
AWS credentials and endpoint come from the usual AWS SDK settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
${EXIT_CODES_HELP}`;
