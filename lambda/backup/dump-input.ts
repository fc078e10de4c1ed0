/**
 * Input and output of the dump handler, and the validation that runs before any side effect. Pure.
 */
import { InvalidInput } from '../common/errors';
import { type Tier } from './manifest';
import { type PgTarget } from '../postgres/target';
import { DEFAULT_SSL_MODE, type SslMode } from '../postgres/ssl-mode';
import { parseTlsInput, TLS_INPUT_FIELDS, type TlsInput } from '../postgres/tls-input';
import { parsePort, SECRET_ARN_HINT, SECRET_ARN_PATTERN } from '../aws/secrets';
import { expectObject, expectString, expectTiers } from '../common/validate';
import { DATABASE_NAME_HINT, isDatabaseName } from '../common/names';
import { MAX_DUMP_JOBS } from '../postgres/pg-tools';
import { DEFAULT_COMPRESSION, parseCompression, type Compression } from '../postgres/compression';

/** The target as an RDS-style secret alone: host, port and credentials all from the secret. */
export interface SecretTarget extends TlsInput {
  /** ARN of an RDS-style secret `{ username, password, host, port, ... }`. */
  readonly secretArn: string;
}

/** The target by address, with the credentials (and anything not given here) from the secret. */
export interface EndpointTarget extends TlsInput {
  readonly host: string;
  /**
   * A number, or a string of digits (CDK's endpoint port tokens resolve to strings).
   * @default - the secret's port, else 5432
   */
  readonly port?: number | string;
  /** @default - the secret's username */
  readonly username?: string;
  readonly secretArn: string;
}

/** What to connect to. `host`/`port`/`username` given here override the secret's. */
export type DumpTarget = SecretTarget | EndpointTarget;

/** Input of the dump handler: one database per invocation (the BackupWorkflow's Map runs one per database). */
export interface DumpInput {
  readonly target: DumpTarget;
  /** The database to dump. */
  readonly database: string;
  /** The tiers this run satisfies (recorded in the manifest). */
  readonly tiers: readonly Tier[];
  /**
   * pg_dump's compression: `none`, `gzip:<0-9>`, or `zstd:<1-22>` / `lz4:<1-12>` with a pg_dump of 16 or newer.
   * @default 'gzip:3'
   */
  readonly compression?: string;
  /**
   * pg_dump's parallel jobs: 1 = one streamed custom-format dump; 2 or more = `pg_dump -Fd -j N` into the function's
   * /tmp, each file uploaded once pg_dump closes it (manifest v3).
   * @default 1
   */
  readonly parallelism?: number;
}

/** One completed backup, as the handler returns it. */
export interface DumpOutputBackup {
  readonly database: string;
  readonly manifestKey: string;
  readonly dumpKey: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly versionId: string | null;
  /**
   * How many tables the manifest counted. The counts themselves stay in the manifest: this output travels through
   * Step Functions (256 KiB per state), and a list of every table would not fit for a database with thousands.
   */
  readonly tableCount: number;
}

/** Output of the dump handler: the one completed backup. */
export interface DumpOutput {
  readonly backup: DumpOutputBackup;
}

/** {@link DumpInput} after validation: normalized port, canonical tiers. */
export interface ValidDumpInput {
  readonly target: {
    readonly secretArn: string;
    readonly host?: string;
    readonly port?: number;
    readonly username?: string;
    readonly sslMode: SslMode;
    readonly sslRootCertSecretArn?: string;
  };
  readonly database: string;
  readonly tiers: readonly Tier[];
  readonly compression: Compression;
  readonly parallelism: number;
}

const HOST = /^[A-Za-z0-9.:_-]{1,253}$/;
const KNOWN_TARGET_FIELDS = ['secretArn', 'host', 'port', 'username', ...TLS_INPUT_FIELDS];
const KNOWN_FIELDS = ['target', 'database', 'tiers', 'compression', 'parallelism'];

function rejectUnknown(value: Record<string, unknown>, known: readonly string[], field: string): void {
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new InvalidInput(`${field} has unknown field(s) ${unknown.join(', ')}; expected only ${known.join(', ')}`);
  }
}

/**
 * Validates the dump handler's input.
 *
 * @throws InvalidInput naming the field and what is expected.
 */
export function validateDumpInput(input: unknown): ValidDumpInput {
  const root = expectObject(input, 'input');
  rejectUnknown(root, KNOWN_FIELDS, 'input');
  const target = expectObject(root.target, 'target');
  rejectUnknown(target, KNOWN_TARGET_FIELDS, 'target');
  const secretArn = expectString(target.secretArn, 'target.secretArn', SECRET_ARN_PATTERN, SECRET_ARN_HINT);
  const host =
    target.host === undefined ? undefined : expectString(target.host, 'target.host', HOST, 'must be a host name or IP address');
  let port: number | undefined;
  if (target.port !== undefined) {
    port = parsePort(target.port);
    if (port === undefined) {
      throw new InvalidInput(`target.port must be a port number 1-65535 (number or digits); got ${JSON.stringify(target.port)}`);
    }
  }
  const username = target.username === undefined ? undefined : expectString(target.username, 'target.username');
  const { sslMode = DEFAULT_SSL_MODE, sslRootCertSecretArn } = parseTlsInput(target, 'target');
  if (host === undefined && (port !== undefined || username !== undefined)) {
    throw new InvalidInput('target.port and target.username need target.host; give the host too, or none of them to use the secret');
  }

  const database = expectString(root.database, 'database');
  if (!isDatabaseName(database)) throw new InvalidInput(`database ${DATABASE_NAME_HINT}; got ${JSON.stringify(database)}`);
  const tiers = expectTiers(root.tiers, 'tiers');
  let compression = DEFAULT_COMPRESSION;
  if (root.compression !== undefined) {
    const parsed = parseCompression(expectString(root.compression, 'compression'));
    if ('problem' in parsed) throw new InvalidInput(`compression ${parsed.problem.replace(/^compression\./, '')}`);
    compression = parsed.compression;
  }
  const parallelism = root.parallelism === undefined ? 1 : root.parallelism;
  if (typeof parallelism !== 'number' || !Number.isInteger(parallelism) || parallelism < 1 || parallelism > MAX_DUMP_JOBS) {
    throw new InvalidInput(`parallelism must be an integer from 1 (one custom-format stream) to ${MAX_DUMP_JOBS} (pg_dump -Fd -j N); got ${JSON.stringify(root.parallelism)}`);
  }
  return {
    target: { secretArn, host, port, username, sslMode, ...(sslRootCertSecretArn === undefined ? {} : { sslRootCertSecretArn }) },
    database,
    tiers,
    compression,
    parallelism,
  };
}

/** The connection settings after merging the input over the secret (pure): a target without its database. */
export type ResolvedConnection = Omit<PgTarget, 'database'>;

/**
 * Merges the validated target with the secret's fields: input wins, then the secret, then port 5432. `sslRootCert`
 * is the PEM read from `sslRootCertSecretArn`, when the input names one.
 *
 * @throws InvalidInput when neither names a host.
 */
export function resolveConnection(
  target: ValidDumpInput['target'],
  secret: { readonly username: string; readonly password: string; readonly host?: string; readonly port?: number },
  sslRootCert?: string,
): ResolvedConnection {
  const host = target.host ?? secret.host;
  if (!host) {
    throw new InvalidInput(`secret ${target.secretArn} has no "host" and the input gives no target.host; give one of them`);
  }
  return {
    host,
    port: target.port ?? secret.port ?? 5432,
    user: target.username ?? secret.username,
    password: secret.password,
    sslMode: target.sslMode,
    ...(sslRootCert === undefined ? {} : { sslRootCert }),
  };
}
