#!/usr/bin/env node
/**
 * Entry point of the operator CLI (`npx cdk-backup-dr <command>`, bundled into dist/cli/index.js): wires the process
 * (argv, stdout/stderr, Ctrl-C, a terminal to confirm on) to ../cli/main. The commands live in ../cli/commands.
 */
import * as readline from 'node:readline/promises';
import { main } from '../cli/main';

export { main } from '../cli/main';

/** Asks a yes/no question on the terminal; only `y`/`yes` is yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

if (require.main === module) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted (SIGINT)')));
  process.once('SIGTERM', () => controller.abort(new Error('terminated (SIGTERM)')));
  main(process.argv.slice(2), {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: controller.signal,
    ...(process.stdin.isTTY ? { confirm } : {}),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
