/**
 * Restoring with the source's roles, on the harness' real PostgreSQL 15 and moto, as a user like RDS's master user:
 * not a superuser, with CREATEROLE and CREATEDB. The source has an owner role, a group with privileges, a login
 * member of it with settings and a connection limit, a role with superuser-only attributes (REPLICATION,
 * BYPASSRLS) and one whose name needs quoting (a quote and a semicolon in it). After the dump the source's roles
 * are dropped, so the restore has to create them.
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runDump, type DumpResult } from '../../../lambda/backup/dump-core';
import { backupKeys, serializeManifest } from '../../../lambda/backup/manifest';
import { ChecksumMismatch, ManifestUnusable } from '../../../lambda/common/errors';
import type { PgTarget } from '../../../lambda/postgres/target';
import { runRestore, type RestoreResult } from '../../../lambda/restore/restore-core';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient } from '../../support/postgres';

jest.setTimeout(300_000);

const s3 = new S3Client({});
const tag = randomBytes(3).toString('hex');
const ROLES = {
  owner: `r${tag}_owner`,
  readers: `r${tag}_readers`,
  app: `r${tag}_app`,
  etl: `r${tag}_etl`,
  odd: `R${tag} "odd"; name`,
};
const MASTER = `r${tag}_master`;
const MASTER_PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const databases: string[] = [];
let bucket: string;
let dump: DumpResult;
let restored: RestoreResult;
let restoredDb: string;

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function asMaster(database: string): PgTarget {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: MASTER, password: MASTER_PASSWORD, database, sslMode: 'disable' };
}

function freshName(label: string): string {
  const name = `roles_${label}_${randomBytes(4).toString('hex')}`;
  databases.push(name);
  return name;
}

async function dropSourceRoles(): Promise<void> {
  await withPgClient('postgres', async (client) => {
    for (const role of Object.values(ROLES)) await client.query(`DROP ROLE IF EXISTS ${q(role)}`);
  });
}

beforeAll(async () => {
  const { pg } = harnessEnv();
  const source = await createTestDatabase('roles_src');
  databases.push(source.name);
  await withPgClient('postgres', async (client) => {
    await client.query(`
      CREATE ROLE ${q(ROLES.owner)} NOLOGIN;
      COMMENT ON ROLE ${q(ROLES.owner)} IS 'owns the shop schema';
      CREATE ROLE ${q(ROLES.readers)} NOLOGIN;
      CREATE ROLE ${q(ROLES.app)} LOGIN CONNECTION LIMIT 5 IN ROLE ${q(ROLES.readers)};
      ALTER ROLE ${q(ROLES.app)} SET search_path = shop, public;
      CREATE ROLE ${q(ROLES.etl)} LOGIN REPLICATION BYPASSRLS;
      CREATE ROLE ${q(ROLES.odd)} NOLOGIN;
      CREATE ROLE ${q(MASTER)} LOGIN CREATEROLE CREATEDB PASSWORD '${MASTER_PASSWORD}';
    `);
  });
  await withPgClient(source.name, async (client) => {
    await client.query(`
      CREATE SCHEMA shop AUTHORIZATION ${q(ROLES.owner)};
      CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric(10, 2));
      INSERT INTO shop.orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g;
      ALTER TABLE shop.orders OWNER TO ${q(ROLES.owner)};
      CREATE SCHEMA audit AUTHORIZATION ${q(ROLES.odd)};
      CREATE TABLE audit.events (id int);
      ALTER TABLE audit.events OWNER TO ${q(ROLES.odd)};
      GRANT USAGE ON SCHEMA shop TO ${q(ROLES.readers)};
      GRANT SELECT ON shop.orders TO ${q(ROLES.readers)};
      GRANT USAGE ON SCHEMA audit TO ${q(ROLES.etl)};
      GRANT INSERT ON audit.events TO ${q(ROLES.etl)};
    `);
  });
  bucket = await createTestBucket({ prefix: 'restore-roles', versioned: true });
  dump = await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: source.name, sslMode: 'disable' },
    bucket,
    source: 'roles-src',
    tiers: ['daily'],
    s3,
  });
  // The target server has none of the source's roles: drop the source and its roles.
  await dropTestDatabase(source.name);
  await dropSourceRoles();

  restoredDb = freshName('restored');
  restored = await runRestore({ bucket, manifestKey: dump.manifestKey, target: asMaster(restoredDb), createDatabase: true, restoreRoles: true, s3 });
});

afterAll(async () => {
  for (const name of databases) await dropTestDatabase(name);
  await dropSourceRoles();
  await withPgClient('postgres', (client) => client.query(`DROP ROLE IF EXISTS ${q(MASTER)}`));
  s3.destroy();
});

it('creates every role of the source the target lacks, and leaves the ones it has alone', () => {
  const { pg } = harnessEnv();
  expect([...(restored.roles?.created ?? [])].sort()).toEqual(Object.values(ROLES).sort());
  expect(restored.roles?.existing).toContain(pg.user);
  expect(restored.roles?.existing).not.toContain(ROLES.owner);
});

it('reports the superuser-only attributes a non-superuser cannot give, and nothing failed', () => {
  expect(restored.roles?.attributesNotRestored).toEqual([`${ROLES.etl}: REPLICATION, BYPASSRLS`]);
  expect(restored.roles?.failed).toEqual([]);
  expect(restored.roles?.omitted).toBe(0);
});

it('gives the roles their attributes, settings, comment and memberships', async () => {
  const rows = await withPgClient('postgres', async (client) =>
    (
      await client.query<{ rolname: string; rolcanlogin: boolean; rolconnlimit: number; rolbypassrls: boolean; rolreplication: boolean }>(
        'SELECT rolname, rolcanlogin, rolconnlimit, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
        [Object.values(ROLES)],
      )
    ).rows,
  );
  const byName = Object.fromEntries(rows.map((r) => [r.rolname, r]));
  expect(byName[ROLES.app]).toMatchObject({ rolcanlogin: true, rolconnlimit: 5 });
  expect(byName[ROLES.owner]).toMatchObject({ rolcanlogin: false });
  expect(byName[ROLES.etl]).toMatchObject({ rolcanlogin: true, rolbypassrls: false, rolreplication: false });
  const facts = await withPgClient('postgres', async (client) =>
    (
      await client.query<{ member: boolean; settings: string[] | null; comment: string | null }>(
        `SELECT pg_has_role($1, $2, 'MEMBER') AS member,
                (SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1) AS settings,
                shobj_description((SELECT oid FROM pg_roles WHERE rolname = $3), 'pg_authid') AS comment`,
        [ROLES.app, ROLES.readers, ROLES.owner],
      )
    ).rows[0],
  );
  expect(facts).toEqual({ member: true, settings: ['search_path=shop, public'], comment: 'owns the shop schema' });
});

it('restores owners and privileges, and the rows', async () => {
  const facts = await withPgClient(restoredDb, async (client) =>
    (
      await client.query<Record<string, unknown>>(
        `SELECT (SELECT tableowner FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'orders') AS orders_owner,
                (SELECT tableowner FROM pg_tables WHERE schemaname = 'audit' AND tablename = 'events') AS audit_owner,
                (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'shop') AS schema_owner,
                has_table_privilege($1, 'shop.orders', 'SELECT') AS readers_select,
                has_table_privilege($1, 'shop.orders', 'INSERT') AS readers_insert,
                has_table_privilege($2, 'audit.events', 'INSERT') AS etl_insert,
                (SELECT count(*)::int FROM shop.orders) AS orders`,
        [ROLES.readers, ROLES.etl],
      )
    ).rows[0],
  );
  expect(facts).toEqual({
    orders_owner: ROLES.owner,
    audit_owner: ROLES.odd,
    schema_owner: ROLES.owner,
    readers_select: true,
    readers_insert: false,
    etl_insert: true,
    orders: 1000,
  });
});

it('revokes the memberships the restoring user needed to give objects to those owners', async () => {
  expect([...(restored.roles?.temporaryMemberships ?? [])].sort()).toEqual(Object.values(ROLES).sort());
  const memberOf = await withPgClient('postgres', async (client) =>
    (
      await client.query<{ rolname: string }>(
        'SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1',
        [MASTER],
      )
    ).rows,
  );
  expect(memberOf).toEqual([]);
});

it('refuses a backup written without its roles (manifest v1) before touching anything', async () => {
  const v1 = { ...dump.manifest, schemaVersion: 1 as const, globals: undefined };
  const { manifestKey } = backupKeys(v1.source, v1.database, new Date(Date.parse(v1.startedAt) + 1000));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: serializeManifest(v1) }));
  const database = freshName('v1');
  const error = await runRestore({ bucket, manifest: v1, target: asMaster(database), createDatabase: true, restoreRoles: true, s3 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ManifestUnusable);
  expect((error as Error).message).toMatch(/was written without its roles \(manifest v1\); restore it without restoreRoles/);
  expect(await withPgClient('postgres', async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount)).toBe(0);
});

it('refuses roles SQL that differs from its SHA-256 before creating a database or a role', async () => {
  const globals = dump.manifest.globals!;
  const intruder = `r${tag}_intruder`;
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: globals.key, Body: `CREATE ROLE ${intruder} LOGIN;\n`.padEnd(globals.bytes, ' ') }));
  const tampered = { ...dump.manifest, globals: { ...globals, versionId: put.VersionId ?? null } };
  const database = freshName('tampered');
  const error = await runRestore({ bucket, manifest: tampered, target: asMaster(database), createDatabase: true, restoreRoles: true, s3 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ChecksumMismatch);
  expect((error as Error).message).toMatch(/\.globals\.sql\?versionId=\S+: sha256 is [0-9a-f]{64} but the manifest says/);
  const left = await withPgClient('postgres', async (c) =>
    (await c.query('SELECT (SELECT count(*) FROM pg_database WHERE datname = $1)::int AS dbs, (SELECT count(*) FROM pg_roles WHERE rolname = $2)::int AS roles', [database, intruder])).rows[0],
  );
  expect(left).toEqual({ dbs: 0, roles: 0 });
});
