/**
 * Input and output of the dump handler, and the validation that runs before any side effect. Pure.
 */
import { InvalidInput } from '../common/errors';
import { type Tier } from './manifest';
import { SSL_MODES, type PgTarget, type SslMode } from '../postgres/target';
import { parsePort, SECRET_ARN_HINT, SECRET_ARN_PATTERN } from '../aws/secrets';
import { expectObject, expectOneOf, expectString, expectTiers } from '../common/validate';
import { DATABASE_NAME_HINT, isDatabaseName } from '../common/names';

/** The target as an RDS-style secret alone: host, port and credentials all from the secret. */
export interface SecretTarget {
  /** ARN of an RDS-style secret `{ username, password, host, port, ... }`. */
  readonly secretArn: string;
  /** @default 'prefer' */
  readonly sslMode?: SslMode;
}

/** The target by address, with the credentials (and anything not given here) from the secret. */
export interface EndpointTarget {
  readonly host: string;
  /**
   * A number, or a string of digits (CDK's endpoint port tokens resolve to strings).
   * @default - the secret's port, else 5432
   */
  readonly port?: number | string;
  /** @default - the secret's username */
  readonly username?: string;
  readonly secretArn: string;
  /** @default 'prefer' */
  readonly sslMode?: SslMode;
}

/** What to connect to. `host`/`port`/`username` given here override the secret's. */
export type DumpTarget = SecretTarget | EndpointTarget;

/** Input of the dump handler. */
export interface DumpInput {
  readonly target: DumpTarget;
  /** Databases to dump, one backup each, in this order. */
  readonly databases: readonly string[];
  /** The tiers this run satisfies (recorded in each manifest). */
  readonly tiers: readonly Tier[];
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

/** Output of the dump handler. */
export interface DumpOutput {
  readonly backups: readonly DumpOutputBackup[];
}

/** {@link DumpInput} after validation: normalized port, canonical tiers, no duplicate databases. */
export interface ValidDumpInput {
  readonly target: {
    readonly secretArn: string;
    readonly host?: string;
    readonly port?: number;
    readonly username?: string;
    readonly sslMode: SslMode;
  };
  readonly databases: readonly string[];
  readonly tiers: readonly Tier[];
}

/** Most databases one invocation dumps (each must fit in the function's timeout). */
export const MAX_DATABASES_PER_RUN = 50;

const HOST = /^[A-Za-z0-9.:_-]{1,253}$/;
const KNOWN_TARGET_FIELDS = ['secretArn', 'host', 'port', 'username', 'sslMode'];
const KNOWN_FIELDS = ['target', 'databases', 'tiers'];

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
  const sslMode = target.sslMode === undefined ? 'prefer' : expectOneOf(target.sslMode, 'target.sslMode', SSL_MODES);
  if (host === undefined && (port !== undefined || username !== undefined)) {
    throw new InvalidInput('target.port and target.username need target.host; give the host too, or none of them to use the secret');
  }

  if (!Array.isArray(root.databases) || root.databases.length === 0) {
    throw new InvalidInput('databases must be a non-empty array of database names');
  }
  if (root.databases.length > MAX_DATABASES_PER_RUN) {
    throw new InvalidInput(`databases names ${root.databases.length} databases; at most ${MAX_DATABASES_PER_RUN} per run`);
  }
  const databases = root.databases.map((name: unknown, i) => {
    const text = expectString(name, `databases[${i}]`);
    if (!isDatabaseName(text)) throw new InvalidInput(`databases[${i}] ${DATABASE_NAME_HINT}; got ${JSON.stringify(text)}`);
    return text;
  });
  const duplicate = databases.find((name, i) => databases.indexOf(name) !== i);
  if (duplicate !== undefined) throw new InvalidInput(`databases names ${JSON.stringify(duplicate)} twice; name each database once`);
  const tiers = expectTiers(root.tiers, 'tiers');
  return { target: { secretArn, host, port, username, sslMode }, databases, tiers };
}

/** The connection settings after merging the input over the secret (pure): a target without its database. */
export type ResolvedConnection = Required<Omit<PgTarget, 'database'>>;

/**
 * Merges the validated target with the secret's fields: input wins, then the secret, then port 5432.
 *
 * @throws InvalidInput when neither names a host.
 */
export function resolveConnection(
  target: ValidDumpInput['target'],
  secret: { readonly username: string; readonly password: string; readonly host?: string; readonly port?: number },
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
  };
}
