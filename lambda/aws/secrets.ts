/**
 * Database credentials in Secrets Manager, RDS style: a JSON `SecretString`
 * `{ "username", "password", "host", "port", "dbname", "engine" }` (what RDS, Aurora and `rds.DatabaseSecret` write).
 *
 * Reading: any RDS-style secret, by ARN or name. Creating: the master credentials of databases this package creates
 * (recovery-test scratch instances, DR restores). Such a password is generated inside a Lambda, written only to the
 * secret and to RDS, and read back by ARN by whoever connects: it never travels through a Step Functions payload
 * (which execution logs record with ALL data) and never appears in a log line or an error message.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { InvalidInput, SecretConflict } from '../common/errors';
import { SCRATCH_SECRET_PREFIX } from '../common/names';
import { parseCaPem } from '../postgres/ca-pem';

/** A Secrets Manager secret ARN, as handler inputs must give it. */
export const SECRET_ARN_PATTERN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/** The message part after "<field> " for a value that is not {@link SECRET_ARN_PATTERN}. */
export const SECRET_ARN_HINT = 'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)';

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

/**
 * Fetches a CA certificate kept in a secret: its `SecretString` is the PEM itself (one or more certificates), so a
 * CA bundle of any size up to the secret's 64 KiB reaches the handler without passing through an environment
 * variable or a Step Functions payload.
 *
 * @throws InvalidInput when the secret holds no readable PEM certificate.
 */
export async function getCaCertificate(client: SecretsManagerClient, secretArn: string): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  try {
    return parseCaPem(out.SecretString ?? '', `secret ${secretArn}`);
  } catch (error) {
    throw new InvalidInput((error as Error).message);
  }
}

/** The secret name of a scratch resource: `cdk-backup-dr/scratch/<identifier>`. */
export function scratchSecretName(identifier: string): string {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(identifier)) {
    throw new RangeError(`a scratch secret is named after an RDS identifier (lowercase letters, digits, hyphens); got ${JSON.stringify(identifier)}`);
  }
  return `${SCRATCH_SECRET_PREFIX}${identifier}`;
}

/** A tag, as Secrets Manager takes it. */
export interface SecretTag {
  readonly Key: string;
  readonly Value: string;
}

/** Options of {@link createCredentialsSecret}. */
export interface CreateCredentialsSecretOptions {
  readonly name: string;
  readonly description: string;
  readonly username: string;
  /** Never logged. */
  readonly password: string;
  /** @default 'postgres' */
  readonly engine?: string;
  /** @default 5432 */
  readonly port?: number;
  /** @default 'postgres' */
  readonly dbname?: string;
  readonly tags: readonly SecretTag[];
  /** @default - the account's `aws/secretsmanager` key */
  readonly kmsKeyId?: string;
  /**
   * The tag (key and value) that marks a secret as created by the same caller: when a secret of that name already
   * exists and carries it, it is the one a previous attempt created and is returned (with its password); otherwise
   * creating fails.
   */
  readonly ownerTag: SecretTag;
}

/** What {@link createCredentialsSecret} returns. */
export interface CredentialsSecret {
  readonly arn: string;
  readonly name: string;
  /** False when a previous attempt had already created it. */
  readonly created: boolean;
  /** The password stored in the secret (the existing one when `created` is false). Never logged. */
  readonly password: string;
  readonly username: string;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/**
 * Creates an RDS-style credentials secret. Safe to retry: a secret of the same name carrying `ownerTag` is
 * returned as it is (its stored password wins, so a database created by the previous attempt keeps matching it).
 *
 * @throws SecretConflict when the name is taken by a secret without `ownerTag`.
 */
export async function createCredentialsSecret(client: SecretsManagerClient, options: CreateCredentialsSecretOptions): Promise<CredentialsSecret> {
  const secretString = JSON.stringify({
    username: options.username,
    password: options.password,
    engine: options.engine ?? 'postgres',
    port: options.port ?? 5432,
    dbname: options.dbname ?? 'postgres',
  });
  try {
    const out = await client.send(
      new CreateSecretCommand({
        Name: options.name,
        Description: options.description,
        SecretString: secretString,
        ...(options.kmsKeyId !== undefined ? { KmsKeyId: options.kmsKeyId } : {}),
        Tags: options.tags.map((t) => ({ Key: t.Key, Value: t.Value })),
      }),
    );
    if (out.ARN === undefined) throw new Error(`CreateSecret ${options.name} returned no ARN`);
    return { arn: out.ARN, name: options.name, created: true, password: options.password, username: options.username };
  } catch (error) {
    if (!isNamed(error, 'ResourceExistsException')) throw error;
    const existing = await client.send(new DescribeSecretCommand({ SecretId: options.name }));
    const owned = (existing.Tags ?? []).some((t) => t.Key === options.ownerTag.Key && t.Value === options.ownerTag.Value);
    if (!owned || existing.ARN === undefined) {
      throw new SecretConflict(`secret ${options.name} already exists and was not created by this caller (no ${options.ownerTag.Key} tag with its value); nothing was changed`);
    }
    if (existing.DeletedDate !== undefined) {
      throw new SecretConflict(`secret ${options.name} is scheduled for deletion; nothing was changed`);
    }
    const stored = await getDatabaseSecret(client, existing.ARN);
    return { arn: existing.ARN, name: options.name, created: false, password: stored.password, username: stored.username };
  }
}

/**
 * Deletes a secret at once ({@link deleteSecretNow}) only when its tags pass `isOwned`; a secret that does not exist is
 * `not-found`. Anything else is left alone and `refuse(tags)` is thrown.
 */
export async function deleteOwnedSecretNow(
  client: SecretsManagerClient,
  secretId: string,
  isOwned: (tags: Readonly<Record<string, string>>) => boolean,
  refuse: () => Error,
): Promise<SecretDeleteOutcome> {
  let tags: Record<string, string>;
  try {
    const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
    tags = Object.fromEntries((described.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']));
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return 'not-found';
    throw error;
  }
  if (!isOwned(tags)) throw refuse();
  return deleteSecretNow(client, secretId);
}

/** Outcome of {@link deleteSecretNow}. */
export type SecretDeleteOutcome = 'deleted' | 'not-found';

/**
 * Deletes a secret at once (ForceDeleteWithoutRecovery: no 7-day recovery window for a throw-away password).
 * A secret that does not exist (or is already deleted) is `not-found`, not an error.
 */
export async function deleteSecretNow(client: SecretsManagerClient, secretId: string): Promise<SecretDeleteOutcome> {
  try {
    await client.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
    return 'deleted';
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return 'not-found';
    // A secret already scheduled for deletion answers InvalidRequestException; it is going away either way.
    if (isNamed(error, 'InvalidRequestException') && /scheduled for deletion|marked for deletion/i.test((error as Error).message)) return 'deleted';
    throw error;
  }
}
