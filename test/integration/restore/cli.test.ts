/**
 * The CLI's `restore` command against the harness' PostgreSQL and moto: restores a dump made by the dump core and
 * prints a JSON summary; never prints the password.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { restoreCommand } from '../../../cli/commands/restore';
import type { CliIo } from '../../../cli/io';
import { runDump } from '../../../lambda/backup/dump-core';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, pgUrl, withPgClient, type TestDatabase } from '../../support/postgres';

const s3 = new S3Client({});
let source: TestDatabase;
let bucket: string;
let manifestKey: string;
const created: string[] = [];

function capture(env: NodeJS.ProcessEnv): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { env, stdout: (t) => (out += t), stderr: (t) => (err += t), out: () => out, err: () => err };
}

beforeAll(async () => {
  const { pg } = harnessEnv();
  source = await createTestDatabase('cli_restore_src');
  await withPgClient(source.name, async (client) => {
    await client.query(`CREATE SCHEMA app; CREATE TABLE app."Items" (id int PRIMARY KEY, label text);
      INSERT INTO app."Items" SELECT g, 'item ' || g FROM generate_series(1, 2000) g;`);
  });
  bucket = await createTestBucket({ prefix: 'cli-restore', versioned: true });
  const dump = await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: source.name, sslMode: 'disable' },
    bucket,
    source: 'cli-restore',
    tiers: ['daily'],
    s3,
  });
  manifestKey = dump.manifestKey;
});

afterAll(async () => {
  for (const name of created) await dropTestDatabase(name);
  await dropTestDatabase(source.name);
  s3.destroy();
});

it('restores into a new database with the password from PGPASSWORD and prints a JSON summary', async () => {
  const { pg } = harnessEnv();
  const database = `cli_restored_${Date.now()}`;
  created.push(database);
  const url = pgUrl(database).replace(`:${encodeURIComponent(pg.password)}@`, '@');
  const io = capture({ PGPASSWORD: pg.password });

  const code = await restoreCommand.run(
    ['--bucket', bucket, '--manifest-key', manifestKey, '--database-url', `${url}?sslmode=disable`, '--create-database', '--json'],
    io,
  );

  expect(code).toBe(0);
  const summary = JSON.parse(io.out()) as Record<string, unknown>;
  expect(summary).toMatchObject({ database, manifestKey, mode: 'stream', jobs: 1, createdDatabase: true });
  expect(io.out()).not.toContain(pg.password);
  const rows = await withPgClient(database, async (client) => (await client.query('SELECT count(*)::int AS n FROM app."Items"')).rows[0].n);
  expect(rows).toBe(2000);
});

it('fails with the reason and without the password when the target database is missing', async () => {
  const { pg } = harnessEnv();
  const database = `cli_missing_${Date.now()}`;
  const error = await restoreCommand
    .run(['--bucket', bucket, '--manifest-key', manifestKey, '--database-url', `${pgUrl(database)}?sslmode=disable`], capture({}))
    .catch((e: unknown) => e);
  expect((error as Error).message).toContain(`database "${database}" does not exist`);
  expect((error as Error).message).not.toContain(pg.password);
});
