import { main, parseDatabaseUrl, parseTiers, UsageError, type CliIo } from '../../../bin/cli';

function capture(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { env, stdout: (t) => (out += t), stderr: (t) => (err += t), out: () => out, err: () => err };
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

  it('takes the password from PGPASSWORD when the URL has none, and defaults port, and sslmode to verify-full', () => {
    expect(parseDatabaseUrl('postgresql://backup@db/app', { PGPASSWORD: 'from-env' })).toMatchObject({
      password: 'from-env',
      port: 5432,
      sslMode: 'verify-full',
    });
  });

  it.each([
    ['not a url', /must be a URL/],
    ['mysql://u:p@h/db', /must start with postgres:\/\//],
    ['postgres://u@h/db', /no password/],
    ['postgres://u:p@h/', /names no database/],
    ['postgres://u:p@h/db?sslmode=prefer', /sslmode=prefer is not supported; use one of verify-full, verify-ca, require, disable/],
  ])('refuses %s', (url, message) => {
    expect(() => parseDatabaseUrl(url, {})).toThrow(UsageError);
    expect(() => parseDatabaseUrl(url, {})).toThrow(message);
  });

  it('never echoes the password of a bad URL', () => {
    expect(() => parseDatabaseUrl('postgres://u:hunter2@h/db?sslmode=bogus', {})).not.toThrow(/hunter2/);
  });
});

describe('parseTiers', () => {
  it('canonicalizes and refuses unknown tiers', () => {
    expect(parseTiers('weekly, daily,weekly')).toEqual(['daily', 'weekly']);
    expect(() => parseTiers('hourly')).toThrow(/--tiers must be a comma-separated list/);
    expect(() => parseTiers(',')).toThrow(UsageError);
  });
});

describe('main', () => {
  it('lists the commands on --help and exits 0', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out()).toMatch(/Commands:\n {2}backup +dump one database/);
  });

  it('prints the backup options on backup --help', async () => {
    const io = capture();
    expect(await main(['backup', '--help'], io)).toBe(0);
    expect(io.out()).toMatch(/--database-url URL/);
    expect(io.out()).toMatch(/--kms-key-id KEY/);
  });

  it('exits 2 with the usage on a missing option, an unknown option or an unknown command', async () => {
    const missing = capture();
    expect(await main(['backup', '--database-url', 'postgres://u:secret-pw@h/db', '--bucket', 'b'], missing)).toBe(2);
    expect(missing.err()).toMatch(/^error: --source is required\n\nUsage: cli backup/);
    expect(missing.err()).not.toContain('secret-pw');

    const unknownOption = capture();
    expect(await main(['backup', '--bukcet', 'b'], unknownOption)).toBe(2);
    expect(unknownOption.err()).toMatch(/^error: Unknown option '--bukcet'/);

    const unknownCommand = capture();
    expect(await main(['restroe'], unknownCommand)).toBe(2);
    expect(unknownCommand.err()).toMatch(/^error: unknown command "restroe"/);

    const nothing = capture();
    expect(await main([], nothing)).toBe(2);
  });
});
