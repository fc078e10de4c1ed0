/**
 * jest globalTeardown: stops the PostgreSQL and moto that global setup started and removes their temp dir.
 * Runs even when tests failed. Interrupted runs are covered by the guards in harness-process.ts.
 */
import { currentHandle, stopSupervisorSync } from './harness-process';
import { ownerFile, readJson, type HarnessOwner } from './harness-state';
import * as path from 'node:path';

export default async function globalTeardown(): Promise<void> {
  const handle = currentHandle();
  if (handle !== undefined) {
    await handle.stop();
    return;
  }
  // Setup ran in a way that left no handle in this process: fall back to the state file named in the environment.
  const stateFile = process.env.TEST_HARNESS_STATE_FILE;
  if (stateFile === undefined) return;
  const root = path.dirname(stateFile);
  const owner = readJson<HarnessOwner>(ownerFile(root));
  if (owner !== undefined) stopSupervisorSync(owner.supervisorPid, root);
}
