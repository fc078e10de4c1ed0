import type { CliIo } from '../../../cli/io';

/** A CliIo that records what a command prints. */
export function capture(env: NodeJS.ProcessEnv = {}, extra: Partial<CliIo> = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { env, stdout: (t) => (out += t), stderr: (t) => (err += t), out: () => out, err: () => err, ...extra };
}
