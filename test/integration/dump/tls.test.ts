/**
 * Database TLS against the harness' PostgreSQL, which serves a certificate from a test CA naming only 127.0.0.1 (as
 * RDS serves one from the Amazon RDS CA naming its endpoint): full verification by default, through node-postgres
 * and through the libpq children (pg_dump, pg_restore); a wrong CA or a wrong host name fails with what to change;
 * `require` and `disable` work when asked for.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { runDump } from '../../../lambda/backup/dump-core';
import { RestoreFailed } from '../../../lambda/common/errors';
import { libpqEnv, spawnPgTool } from '../../../lambda/postgres/pg-tools';
import { buildConninfo, connect, type PgTarget } from '../../../lambda/postgres/target';
import { AMAZON_RDS_CA_BUNDLE } from '../../../lambda/postgres/tls';
import { runRestore } from '../../../lambda/restore/restore-core';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, harnessTls, withPgClient, type TestDatabase } from '../../support/postgres';
import { createTestCa } from '../../support/test-ca';

jest.setTimeout(120_000);

let db: TestDatabase;
let tmp: string;
let wrongCa: string;

function target(overrides: Partial<PgTarget> = {}): PgTarget {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, ...overrides };
}

/** Whether the session of `target` is encrypted, as the server sees it. */
async function sessionUsesTls(t: PgTarget): Promise<boolean> {
  const client = await connect(t);
  try {
    return (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl;
  } finally {
    await client.end();
  }
}

/** Runs a libpq tool with the target's environment; resolves with its exit code and stderr. */
async function runLibpqTool(tool: 'pg_dump' | 'pg_restore', t: PgTarget, args: string[]): Promise<{ code: number | null; message: string }> {
  const proc = spawnPgTool({ tool, path: tool, args, env: libpqEnv(t, process.env, 'tls-test'), stdin: 'ignore', stdout: 'ignore', secrets: [t.password] });
  const exit = await proc.ended;
  return { code: exit.code, message: proc.describe(exit) };
}

beforeAll(async () => {
  db = await createTestDatabase('tls');
  await withPgClient(db.name, (client) => client.query('CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)'));
  tmp = mkdtempSync(path.join(tmpdir(), 'tls-test-'));
  wrongCa = createTestCa(tmp, 'unrelated').certPem;
});

afterAll(async () => {
  await dropTestDatabase(db.name);
  rmSync(tmp, { recursive: true, force: true });
});

describe('node-postgres (connect)', () => {
  it('verifies the server by default: a server whose certificate is not from Amazon RDS is refused, saying what to change', async () => {
    const error = await connect(target()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreFailed);
    expect((error as Error).message).toMatch(/not signed by the Amazon RDS CA bundle \(sslmode verify-full\): give the CA that signed it/);
    expect((error as Error).message).not.toContain(harnessEnv().pg.password);
  });

  it('connects with verify-full against the CA given, encrypted', async () => {
    expect(await sessionUsesTls(target(harnessTls()))).toBe(true);
  });

  it('refuses a certificate from another CA', async () => {
    await expect(connect(target({ sslRootCert: wrongCa }))).rejects.toThrow(/not signed by the given CA \(sslRootCert\)/);
  });

  it('checks the host name with verify-full (the certificate names 127.0.0.1, not localhost); verify-ca does not', async () => {
    await expect(connect(target({ ...harnessTls(), host: 'localhost' }))).rejects.toThrow(/certificate does not name localhost.*'verify-ca'/);
    expect(await sessionUsesTls(target({ ...harnessTls(), host: 'localhost', sslMode: 'verify-ca' }))).toBe(true);
  });

  it('encrypts without verifying with require, and does not encrypt with disable, each only when asked for', async () => {
    expect(await sessionUsesTls(target({ sslMode: 'require', sslRootCert: wrongCa }))).toBe(true);
    expect(await sessionUsesTls(target({ sslMode: 'disable' }))).toBe(false);
  });
});

describe('libpq children (pg_dump, pg_restore)', () => {
  it('pg_dump verifies the server by default against the Amazon RDS bundle, and against the CA given', async () => {
    const file = path.join(tmp, 'list.dump');
    const byDefault = await runLibpqTool('pg_dump', target(), ['--schema-only', `--file=${file}`]);
    expect(byDefault.code).not.toBe(0);
    expect(byDefault.message).toMatch(/certificate verify failed/);
    expect(await runLibpqTool('pg_dump', target({ sslRootCert: wrongCa }), ['--schema-only', `--file=${file}`])).toMatchObject({ code: 1 });
    expect(await runLibpqTool('pg_dump', target(harnessTls()), ['--schema-only', `--file=${file}`])).toMatchObject({ code: 0 });
    const wrongName = await runLibpqTool('pg_dump', target({ ...harnessTls(), host: 'localhost' }), ['--schema-only', `--file=${file}`]);
    expect(wrongName.message).toMatch(/does not match host name/);
  });

  it('pg_restore verifies the server too', async () => {
    const file = path.join(tmp, 'restore.dump');
    expect(await runLibpqTool('pg_dump', target(harnessTls()), ['--format=custom', `--file=${file}`])).toMatchObject({ code: 0 });
    const refused = await runLibpqTool('pg_restore', target({ sslRootCert: wrongCa }), [`--dbname=${buildConninfo(target())}`, '--schema-only', '--no-owner', file]);
    expect(refused.code).not.toBe(0);
    expect(refused.message).toMatch(/certificate verify failed/);
  });

  it('writes the CA for libpq once, to a file named by its content; the default is the Amazon RDS bundle', () => {
    const env = libpqEnv(target(), process.env, 'tls-test');
    expect(env.PGSSLMODE).toBe('verify-full');
    expect(readFileSync(env.PGSSLROOTCERT as string, 'utf8')).toBe(AMAZON_RDS_CA_BUNDLE);
    expect(libpqEnv(target(), process.env, 'x').PGSSLROOTCERT).toBe(env.PGSSLROOTCERT);
    expect(libpqEnv(target({ sslMode: 'require' }), process.env, 'x').PGSSLROOTCERT).toBeUndefined();
  });
});

describe('dump and restore end to end with verify-full against the given CA', () => {
  it('backs up and restores over verified TLS', async () => {
    const s3 = new S3Client({});
    const bucket = await createTestBucket();
    const tls = harnessTls();
    const result = await runDump({ target: target(tls), bucket, source: 'tls', tiers: ['daily'], s3 });
    const restored = `${db.name}_r`;
    await runRestore({ bucket, manifest: result.manifest, target: target({ ...tls, database: restored }), createDatabase: true, s3 });
    const rows = await withPgClient(restored, (client) => client.query<{ n: string }>('SELECT count(*) AS n FROM t'));
    expect(rows.rows[0].n).toBe('10');
    await dropTestDatabase(restored);
  });
});
