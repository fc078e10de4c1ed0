/** Measured child: one call of the restore core (`runRestore`), bundled by bench/run.ts and run with plain node. */
import type { PgTarget } from '../../lambda/postgres/target';
import { runRestore } from '../../lambda/restore/restore-core';
import { readInput, runChild } from './protocol';

export interface RestoreChildInput {
  readonly bucket: string;
  readonly manifestKey: string;
  readonly target: PgTarget;
  readonly jobs: number;
  readonly workDir: string;
}

export interface RestoreChildOutput {
  readonly restoredBytes: number;
  readonly mode: string;
  readonly jobs: number;
  readonly durationSeconds: number;
}

void runChild<RestoreChildOutput>(async () => {
  const input = readInput<RestoreChildInput>();
  const result = await runRestore({
    bucket: input.bucket,
    manifestKey: input.manifestKey,
    target: input.target,
    jobs: input.jobs,
    workDir: input.workDir,
  });
  return {
    restoredBytes: result.restoredBytes,
    mode: result.mode,
    jobs: result.jobs,
    durationSeconds: result.durationSeconds,
  };
});
