import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { databaseTarget, parseDatabaseUrl, pgpassPassword } from '../../../cli/connection';
import { UsageError } from '../../../cli/io';

const dir = mkdtempSync(path.join(tmpdir(), 'cli-pgpass-'));
function passfile(text: string, mode = 0o600): string {
  const file = path.join(dir, `pgpass-${Math.random().toString(16).slice(2)}`);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('parseDatabaseUrl', () => {
  it('reads user, password, host, port, database and sslmode', () => {
    expect(parseDatabaseUrl('postgres://backup:p%40ss@db.internal:6543/app?sslmode=require', {})).toEqual({
      host: 'db.internal',
      port: 6543,
      user: 'backup',
      password: 'p@ss',
      database: 'app',
      sslMode: 'require',
    });
  });

  it('fills what the URL leaves out from PG* variables, then libpq defaults; sslmode defaults to verify-full', () => {
    expect(parseDatabaseUrl('postgres:///', { PGHOST: 'pg.internal', PGPORT: '6000', PGUSER: 'ops', PGDATABASE: 'app', PGSSLMODE: 'verify-ca' })).toEqual({
      host: 'pg.internal',
      port: 6000,
      user: 'ops',
      database: 'app',
      sslMode: 'verify-ca',
    });
    expect(parseDatabaseUrl('postgresql://backup@db', { USER: 'me' })).toEqual({ host: 'db', port: 5432, user: 'backup', database: 'me', sslMode: 'verify-full' });
  });

  it.each([
    ['not a url', /must be a URL/],
    ['mysql://u:p@h/db', /must start with postgres:\/\//],
    ['postgres://u:p@h/db?sslmode=prefer', /sslmode=prefer is not supported; use one of verify-full, verify-ca, require, disable/],
  ])('refuses %s', (url, message) => {
    expect(() => parseDatabaseUrl(url, {})).toThrow(UsageError);
    expect(() => parseDatabaseUrl(url, {})).toThrow(message);
  });

  it('refuses a PGSSLMODE it does not support, naming the variable', () => {
    expect(() => parseDatabaseUrl('postgres://u@h/db', { PGSSLMODE: 'allow' })).toThrow(/PGSSLMODE=allow is not supported/);
  });

  it('never echoes the password of a bad URL', () => {
    expect(() => parseDatabaseUrl('postgres://u:hunter2@h/db?sslmode=bogus', {})).not.toThrow(/hunter2/);
  });
});

describe('pgpassPassword', () => {
  const target = { host: 'db.internal', port: 5432, database: 'app', user: 'backup' };

  it('takes the first matching line, with * wildcards and \\: escapes, skipping comments', () => {
    const text = ['# comment', 'other:5432:app:backup:nope', 'db.internal:5432:*:backup:pa\\:ss\\\\w', '*:*:*:*:fallback'].join('\n');
    expect(pgpassPassword(text, target)).toBe('pa:ss\\w');
    expect(pgpassPassword(text, { ...target, user: 'someone' })).toBe('fallback');
    expect(pgpassPassword('db.internal:5433:app:backup:x', target)).toBeUndefined();
  });

  it('matches localhost for a Unix socket directory, as libpq does', () => {
    expect(pgpassPassword('localhost:5432:app:backup:sock', { ...target, host: '/var/run/postgresql' })).toBe('sock');
  });
});

describe('databaseTarget', () => {
  it('needs no password at all (a trust or certificate server): the target has none', () => {
    const target = databaseTarget({ 'database-url': 'postgres://backup@db/app?sslmode=disable' }, { PGPASSFILE: path.join(dir, 'missing') });
    expect(target).toEqual({ host: 'db', port: 5432, user: 'backup', database: 'app', sslMode: 'disable' });
    expect('password' in target).toBe(false);
  });

  it('takes the password from the URL, else PGPASSWORD, else PGPASSFILE', () => {
    const file = passfile('db:5432:app:backup:from-file\n');
    expect(databaseTarget({ 'database-url': 'postgres://backup:from-url@db/app' }, { PGPASSWORD: 'from-env', PGPASSFILE: file }).password).toBe('from-url');
    expect(databaseTarget({ 'database-url': 'postgres://backup@db/app' }, { PGPASSWORD: 'from-env', PGPASSFILE: file }).password).toBe('from-env');
    expect(databaseTarget({ 'database-url': 'postgres://backup@db/app' }, { PGPASSFILE: file }).password).toBe('from-file');
    expect(databaseTarget({}, { PGHOST: 'db', PGUSER: 'backup', PGDATABASE: 'app', PGPASSFILE: file }).password).toBe('from-file');
  });

  it('ignores a password file others can read, with a warning, as libpq does', () => {
    const file = passfile('*:*:*:*:leaky\n', 0o644);
    const warnings: string[] = [];
    const target = databaseTarget({ 'database-url': 'postgres://backup@db/app' }, { PGPASSFILE: file }, (m) => warnings.push(m));
    expect(target.password).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('group or world access; ignored (chmod 0600')]);
  });

  it('uses DATABASE_URL when --database-url is absent, and reads --ssl-root-cert', () => {
    expect(databaseTarget({}, { DATABASE_URL: 'postgres://u:p@from-env/db' }).host).toBe('from-env');
    expect(() => databaseTarget({ 'ssl-root-cert': '/no/such/ca.pem' }, { DATABASE_URL: 'postgres://u:p@h/db' })).toThrow(UsageError);
  });
});
