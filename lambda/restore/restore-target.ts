/**
 * The `target` of the restore and restore-verify handlers: which database to connect to, with credentials from an
 * RDS-style Secrets Manager secret. Validated before any side effect; the password is read at run time and never
 * logged.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidInput } from '../common/errors';
import { MANIFEST_SUFFIX, parseBackupKey } from '../backup/manifest';
import { type PgTarget } from '../postgres/target';
import { parseTlsInput, resolveTls, type TlsInput } from '../postgres/tls-input';
import { getDatabaseSecret, SECRET_ARN_HINT, SECRET_ARN_PATTERN } from '../aws/secrets';
import { expectNumber, expectObject, expectString, optionalString } from '../common/validate';
import { DATABASE_NAME_HINT, DATABASE_NAME_PATTERN } from '../common/names';

/** Where a handler restores to or verifies. */
export interface RestoreTargetInput extends TlsInput {
  /** ARN of an RDS-style secret `{ username, password, host?, port? }` (what RDS and `rds.DatabaseSecret` write). */
  readonly secretArn: string;
  /** @default - the secret's `host` */
  readonly host?: string;
  /** @default - the secret's `port`, else 5432 */
  readonly port?: number;
  /** The database to restore into / verify (not the secret's `dbname`: a restore goes to a scratch name). */
  readonly database: string;
}

/** Validates a handler's `target` field. */
export function parseRestoreTarget(value: unknown, field = 'target'): RestoreTargetInput {
  const v = expectObject(value, field);
  const secretArn = expectString(v.secretArn, `${field}.secretArn`, SECRET_ARN_PATTERN, SECRET_ARN_HINT);
  const host = optionalString(v.host, `${field}.host`);
  const port = v.port === undefined ? undefined : expectNumber(v.port, `${field}.port`, 1);
  if (port !== undefined && (!Number.isInteger(port) || port > 65535)) {
    throw new InvalidInput(`${field}.port must be a whole number from 1 to 65535; got ${port}`);
  }
  const database = expectString(v.database, `${field}.database`, DATABASE_NAME_PATTERN, DATABASE_NAME_HINT);
  const { sslMode, sslRootCertSecretArn } = parseTlsInput(v, field);
  return { secretArn, host, port, database, sslMode, ...(sslRootCertSecretArn === undefined ? {} : { sslRootCertSecretArn }) };
}

/** Validates a manifest key: a key in the backup layout ending in `.manifest.json`. */
export function parseManifestKey(value: unknown, field = 'manifestKey'): string {
  const key = expectString(value, field);
  if (parseBackupKey(key)?.kind !== 'manifest') {
    throw new InvalidInput(
      `${field} must be a manifest key postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>${MANIFEST_SUFFIX}; got ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/**
 * Resolves a validated target into connection details: credentials from the secret, host and port from the input
 * when given, else from the secret.
 *
 * @throws InvalidInput when the secret is not RDS-style JSON or neither the input nor the secret names a host.
 */
export async function resolveRestoreTarget(secrets: SecretsManagerClient, input: RestoreTargetInput): Promise<PgTarget> {
  const secret = await getDatabaseSecret(secrets, input.secretArn);
  const host = input.host ?? secret.host;
  if (!host) {
    throw new InvalidInput(`target.host is not given and secret ${input.secretArn} has no "host"; give one of them`);
  }
  return {
    host,
    port: input.port ?? secret.port ?? 5432,
    user: secret.username,
    password: secret.password,
    database: input.database,
    ...(await resolveTls(secrets, input)),
  };
}
