/**
 * Typed access to the environment that jest global setup (./global-setup.ts) exports to every test process.
 *
 * @example
 * const { awsEndpointUrl, pg } = harnessEnv();
 * const client = new Client({ connectionString: pg.url });
 */

import { readFileSync } from 'node:fs';

/** Connection details of the harness' PostgreSQL and moto, as exported by global setup. */
export interface HarnessEnv {
  /** moto's endpoint, `http://127.0.0.1:<port>` (AWS_ENDPOINT_URL: every AWS SDK client honours it). */
  readonly awsEndpointUrl: string;
  /** AWS_REGION, always `us-east-1`. */
  readonly awsRegion: string;
  readonly pg: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    /** TEST_PG_URL: `postgres://postgres:<pw>@127.0.0.1:<port>/postgres` (the maintenance database). */
    readonly url: string;
    /** TEST_PG_CA_FILE: the test CA that signed the server's certificate (which names 127.0.0.1 only). */
    readonly caFile: string;
    /** The PEM in {@link caFile}. */
    readonly caPem: string;
  };
  /** TEST_HARNESS_STATE_FILE: JSON with the same values, for tools that run outside jest. */
  readonly stateFile: string;
}

const REQUIRED = [
  'AWS_ENDPOINT_URL',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'PGHOST',
  'PGPORT',
  'PGUSER',
  'PGPASSWORD',
  'TEST_PG_URL',
  'TEST_PG_CA_FILE',
  'TEST_HARNESS_STATE_FILE',
] as const;

/**
 * Reads the harness environment.
 *
 * @throws when global setup did not run (e.g. a test file run with a jest config that lacks `globalSetup`), or when
 *         the endpoints are not on the loopback interface — tests never talk to anything else.
 */
export function harnessEnv(): HarnessEnv {
  const missing = REQUIRED.filter((name) => (process.env[name] ?? '') === '');
  if (missing.length > 0) {
    throw new Error(
      `The test harness environment is missing ${missing.join(', ')}: jest global setup (test/support/global-setup.ts) ` +
        'did not run. Run the tests through `npx jest` from the repository root so package.json\'s jest config applies.',
    );
  }
  const env = process.env as Record<(typeof REQUIRED)[number], string>;
  const endpoint = new URL(env.AWS_ENDPOINT_URL);
  if (endpoint.hostname !== '127.0.0.1' || env.PGHOST !== '127.0.0.1') {
    throw new Error(
      `The test harness must only use 127.0.0.1, but AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL} and PGHOST=${env.PGHOST}.`,
    );
  }
  return {
    awsEndpointUrl: env.AWS_ENDPOINT_URL,
    awsRegion: env.AWS_REGION,
    pg: {
      host: env.PGHOST,
      port: Number(env.PGPORT),
      user: env.PGUSER,
      password: env.PGPASSWORD,
      url: env.TEST_PG_URL,
      caFile: env.TEST_PG_CA_FILE,
      caPem: readFileSync(env.TEST_PG_CA_FILE, 'utf8'),
    },
    stateFile: env.TEST_HARNESS_STATE_FILE,
  };
}
