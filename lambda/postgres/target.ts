/**
 * A PostgreSQL connection target, the one {@link connect} with its TLS rules, and the pure helpers that turn a
 * target into what libpq (`pg_restore`'s conninfo) and `pg` (node-postgres) expect. The password only ever travels
 * in a child process's `PGPASSWORD` or in the `pg` client config, never on a command line, in a log line or in an
 * error message (see {@link scrubSecrets}).
 */
import { Client, type ClientConfig } from 'pg';
import { RestoreFailed } from '../common/errors';
import { pgSslOptions, tlsFailureHint, type TlsTarget } from './tls';


/** `application_name` of the restore's and the verifies' sessions, in `pg` and in pg_restore (pg_stat_activity). */
export const RESTORE_APPLICATION_NAME = 'cdk-backup-dr-restore';

/** Where to connect, as whom, and how TLS is checked (see {@link TlsTarget}: `verify-full` by default). */
export interface PgTarget extends TlsTarget {
  readonly port: number;
  readonly user: string;
  /**
   * Never logged; passed to the pg tools as `PGPASSWORD` in the child's environment only. Absent when the server
   * asks for none (`trust`, certificate or peer authentication).
   */
  readonly password?: string;
  readonly database: string;
}

/** Quotes a string as a libpq conninfo value: `'...'` with `\` and `'` escaped. */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The libpq connection string for `pg_restore -d`, without the password and without TLS settings (those come from
 * `libpqEnv`'s `PGSSLMODE`/`PGSSLROOTCERT`, the one home of the libpq TLS rules). Passing the whole target as a
 * conninfo string (rather than `-h/-p/-U/-d`) keeps a database name containing `=` or spaces from being misread.
 */
export function buildConninfo(target: PgTarget): string {
  return [
    `host=${conninfoValue(target.host)}`,
    `port=${conninfoValue(String(target.port))}`,
    `user=${conninfoValue(target.user)}`,
    `dbname=${conninfoValue(target.database)}`,
    `application_name=${conninfoValue(RESTORE_APPLICATION_NAME)}`,
    `connect_timeout=${conninfoValue('15')}`,
  ].join(' ');
}

/** Quotes an SQL identifier (`"a""b"`). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Replaces every occurrence of the given secrets (and their URL-encoded forms) in `text` with `***`, and masks
 * `password=...` / `postgres://user:pass@` patterns whatever their value. Secrets shorter than 4 characters are
 * masked too: a short password is still a password.
 */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    variants.add(secret);
    variants.add(encodeURIComponent(secret));
  }
  // Longest first, so a secret that contains another is masked whole.
  for (const variant of [...variants].sort((a, b) => b.length - a.length)) {
    out = out.split(variant).join('***');
  }
  out = out.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***');
  out = out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1***@');
  return out;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** @default - the target's database */
  readonly database?: string;
  /** @default RESTORE_APPLICATION_NAME */
  readonly applicationName?: string;
  /**
   * Receives errors of the idle connection (e.g. the server terminated it).
   * @default - none: the next query on the connection fails with the error
   */
  readonly onError?: (error: Error) => void;
  /**
   * What the message of a failed connection suggests when the database does not exist.
   * @default 'create it first or pass createDatabase: true'
   */
  readonly missingDatabaseHint?: string;
}

/** The `pg` client configuration: TLS from {@link pgSslOptions}. */
export function pgClientConfig(target: PgTarget, database = target.database, applicationName = RESTORE_APPLICATION_NAME): ClientConfig {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database,
    ssl: pgSslOptions(target),
    application_name: applicationName,
    connectionTimeoutMillis: 15_000,
  };
}

/**
 * Opens a `pg` connection with the target's TLS mode (`verify-full` against the Amazon RDS CA bundle unless the
 * target says otherwise; see lambda/postgres/tls.ts). The one way this package connects with node-postgres.
 *
 * @throws RestoreFailed with {@link describeConnectError}'s message: host, port, database and user (never the
 *   password), the server's reason, and what to change.
 */
export async function connect(target: PgTarget, options: ConnectOptions = {}): Promise<Client> {
  const database = options.database ?? target.database;
  const client = new Client(pgClientConfig(target, database, options.applicationName));
  // An error on an idle connection is re-raised by the next query on it; without a listener it would crash.
  client.on('error', options.onError ?? (() => undefined));
  try {
    await client.connect();
    return client;
  } catch (error) {
    throw new RestoreFailed(describeConnectError(target, database, error, options.missingDatabaseHint));
  }
}

/**
 * The message for a failed connection: where, as whom, the server's reason (scrubbed), and a hint for the failures
 * users meet most: a missing database (`missingDatabaseHint`), a wrong password, a certificate that does not verify.
 */
export function describeConnectError(
  target: PgTarget,
  database: string,
  error: unknown,
  missingDatabaseHint = 'create it first or pass createDatabase: true',
): string {
  const reason = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  const where = `${target.host}:${target.port}/${database} as ${target.user}`;
  const hint =
    code === '3D000'
      ? ` (${missingDatabaseHint})`
      : code === '28P01'
        ? " (check the secret's username and password)"
        : tlsHint(error, target);
  return scrubSecrets(`cannot connect to ${where}: ${reason}${hint}`, [target.password]);
}

function tlsHint(error: unknown, target: PgTarget): string {
  const hint = tlsFailureHint(error, target);
  return hint === undefined ? '' : ` (${hint})`;
}
