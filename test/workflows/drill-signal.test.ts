/**
 * Ctrl-C and SIGTERM during `npm run drill`: the drill stops the emulator and PostgreSQL it started, removes its
 * temporary files, writes no report (not even part of one) and exits 128 + the signal's number.
 */
import { readdirSync } from 'node:fs';
import { type InterruptedDrill, interruptDrill, listening } from './support/drill-process';

async function expectEverythingStopped(run: InterruptedDrill, signal: NodeJS.Signals): Promise<void> {
  expect(run.stdout).toContain(`received ${signal}: stopping services`);
  expect(run.stdout).toContain(`interrupted by ${signal}: everything the drill started is stopped; no report written`);
  expect(run.stdout).not.toContain('Drill SUCCEEDED');
  expect(run.stdout).not.toContain('Drill FAILED');
  await expect(listening(run.postgresPort)).resolves.toBe(false);
  await expect(listening(run.emulatorPort)).resolves.toBe(false);
  // No drill-report.json/.html, and no partial file of either.
  expect(readdirSync(run.dirs.out)).toEqual([]);
  // The PostgreSQL data directory and the drill's work directory (cloud assembly, tool wrappers) are gone; tsx-<uid>
  // is tsx's compile cache, not the drill's.
  expect(readdirSync(run.dirs.tmp).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
}

describe('npm run drill, interrupted', () => {
  it('SIGTERM while the backup runs: exit 143, PostgreSQL and the emulator stopped, no report', async () => {
    const run = await interruptDrill('SIGTERM', /> Back up/);
    try {
      expect([run.code, run.signal]).toEqual([143, null]);
      await expectEverythingStopped(run, 'SIGTERM');
    } finally {
      run.dirs.remove();
    }
  }, 300_000);

  it('SIGINT (Ctrl-C) while the recovery test runs: exit 130, PostgreSQL and the emulator stopped, no report', async () => {
    const run = await interruptDrill('SIGINT', /> Recovery test/);
    try {
      expect([run.code, run.signal]).toEqual([130, null]);
      await expectEverythingStopped(run, 'SIGINT');
    } finally {
      run.dirs.remove();
    }
  }, 300_000);
});
