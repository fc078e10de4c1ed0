/**
 * Database credentials from Secrets Manager, RDS style: a JSON `SecretString`
 * `{ "username", "password", "host", "port", "dbname", "engine" }` (what RDS, Aurora and `rds.DatabaseSecret` write).
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidInput } from './errors';

/** The fields of an RDS-style secret this package reads. */
export interface DatabaseSecret {
  readonly username: string;
  /** Never logged, never in an error message. */
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
  readonly engine?: string;
}

/** Parses a port given as a number or a string of digits (RDS writes numbers, CDK tokens resolve to strings). */
export function parsePort(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Reads the RDS-style JSON of a secret. The error messages name the secret and the field, never a value.
 *
 * @throws InvalidInput when the secret is not JSON or lacks `username`/`password`.
 */
export function parseDatabaseSecret(secretString: string | undefined, secretArn: string): DatabaseSecret {
  if (secretString === undefined) {
    throw new InvalidInput(`secret ${secretArn} has no SecretString; store the credentials as RDS-style JSON`);
  }
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new InvalidInput(
      `secret ${secretArn} is not JSON; store { "username", "password", "host", "port" } as RDS does`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInput(`secret ${secretArn} must hold a JSON object { "username", "password", "host", "port" }`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v.username !== 'string' || v.username === '') {
    throw new InvalidInput(`secret ${secretArn} has no "username" string`);
  }
  if (typeof v.password !== 'string' || v.password === '') {
    throw new InvalidInput(`secret ${secretArn} has no "password" string`);
  }
  if (v.host !== undefined && (typeof v.host !== 'string' || v.host === '')) {
    throw new InvalidInput(`secret ${secretArn} has a "host" that is not a non-empty string`);
  }
  const port = v.port === undefined ? undefined : parsePort(v.port);
  if (v.port !== undefined && port === undefined) {
    throw new InvalidInput(`secret ${secretArn} has a "port" that is not a number between 1 and 65535`);
  }
  return {
    username: v.username,
    password: v.password,
    host: typeof v.host === 'string' ? v.host : undefined,
    port,
    dbname: typeof v.dbname === 'string' ? v.dbname : undefined,
    engine: typeof v.engine === 'string' ? v.engine : undefined,
  };
}

/** Fetches and parses an RDS-style secret. */
export async function getDatabaseSecret(client: SecretsManagerClient, secretArn: string): Promise<DatabaseSecret> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return parseDatabaseSecret(out.SecretString, secretArn);
}
