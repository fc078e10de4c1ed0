/**
 * Entrypoint of the Fargate runner's container (and of the local runner's child process): runs the task (./task) with
 * this process's environment and exits with its code; 2 when Step Functions could not be answered (the state then
 * fails on its heartbeat timeout).
 */
import { runTask } from './task';

if (require.main === module) {
  runTask().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(JSON.stringify({ level: 'ERROR', message: 'could not answer Step Functions', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
      process.exit(2);
    },
  );
}
