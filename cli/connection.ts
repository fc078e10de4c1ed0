/**
 * Where the CLI connects, with libpq's habits: a `postgres://` URL (`--database-url`, else `DATABASE_URL`), else the
 * `PG*` variables as psql reads them (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT).
 * The password comes from the URL, else PGPASSWORD, else the password file (`PGPASSFILE`, else `~/.pgpass`, same
 * format and matching rules as libpq, ignored when group or others can read it), else none: a server that asks for
 * none (`trust`, certificate or peer authentication) needs none. One difference from libpq, on purpose: sslmode
 * defaults to `verify-full`, not `prefer`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCaCertificate } from '../lambda/postgres/ca-pem';
import { DEFAULT_SSL_MODE, SSL_MODES, type SslMode } from '../lambda/postgres/ssl-mode';
import type { PgTarget } from '../lambda/postgres/target';
import { UsageError } from './io';

/** One line of a password file. */
interface PgpassEntry {
  readonly fields: readonly string[];
}

/** Splits a `.pgpass` line at unescaped colons, unescaping `\:` and `\\`. */
function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      current += line[i + 1];
      i += 1;
    } else if (c === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  fields.push(current);
  return fields;
}

/**
 * The password of the first line of a password file (`hostname:port:database:username:password`, `*` matching
 * anything, `#` comments) that matches; undefined when none does. `localhost` also matches a Unix-socket host, as in
 * libpq.
 */
export function pgpassPassword(text: string, target: { readonly host: string; readonly port: number; readonly database: string; readonly user: string }): string | undefined {
  const entries: PgpassEntry[] = text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => ({ fields: splitPgpassLine(line) }))
    .filter((e) => e.fields.length === 5);
  const host = target.host.startsWith('/') ? 'localhost' : target.host;
  const wanted = [host, String(target.port), target.database, target.user];
  for (const { fields } of entries) {
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return fields[4];
  }
  return undefined;
}

/** What {@link readPasswordFile} found. */
export interface PasswordFile {
  readonly path: string;
  /** Undefined when the file is missing or ignored. */
  readonly text?: string;
  /** Why the file was ignored (libpq ignores a password file group or others can read). */
  readonly warning?: string;
}

/** Reads `PGPASSFILE`, else `~/.pgpass`; a missing file is not an error. */
export function readPasswordFile(env: NodeJS.ProcessEnv): PasswordFile {
  const file = env.PGPASSFILE ?? path.join(env.HOME ?? os.homedir(), '.pgpass');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return { path: file };
  }
  if (!stat.isFile()) return { path: file, warning: `password file ${file} is not a plain file; ignored` };
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    return { path: file, warning: `password file ${file} has group or world access; ignored (chmod 0600 ${file}, as libpq requires)` };
  }
  return { path: file, text: fs.readFileSync(file, 'utf-8') };
}

function sslModeOf(value: string, where: string): SslMode {
  if (!(SSL_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`${where}=${value} is not supported; use one of ${SSL_MODES.join(', ')}`);
  }
  return value as SslMode;
}

function portOf(value: string, where: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`${where} must be a port from 1 to 65535; got ${JSON.stringify(value)}`);
  return port;
}

/** Where to connect before the password is looked up. */
type Endpoint = Omit<PgTarget, 'password'> & { readonly password?: string };

/**
 * Reads a `postgres://` / `postgresql://` URL; what it leaves out comes from the `PG*` variables, then libpq's
 * defaults (localhost, 5432, the OS user, a database named as the user). `sslmode` from the query string, else
 * PGSSLMODE, else verify-full.
 *
 * @throws UsageError saying what is wrong, never echoing the password.
 */
export function parseDatabaseUrl(text: string, env: NodeJS.ProcessEnv): Endpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('--database-url must be a URL like postgres://user@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`--database-url must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const fromEnv = endpointFromEnvironment(env);
  const user = decodeURIComponent(url.username) || fromEnv.user;
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || fromEnv.database;
  const sslParam = url.searchParams.get('sslmode');
  return {
    host: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || fromEnv.host,
    port: url.port ? portOf(url.port, 'the URL port') : fromEnv.port,
    user,
    database,
    sslMode: sslParam === null ? fromEnv.sslMode : sslModeOf(sslParam, 'sslmode'),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

/** The endpoint the `PG*` variables describe, with libpq's defaults. @throws UsageError */
export function endpointFromEnvironment(env: NodeJS.ProcessEnv): Endpoint {
  const user = env.PGUSER || env.USER || env.LOGNAME || safeUserName();
  if (!user) throw new UsageError('no user: put it in the URL (postgres://USER@host/database) or set PGUSER');
  return {
    host: env.PGHOST || 'localhost',
    port: env.PGPORT ? portOf(env.PGPORT, 'PGPORT') : 5432,
    user,
    database: env.PGDATABASE || user,
    sslMode: env.PGSSLMODE ? sslModeOf(env.PGSSLMODE, 'PGSSLMODE') : DEFAULT_SSL_MODE,
  };
}

function safeUserName(): string | undefined {
  try {
    return os.userInfo().username;
  } catch {
    return undefined;
  }
}

/** Options naming the database, as every database command takes them. */
export const DATABASE_OPTIONS = {
  'database-url': { type: 'string' },
  'ssl-root-cert': { type: 'string' },
} as const;

/** The options text of {@link DATABASE_OPTIONS}, for the usages. */
export const DATABASE_OPTIONS_HELP = `  --database-url URL   postgres://[user[:password]@][host][:port][/database][?sslmode=MODE]
                       (default: DATABASE_URL, else the PG* variables as psql reads them: PGHOST, PGPORT,
                       PGUSER, PGDATABASE, PGSSLMODE). Password: the URL's, else PGPASSWORD, else the password
                       file (PGPASSFILE, else ~/.pgpass), else none (a trust or certificate server needs none).
                       MODE verify-full (default, also for PGSSLMODE), verify-ca, require (no certificate
                       check), disable (no TLS)
  --ssl-root-cert CA   PEM file (or PEM text) of the CA that signed the server's certificate
                       (default: PGSSLROOTCERT, else the Amazon RDS CA bundle)
`;

/**
 * The database of `--database-url`, else `DATABASE_URL`, else the `PG*` variables; its password looked up as
 * libpq does; the CA of `--ssl-root-cert`, else `PGSSLROOTCERT`. Warnings (an ignored password file) go to `warn`.
 *
 * @throws UsageError
 */
export function databaseTarget(
  values: { readonly 'database-url'?: string; readonly 'ssl-root-cert'?: string },
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void = () => undefined,
): PgTarget {
  const url = values['database-url'] ?? env.DATABASE_URL;
  const endpoint = url ? parseDatabaseUrl(url, env) : endpointFromEnvironment(env);
  let password = endpoint.password ?? (env.PGPASSWORD || undefined);
  if (password === undefined) {
    const file = readPasswordFile(env);
    if (file.warning) warn(file.warning);
    if (file.text !== undefined) password = pgpassPassword(file.text, endpoint);
  }
  const target: PgTarget = { ...endpoint, ...(password !== undefined ? { password } : {}) };
  const ca = values['ssl-root-cert'] ?? env.PGSSLROOTCERT;
  if (ca === undefined) return target;
  try {
    return { ...target, sslRootCert: readCaCertificate(ca, '--ssl-root-cert') };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
