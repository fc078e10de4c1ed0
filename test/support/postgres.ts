/**
 * Helpers for tests that need a database on the harness' real PostgreSQL 15. Each test file creates its own
 * database (unique name) and drops it afterwards, so files can run in parallel workers against one server.
 *
 * @example
 * let db: TestDatabase;
 * beforeAll(async () => { db = await createTestDatabase('dump'); });
 * afterAll(async () => { await dropTestDatabase(db.name); });
 * it('counts rows', async () => {
 *   await withPgClient(db.name, async (client) => { await client.query('CREATE TABLE t (id int)'); });
 * });
 */
import { randomBytes } from 'node:crypto';
import { CreateSecretCommand, DescribeSecretCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client, type ClientConfig } from 'pg';
import { harnessEnv } from './env';

/** A database created for one test file. */
export interface TestDatabase {
  /** The database name: `<prefix>_<random>`, lower case, safe to use unquoted. */
  readonly name: string;
  /** `postgres://postgres:<pw>@127.0.0.1:<port>/<name>` */
  readonly url: string;
  /** Config for `new pg.Client(...)` connected to this database. */
  readonly clientConfig: ClientConfig;
}

/**
 * Connection config for a database on the harness server (default: the `postgres` maintenance database), verifying
 * the server's certificate against the test CA as the product does against the RDS CA bundle.
 */
export function pgClientConfig(database = 'postgres'): ClientConfig {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, ssl: { ca: pg.caPem, rejectUnauthorized: true } };
}

/**
 * The TLS of a product target (`PgTarget`) that connects to the harness server: full verification against the test
 * CA, given the way a user gives their own CA.
 */
export function harnessTls(): { readonly sslMode: 'verify-full'; readonly sslRootCert: string } {
  return { sslMode: 'verify-full', sslRootCert: harnessEnv().pg.caPem };
}

/**
 * ARN of a secret in the emulator holding the test CA's PEM: what a handler's `target.sslRootCertSecretArn` takes
 * when a test points it at the harness server (created on first use, shared by every test of the run).
 */
export async function harnessCaSecretArn(region?: string): Promise<string> {
  const client = new SecretsManagerClient(region === undefined ? {} : { region });
  const name = 'cdk-backup-dr-test/harness-ca';
  try {
    try {
      return (await client.send(new CreateSecretCommand({ Name: name, SecretString: harnessEnv().pg.caPem }))).ARN as string;
    } catch (error) {
      if (!(error instanceof ResourceExistsException)) throw error;
      return (await client.send(new DescribeSecretCommand({ SecretId: name }))).ARN as string;
    }
  } finally {
    client.destroy();
  }
}

/** The connection URL of a database on the harness server. */
export function pgUrl(database = 'postgres'): string {
  const { pg } = harnessEnv();
  return `postgres://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@${pg.host}:${pg.port}/${encodeURIComponent(database)}`;
}

/** A connected client; the caller ends it. */
export async function connectPg(database = 'postgres'): Promise<Client> {
  const client = new Client(pgClientConfig(database));
  await client.connect();
  return client;
}

/** Runs `fn` with a connected client and always ends the client. */
export async function withPgClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectPg(database);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates an empty database with a unique name starting with `prefix` (letters, digits and `_` are kept, the rest
 * becomes `_`; the name is at most 63 characters, PostgreSQL's limit).
 */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const cleaned = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^([^a-z_])/, '_$1');
  const name = `${cleaned.slice(0, 50)}_${randomBytes(5).toString('hex')}`;
  await withPgClient('postgres', async (client) => {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  });
  return { name, url: pgUrl(name), clientConfig: pgClientConfig(name) };
}

/** Drops a database, disconnecting whoever is still connected to it; does nothing if it does not exist. */
export async function dropTestDatabase(name: string): Promise<void> {
  await withPgClient('postgres', async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}
