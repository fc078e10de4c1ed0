/**
 * Wrappers around the host's pg_dump and pg_restore that the drill hands the handlers (`PG_DUMP_PATH`,
 * `PG_RESTORE_PATH`) in place of the PgToolsLayer's binaries. A wrapper runs the real tool with the same arguments,
 * passes its archive stream through (pg_dump's stdout, pg_restore's stdin) while counting the bytes into a progress
 * file the drill reads for its progress lines, and — for `--break dump|restore` — cuts the stream after a number of
 * bytes, as a connection lost mid-transfer would: pg_dump's wrapper then fails like pg_dump does, pg_restore fails
 * on the truncated archive by itself.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One wrapped tool. */
export interface WrappedTool {
  /** The executable the handler runs. */
  readonly path: string;
  /** Bytes streamed so far by the current (or last) run; 0 before the first. */
  bytes(): number;
  /** Forgets the count of earlier runs. */
  reset(): void;
}

/** Options of {@link wrapTool}. */
export interface WrapToolOptions {
  readonly tool: 'pg_dump' | 'pg_restore';
  /** The real binary (from PATH). */
  readonly real: string;
  readonly dir: string;
  /** Cut the archive stream after this many bytes. @default never */
  readonly cutAfterBytes?: number;
}

/** Writes the wrapper of one tool into `dir`. */
export function wrapTool(options: WrapToolOptions): WrappedTool {
  const path = join(options.dir, options.tool);
  const progress = join(options.dir, `${options.tool}.progress`);
  const config = {
    real: options.real,
    progress,
    stream: options.tool === 'pg_dump' ? 'stdout' : 'stdin',
    cutAfter: options.cutAfterBytes ?? null,
    tool: options.tool,
  };
  writeFileSync(path, `#!${process.execPath}\n${wrapperSource(JSON.stringify(config))}`);
  chmodSync(path, 0o755);
  const reset = (): void => writeFileSync(progress, '0');
  reset();
  return {
    path,
    bytes: () => (existsSync(progress) ? Number(readFileSync(progress, 'utf8')) || 0 : 0),
    reset,
  };
}

/** The wrapper's program (CommonJS, no dependencies). */
function wrapperSource(config: string): string {
  return `'use strict';
// Written by the cdk-backup-dr drill (local/drill/tool-wrapper.ts): runs the real tool, counts its archive stream.
const { spawn } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const config = ${config};
const args = process.argv.slice(2);
if (args.includes('--version')) {
  spawn(config.real, args, { stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 1));
  return;
}
let bytes = 0;
let cut = false;
const save = () => writeFileSync(config.progress, String(bytes));
const timer = setInterval(save, 200);
const dumping = config.stream === 'stdout';
const child = spawn(config.real, args, { stdio: [dumping ? 'inherit' : 'pipe', dumping ? 'pipe' : 'inherit', 'inherit'] });
const from = dumping ? child.stdout : process.stdin;
const to = dumping ? process.stdout : child.stdin;
to.on('error', () => undefined);
from.on('data', (chunk) => {
  if (cut) return;
  let piece = chunk;
  if (config.cutAfter !== null && bytes + chunk.length >= config.cutAfter) {
    piece = chunk.subarray(0, Math.max(0, config.cutAfter - bytes));
    cut = true;
  }
  bytes += piece.length;
  if (piece.length > 0 && !to.write(piece)) {
    from.pause();
    to.once('drain', () => from.resume());
  }
  if (cut) {
    process.stderr.write(config.tool + ': error: the archive stream was cut after ' + bytes + ' bytes (fault injected by the drill: --break)\\n');
    if (dumping) {
      child.kill('SIGKILL');
    } else {
      to.end();
      from.resume();
    }
  }
});
from.on('end', () => { if (!cut && !dumping) to.end(); });
child.on('exit', (code, signal) => {
  clearInterval(timer);
  save();
  const done = () => process.exit(cut ? 1 : (code ?? (signal ? 1 : 0)));
  if (dumping) process.stdout.end(done); else done();
});
`;
}
