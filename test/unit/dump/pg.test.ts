import {
  choosePartSize,
  countRowsSql,
  DEFAULT_PART_SIZE,
  MIN_PART_SIZE,
  parsePgDumpVersion,
  parseServerVersion,
  pgDumpCompatibilityProblem,
  qualifiedName,
} from '../../../lambda/postgres/pg';
import { describeConnectError } from '../../../lambda/postgres/target';
import {
  pgDumpallGlobalsArgs,
  resolvePgDumpallPath,
  describePgToolExit,
  largeWritesEnv,
  libpqEnv,
  OutputTail,
  STDERR_TAIL_BYTES,
  pgDumpArgs,
  resolvePgDumpPath,
  STDBUF_LIBRARY_CANDIDATES,
} from '../../../lambda/postgres/pg-tools';
import { PG_DUMP_WRITE_BYTES } from '../../../lambda/postgres/stdbuf';

const TARGET = { host: 'db.internal', port: 5432, user: 'backup', password: 'p@ss:w/rd', database: 'app' };

describe('identifiers', () => {
  it('quotes mixed case, spaces and embedded quotes', () => {
    expect(qualifiedName('MixedCase', 'Order Items')).toBe('"MixedCase"."Order Items"');
    expect(qualifiedName('odd"schema', 'a.b')).toBe('"odd""schema"."a.b"');
    expect(countRowsSql('public', 'x"; DROP TABLE y; --')).toBe('SELECT count(*) AS rows FROM "public"."x""; DROP TABLE y; --"');
  });
});

describe('versions', () => {
  it('reads pg_dump --version and server_version texts', () => {
    expect(parsePgDumpVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n')).toEqual({ major: 15, text: '15.18' });
    expect(parsePgDumpVersion('pg_dump (PostgreSQL) 16beta2')).toEqual({ major: 16, text: '16' });
    expect(parsePgDumpVersion('pg_dump (PostgreSQL) 9.6.24')).toEqual({ major: 9.6, text: '9.6.24' });
    expect(parsePgDumpVersion('psql (PostgreSQL) 15.1')).toBeUndefined();
    expect(parseServerVersion('15.18 (Debian 15.18-1.pgdg120+1)')).toEqual({ major: 15, text: '15.18' });
    expect(parseServerVersion('16.4')).toEqual({ major: 16, text: '16.4' });
  });

  it('refuses a pg_dump older than the server, and says what to install', () => {
    expect(pgDumpCompatibilityProblem({ major: 16, text: '16.1' }, { major: 15, text: '15.18' })).toBeUndefined();
    expect(pgDumpCompatibilityProblem({ major: 15, text: '15.18' }, { major: 15, text: '15.2' })).toBeUndefined();
    expect(pgDumpCompatibilityProblem({ major: 15, text: '15.18' }, { major: 16, text: '16.4' })).toMatch(
      /pg_dump 15.18 cannot dump a PostgreSQL 16.4 server.*pg_dump 16 or newer/,
    );
  });
});

describe('choosePartSize', () => {
  it("uses S3's 5 MiB minimum for ordinary databases and grows in 5 MiB steps to stay within 10,000 parts", () => {
    expect(DEFAULT_PART_SIZE).toBe(5 * 1024 * 1024);
    expect(choosePartSize(39 * 1024 ** 3)).toBe(DEFAULT_PART_SIZE);
    expect(choosePartSize(40 * 1024 ** 3)).toBe(2 * MIN_PART_SIZE);
    expect(choosePartSize(undefined)).toBe(DEFAULT_PART_SIZE);
    expect(choosePartSize(0)).toBe(DEFAULT_PART_SIZE);
    expect(choosePartSize(10 * 1024 ** 3)).toBe(DEFAULT_PART_SIZE);
    const oneTerabyte = 1024 ** 4;
    const part = choosePartSize(oneTerabyte);
    expect(part % MIN_PART_SIZE).toBe(0);
    expect(Math.ceil(oneTerabyte / part)).toBeLessThanOrEqual(10_000);
  });
});

describe('libpqEnv', () => {
  it('puts connection and password in PG* variables and inherits no other PG* or AWS variable', () => {
    const env = libpqEnv(TARGET, { PATH: '/usr/bin', PGHOST: 'evil', PGSERVICE: 'x', AWS_SECRET_ACCESS_KEY: 'k', HOME: '/root' }, 'app');
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      PGHOST: 'db.internal',
      PGPORT: '5432',
      PGUSER: 'backup',
      PGDATABASE: 'app',
      PGPASSWORD: 'p@ss:w/rd',
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: expect.stringMatching(/cdk-backup-dr-ca-[0-9a-f]{16}\.pem$/),
      PGAPPNAME: 'app',
      PGCONNECT_TIMEOUT: '15',
    });
  });

  it('puts the pg tools layer libraries first on the library path (Lambda appends /opt/lib last)', () => {
    const env = libpqEnv(TARGET, { LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/opt/lib', PG_TOOLS_LIB_DIR: '/opt/lib' }, 'app');
    expect(env.LD_LIBRARY_PATH).toBe('/opt/lib:/var/lang/lib:/lib64');
    expect(libpqEnv(TARGET, { PG_TOOLS_LIB_DIR: '/opt/lib' }, 'app').LD_LIBRARY_PATH).toBe('/opt/lib');
    expect(libpqEnv(TARGET, { LD_LIBRARY_PATH: '/lib64' }, 'app').LD_LIBRARY_PATH).toBe('/lib64');
  });

  it('keeps anything secret or user-given off the pg_dump command line', () => {
    expect(pgDumpArgs('00000003-00000051-1')).toEqual(['--format=custom', '--snapshot=00000003-00000051-1', '--no-password']);
    expect(() => pgDumpArgs('1; rm -rf /')).toThrow(/unexpected snapshot id/);
  });

  it('passes the compression argument, and only in its own form', () => {
    expect(pgDumpArgs('00000003-00000051-1', '--compress=3')).toEqual([
      '--format=custom', '--snapshot=00000003-00000051-1', '--compress=3', '--no-password',
    ]);
    expect(pgDumpArgs('1-2', '--compress=zstd:19')).toContain('--compress=zstd:19');
    expect(() => pgDumpArgs('1-2', '--compress=3 --file=/etc/passwd')).toThrow(/unexpected compression argument/);
  });
});

describe('secret scrubbing', () => {
  it('removes the password (plain and URL-encoded) and URL userinfo from pg_dump stderr', () => {
    const stderr =
      'pg_dump: error: connection to server at "db.internal" failed: FATAL: password authentication failed\n' +
      'pg_dump: detail: tried postgres://backup:p%40ss%3Aw%2Frd@db.internal/app and password=p@ss:w/rd and postgres://other:hunter2@h/db\n';
    const message = describePgToolExit('pg_dump', 1, null, stderr, [TARGET.password]);
    expect(message).toMatch(/^pg_dump exited with code 1: pg_dump: error: connection to server/);
    expect(message).not.toContain('p@ss:w/rd');
    expect(message).not.toContain('p%40ss%3Aw%2Frd');
    expect(message).not.toContain('hunter2');
    expect(message).toContain('postgres://other:***@h/db');
    expect(message).not.toMatch(/\n/);
  });

  it('names a kill by its signal', () => {
    expect(describePgToolExit('pg_dump', null, 'SIGKILL', '', [])).toBe('pg_dump was killed by SIGKILL');
  });

  it('scrubs connection failures', () => {
    const message = describeConnectError(TARGET, TARGET.database, Object.assign(new Error('password p@ss:w/rd rejected'), { code: '28P01' }), 'check the database name');
    expect(message).toBe("cannot connect to db.internal:5432/app as backup: password *** rejected (check the secret's username and password)");
    expect(describeConnectError(TARGET, TARGET.database, Object.assign(new Error('database "app" does not exist'), { code: '3D000' }), 'check the database name')).toMatch(
      /does not exist \(check the database name\)$/,
    );
  });
});

describe('OutputTail', () => {
  it('keeps only the last bytes and marks the cut', () => {
    const tail = new OutputTail(10);
    tail.push(Buffer.from('0123456789'));
    tail.push(Buffer.from('abcdef'));
    expect(tail.toString()).toBe('…6789abcdef');
    const short = new OutputTail(10);
    short.push(Buffer.from('abc'));
    expect(short.toString()).toBe('abc');
  });

  it('by default keeps the last 4 KiB of a long stderr, so the causes of 25 failed databases fit the 256 KiB state payload', () => {
    const tail = new OutputTail();
    for (let i = 0; i < 100; i++) tail.push(Buffer.from(`pg_dump: warning ${i}: ${'x'.repeat(1000)}\n`));
    tail.push(Buffer.from('pg_dump: error: query failed: permission denied for table orders\n'));
    const text = tail.toString();
    expect(Buffer.byteLength(text) - Buffer.byteLength('…')).toBe(STDERR_TAIL_BYTES);
    expect(text.endsWith('permission denied for table orders\n')).toBe(true);
    const message = describePgToolExit('pg_dump', 1, null, text, []);
    // A Lambda error's Cause holds the message twice: errorMessage, and the first line of the trace.
    expect(25 * 2 * Buffer.byteLength(message)).toBeLessThan(256 * 1024);
  });
});

describe('resolvePgDumpPath', () => {
  it('prefers the option, then PG_DUMP_PATH, then the layer, then PATH', () => {
    expect(resolvePgDumpPath('/x/pg_dump', { PG_DUMP_PATH: '/y' }, () => true)).toBe('/x/pg_dump');
    expect(resolvePgDumpPath(undefined, { PG_DUMP_PATH: '/y/pg_dump' }, () => true)).toBe('/y/pg_dump');
    expect(resolvePgDumpPath(undefined, {}, (p) => p === '/opt/bin/pg_dump')).toBe('/opt/bin/pg_dump');
    expect(resolvePgDumpPath(undefined, {}, () => false)).toBe('pg_dump');
  });
});

describe('pg_dumpall', () => {
  it('is found like pg_dump: option, PG_DUMPALL_PATH, the layer, PATH', () => {
    expect(resolvePgDumpallPath(undefined, { PG_DUMPALL_PATH: '/y/pg_dumpall', PG_DUMP_PATH: '/z' }, () => true)).toBe('/y/pg_dumpall');
    expect(resolvePgDumpallPath(undefined, {}, (p) => p === '/opt/bin/pg_dumpall')).toBe('/opt/bin/pg_dumpall');
    expect(resolvePgDumpallPath(undefined, {}, () => false)).toBe('pg_dumpall');
  });

  it('dumps only the globals, without passwords, from the dumped database, nothing secret in argv', () => {
    expect(pgDumpallGlobalsArgs('Billing-2024')).toEqual(['--globals-only', '--no-role-passwords', '--no-password', '--database=Billing-2024']);
    expect(() => pgDumpallGlobalsArgs('')).toThrow(/unexpected database name/);
  });
});

describe('largeWritesEnv', () => {
  it("preloads the first libstdbuf found, the layer's before the system's, with 128 KiB writes", () => {
    const found = new Set(['/opt/lib/libstdbuf.so', '/usr/libexec/coreutils/libstdbuf.so']);
    expect(STDBUF_LIBRARY_CANDIDATES[0]).toBe('/opt/lib/libstdbuf.so');
    expect(largeWritesEnv({}, (p) => found.has(p))).toEqual({ LD_PRELOAD: '/opt/lib/libstdbuf.so', _STDBUF_O: '131072' });
    expect(PG_DUMP_WRITE_BYTES).toBe(131072);
    expect(largeWritesEnv({}, (p) => p === '/usr/lib64/coreutils/libstdbuf.so').LD_PRELOAD).toBe('/usr/lib64/coreutils/libstdbuf.so');
  });

  it('changes nothing when no libstdbuf exists, or when PG_DUMP_STDBUF_LIBRARY is none', () => {
    expect(largeWritesEnv({}, () => false)).toEqual({});
    expect(largeWritesEnv({ PG_DUMP_STDBUF_LIBRARY: 'none' }, () => true)).toEqual({});
  });

  it('takes the copy PG_DUMP_STDBUF_LIBRARY names', () => {
    expect(largeWritesEnv({ PG_DUMP_STDBUF_LIBRARY: '/x/libstdbuf.so' }, () => false)).toEqual({ LD_PRELOAD: '/x/libstdbuf.so', _STDBUF_O: '131072' });
  });
});
