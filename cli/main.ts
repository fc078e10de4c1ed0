/**
 * The operator CLI (`npx cdk-backup-dr <command>`): the command table and the one place errors become exit codes.
 * Output meant for programs (a manifest, `--json`) goes to stdout, progress and errors to stderr. No credential is
 * ever printed.
 */
import { backupCommand } from './commands/backup';
import { cleanupCommand } from './commands/cleanup';
import { costCommand } from './commands/cost';
import { drillCommand } from './commands/drill';
import { failoverCommand } from './commands/failover';
import { listCommand } from './commands/list';
import { restoreCommand } from './commands/restore';
import { statusCommand } from './commands/status';
import { verifyCommand } from './commands/verify';
import { errorLine, EXIT, EXIT_CODES_HELP, exitCodeFor, hintFor, ReportedFailure, type CliCommand, type CliIo } from './io';

/** Every command, in help order. */
export const COMMANDS: readonly CliCommand[] = [
  backupCommand,
  restoreCommand,
  verifyCommand,
  listCommand,
  statusCommand,
  drillCommand,
  failoverCommand,
  cleanupCommand,
  costCommand,
];

/** The general usage: the commands and the exit codes. */
export function generalUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return (
    'Usage: cdk-backup-dr <command> [options]\n\nCommands:\n' +
    COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n') +
    `\n\nRun \`cdk-backup-dr <command> --help\` for the options of a command.\n${EXIT_CODES_HELP}`
  );
}

/** Runs the command line; resolves to the exit code ({@link EXIT}). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(generalUsage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr(`error: unknown command ${JSON.stringify(name)}\n\n${generalUsage()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const code = exitCodeFor(error, io.signal);
    if (error instanceof ReportedFailure) return code;
    if (code === EXIT.usage) {
      io.stderr(`error: ${(error as Error).message}\n\n${command.usage}`);
    } else if (code === EXIT.interrupted) {
      io.stderr(`interrupted: ${error instanceof Error ? error.message : String(error)}\n`);
    } else {
      io.stderr(`${errorLine(error)}${hintFor(code)}\n`);
    }
    return code;
  }
}
