/**
 * Restore and restore-verify against the harness' real PostgreSQL 15 and moto: a seeded source (several schemas, a
 * mixed-case quoted table, ~100k rows) is dumped by the dump core into a versioned bucket, restored by the restore
 * handler into fresh databases and checked by the restore-verify handler; then the faults.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Transform, type Readable } from 'stream';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetObjectCommand, PutObjectCommand, S3Client, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { handler as restoreHandler } from '../../../lambda/restore/restore.handler';
import { handler as verifyHandler } from '../../../lambda/restore/restore-verify.handler';
import { runDump } from '../../../lambda/backup/dump-core';
import { backupKeys, serializeManifest, type BackupManifest } from '../../../lambda/backup/manifest';
import type { PgTarget } from '../../../lambda/postgres/target';
import { ChecksumMismatch, RestoreAborted, RestoreFailed } from '../../../lambda/common/errors';
import { runRestore } from '../../../lambda/restore/restore-core';
import { MAX_LISTED_CHECKS, runRestoreVerify, UNLISTED_CHECKS_NAME } from '../../../lambda/restore/restore-verify-core';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../../support/postgres';

const SEED = `
CREATE SCHEMA sales;
CREATE SCHEMA "Audit";
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO public.customers (name, created_at)
  SELECT 'customer ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 10000) g;
CREATE TABLE sales."OrderLines" (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES public.customers (id),
  amount numeric(12, 2) NOT NULL,
  note text
);
INSERT INTO sales."OrderLines" (customer_id, amount, note)
  SELECT 1 + (g % 10000), (g % 997) * 1.25, md5(g::text) FROM generate_series(1, 90000) g;
CREATE INDEX order_lines_customer ON sales."OrderLines" (customer_id);
CREATE TABLE "Audit".events (id int PRIMARY KEY, payload jsonb NOT NULL);
INSERT INTO "Audit".events SELECT g, jsonb_build_object('n', g, 'tag', 'ev' || g) FROM generate_series(1, 500) g;
CREATE TABLE sales.empty_table (id int);
CREATE VIEW sales.big_orders AS SELECT * FROM sales."OrderLines" WHERE amount > 1000;
`;

const CONTENT_SQL = `
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM sales."OrderLines" t) AS lines,
       (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM public.customers t) AS customers,
       (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM "Audit".events t) AS events`;

const s3 = new S3Client({});
const secretsManager = new SecretsManagerClient({});

let source: TestDatabase;
let bucket: string;
let manifest: BackupManifest;
let manifestKey: string;
let secretArn: string;
let restoredDb: string;
const created: string[] = [];

function target(database: string): PgTarget {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, sslMode: 'disable' };
}

/** A fresh database name (not created); dropped after all tests whether or not a test created it. */
function freshName(label: string): string {
  const name = `restore_${label}_${Math.random().toString(36).slice(2, 10)}`;
  created.push(name);
  return name;
}

async function databaseExists(name: string): Promise<boolean> {
  return withPgClient('postgres', async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  });
}

async function content(database: string): Promise<Record<string, string>> {
  return withPgClient(database, async (client) => (await client.query<Record<string, string>>(CONTENT_SQL)).rows[0]);
}

async function objectBytes(key: string, versionId?: string | null): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId ?? undefined }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Writes a manifest under a new key (another timestamp) and returns the key. */
async function putManifest(m: BackupManifest, at: Date, intoBucket = bucket): Promise<string> {
  const { manifestKey: key } = backupKeys(m.source, m.database, at);
  await s3.send(new PutObjectCommand({ Bucket: intoBucket, Key: key, Body: serializeManifest(m), ContentType: 'application/json' }));
  return key;
}

/**
 * An S3 client whose GetObject bodies pass through `tamper` (fault injection the emulator cannot produce:
 * a connection cut mid-object, or an abort at a chosen byte).
 */
function s3WithBody(tamper: (body: Readable) => Readable): S3Client {
  const client = new S3Client({});
  const send = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>;
  (client as unknown as { send: typeof send }).send = async (command, options) => {
    const out = await send(command, options);
    if (command instanceof GetObjectCommand && String(command.input.Key).endsWith('.dump')) {
      const response = out as GetObjectCommandOutput;
      return { ...response, Body: tamper(response.Body as Readable) };
    }
    return out;
  };
  return client;
}

/**
 * Passes `limit` bytes, then calls `then` (which errors the stream or fires an abort) and passes nothing more.
 * Reads the body only as fast as the restore consumes it, so the cut happens mid-restore.
 */
function cutAfter(limit: number, then: (stream: Transform) => void): (body: Readable) => Readable {
  return (body) => {
    let seen = 0;
    const cut = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (seen >= limit) {
          callback();
          return;
        }
        const part = chunk.subarray(0, limit - seen);
        seen += part.length;
        callback(null, part);
        if (seen >= limit) then(this);
      },
    });
    // pipe() does not forward errors; the SDK errors the body when the abort signal cancels the request.
    body.on('error', (error) => cut.destroy(error));
    return body.pipe(cut);
  };
}

beforeAll(async () => {
  const { pg } = harnessEnv();
  source = await createTestDatabase('restore_source');
  await withPgClient(source.name, async (client) => {
    await client.query(SEED);
  });
  bucket = await createTestBucket({ prefix: 'restore', versioned: true });
  process.env.BUCKET_NAME = bucket;
  const dump = await runDump({ target: target(source.name), bucket, source: 'restore-it', tiers: ['daily'], s3 });
  manifest = dump.manifest;
  manifestKey = dump.manifestKey;
  const secret = await secretsManager.send(
    new CreateSecretCommand({
      Name: `restore-target-${Date.now()}`,
      SecretString: JSON.stringify({ engine: 'postgres', username: pg.user, password: pg.password, host: pg.host, port: pg.port }),
    }),
  );
  secretArn = secret.ARN!;
});

afterAll(async () => {
  for (const name of created) await dropTestDatabase(name);
  if (source) await dropTestDatabase(source.name);
  delete process.env.BUCKET_NAME;
});

function handlerTarget(database: string): { secretArn: string; database: string; sslMode: 'disable' } {
  return { secretArn, database, sslMode: 'disable' };
}

describe('restore of a real dump', () => {
  it('restores into a new database through the handler, byte-checked, with the same content as the source', async () => {
    expect(manifest.tables.reduce((sum, t) => sum + t.rows, 0)).toBe(100_500);
    expect(manifest.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(
      expect.arrayContaining(['sales.OrderLines', 'Audit.events', 'public.customers', 'sales.empty_table']),
    );
    restoredDb = freshName('main');

    const output = await restoreHandler({ manifestKey, target: handlerTarget(restoredDb), createDatabase: true });

    expect(output).toMatchObject({ database: restoredDb, restoredBytes: manifest.bytes, mode: 'stream', backupFinishedAt: manifest.finishedAt });
    expect(output.durationSeconds).toBeGreaterThan(0);
    expect(await content(restoredDb)).toEqual(await content(source.name));
    // Post-data steps ran: the index and the foreign key exist.
    const constraints = await withPgClient(restoredDb, async (client) =>
      (await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'order_lines_customer'
         UNION ALL SELECT count(*) FROM pg_constraint WHERE contype = 'f'`,
      )).rows.map((r) => Number(r.n)),
    );
    expect(constraints).toEqual([1, 1]);
  });

  it('verifies the restore: every table counted and equal to the manifest, validation queries true', async () => {
    const result = await verifyHandler({
      manifestKey,
      target: handlerTarget(restoredDb),
      validationQueries: [
        { name: 'orders-present', sql: 'SELECT count(*) = 90000 FROM sales."OrderLines"' },
        { name: 'no-orphans', sql: 'SELECT NOT EXISTS (SELECT 1 FROM sales."OrderLines" l LEFT JOIN customers c ON c.id = l.customer_id WHERE c.id IS NULL)' },
      ],
    });
    expect(result.passed).toBe(true);
    expect(result.database).toBe(restoredDb);
    const tableChecks = result.checks.filter((c) => c.name.startsWith('table '));
    expect(tableChecks).toHaveLength(manifest.tables.length);
    expect(tableChecks).toContainEqual({ name: 'table "sales"."OrderLines"', passed: true, expected: 90000, actual: 90000 });
    expect(result.checks.filter((c) => c.name.startsWith('query ')).map((c) => c.passed)).toEqual([true, true]);
  });

  it('fails verification naming the table when the manifest count differs', async () => {
    const tampered: BackupManifest = {
      ...manifest,
      tables: manifest.tables.map((t) => (t.name === 'OrderLines' ? { ...t, rows: t.rows + 1 } : t)),
    };
    const key = await putManifest(tampered, new Date(Date.parse(manifest.startedAt) + 1000));

    const error = await verifyHandler({ manifestKey: key, target: handlerTarget(restoredDb) }).catch((e: unknown) => e);

    expect((error as Error).name).toBe('VerificationFailed');
    expect((error as Error).message).toContain('failed 1 of');
    expect((error as Error).message).toContain('table "sales"."OrderLines": row count differs from the manifest by -1 (expected 90001, actual 90000)');
    expect((error as Error).message).not.toContain(harnessEnv().pg.password);

    const report = await verifyHandler({ manifestKey: key, target: handlerTarget(restoredDb), throwOnFailure: false });
    expect(report.passed).toBe(false);
    expect(report.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['table "sales"."OrderLines"']);
  });

  it('fails verification when the manifest lists a table the restore lacks, or the restore has an extra one', async () => {
    const tampered: BackupManifest = {
      ...manifest,
      tables: [...manifest.tables.filter((t) => t.name !== 'empty_table'), { schema: 'sales', name: 'gone', rows: 7 }],
    };
    const result = await runRestoreVerify({ target: target(restoredDb), manifest: tampered });
    expect(result.passed).toBe(false);
    expect(result.checks.filter((c) => !c.passed)).toEqual([
      { name: 'table "sales"."gone"', passed: false, expected: 7, detail: 'missing from the restored database' },
      { name: 'table "sales"."empty_table"', passed: false, actual: 0, detail: 'not in the manifest (extra table)' },
    ]);
  });

  it('fails verification for a validation query that returns false, NULL, several rows or an error', async () => {
    const error = await verifyHandler({
      manifestKey,
      target: handlerTarget(restoredDb),
      validationQueries: [
        { name: 'ok', sql: 'SELECT true' },
        { name: 'too-many-orders', sql: 'SELECT count(*) > 90000 FROM sales."OrderLines"' },
        { name: 'null', sql: 'SELECT NULL::boolean' },
        { name: 'rows', sql: 'SELECT true FROM generate_series(1, 2)' },
        { name: 'broken', sql: 'SELECT true FROM no_such_table' },
        { name: 'writes', sql: 'DELETE FROM sales.empty_table RETURNING true' },
        { name: 'two-statements', sql: 'SELECT true; SELECT true' },
      ],
    }).catch((e: unknown) => e);
    const message = (error as Error).message;
    expect((error as Error).name).toBe('VerificationFailed');
    expect(message).toContain('failed 6 of');
    expect(message).toContain('query too-many-orders: returned false (expected true, actual false)');
    expect(message).toContain('query null: returned NULL');
    expect(message).toContain('query rows: returned 2 rows; it must return exactly one');
    expect(message).toContain('query broken: failed: relation "no_such_table" does not exist');
    expect(message).toContain('query writes: failed: cannot execute DELETE in a read-only transaction');
    expect(message).toContain('query two-statements: failed: cannot insert multiple commands into a prepared statement');
    expect(message).not.toContain('query ok');
  });

  it('cancels a validation query that runs longer than its timeout, as a failed check', async () => {
    const result = await runRestoreVerify({
      target: target(restoredDb),
      manifest,
      validationQueries: [{ name: 'slow', sql: 'SELECT pg_sleep(5) IS NOT NULL' }],
      queryTimeoutMs: 200,
    });
    expect(result.passed).toBe(false);
    expect(result.checks.find((c) => c.name === 'query slow')).toMatchObject({
      passed: false,
      detail: 'failed: canceling statement due to statement timeout',
    });
  });

  it('restores with parallel jobs from a downloaded file and deletes the file', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-jobs-'));
    const database = freshName('jobs');
    try {
      const result = await runRestore({ bucket, manifestKey, target: target(database), createDatabase: true, jobs: 2, workDir, s3 });
      expect(result).toMatchObject({ mode: 'file', jobs: 2, restoredBytes: manifest.bytes, sha256: manifest.sha256, createdDatabase: true });
      expect(fs.readdirSync(workDir)).toEqual([]);
      expect((await runRestoreVerify({ target: target(database), manifest })).passed).toBe(true);
      expect(await content(database)).toEqual(await content(source.name));
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe('verify of a database with more tables than a result lists', () => {
  it('returns at most MAX_LISTED_CHECKS checks, every failed one among them, the rest counted', async () => {
    const many = await createTestDatabase('restore_many');
    const tableCount = MAX_LISTED_CHECKS + 50;
    try {
      await withPgClient(many.name, (client) =>
        client.query(
          `DO $$ BEGIN FOR i IN 1..${tableCount} LOOP
             EXECUTE format('CREATE TABLE public.t%s AS SELECT generate_series(1, %s) AS n', i, i);
           END LOOP; END $$`,
        ),
      );
      const dump = await runDump({ target: target(many.name), bucket, source: 'restore-it', tiers: ['daily'], s3 });
      expect(dump.manifest.tables).toHaveLength(tableCount);

      const all = await verifyHandler({ manifestKey: dump.manifestKey, target: handlerTarget(many.name) });
      expect(all.passed).toBe(true);
      expect(all.checks).toHaveLength(MAX_LISTED_CHECKS);
      expect(all.checks.at(-1)).toEqual({
        name: UNLISTED_CHECKS_NAME,
        passed: true,
        detail: `51 more passed and 0 more failed; a result lists at most ${MAX_LISTED_CHECKS} checks`,
      });

      const tampered: BackupManifest = {
        ...dump.manifest,
        tables: dump.manifest.tables.map((t) => (t.name === 't140' ? { ...t, rows: t.rows + 1 } : t)),
      };
      const key = await putManifest(tampered, new Date(Date.parse(dump.manifest.startedAt) + 1000));
      const failed = await verifyHandler({ manifestKey: key, target: handlerTarget(many.name), throwOnFailure: false });
      expect(failed.passed).toBe(false);
      expect(failed.checks).toHaveLength(MAX_LISTED_CHECKS);
      expect(failed.checks.filter((c) => !c.passed)).toEqual([
        { name: 'table "public"."t140"', passed: false, expected: 141, actual: 140, detail: 'row count differs from the manifest by -1' },
      ]);
    } finally {
      await dropTestDatabase(many.name);
    }
  });
});

describe('restore faults', () => {
  it('reads the version the manifest names, so overwriting the key in a versioned bucket changes nothing', async () => {
    const original = await objectBytes(manifest.s3.key, manifest.s3.versionId);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifest.s3.key, Body: Buffer.from('not a dump') }));
    try {
      const database = freshName('pinned');
      const result = await runRestore({ bucket, manifest, target: target(database), createDatabase: true, s3 });
      expect(result.sha256).toBe(manifest.sha256);
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifest.s3.key, Body: original }));
    }
  });

  describe('in a bucket without versioning', () => {
    let plainBucket: string;
    let original: Buffer;
    let plainManifest: BackupManifest;

    beforeAll(async () => {
      plainBucket = await createTestBucket({ prefix: 'restore-plain' });
      original = await objectBytes(manifest.s3.key, manifest.s3.versionId);
      plainManifest = { ...manifest, s3: { bucket: plainBucket, key: manifest.s3.key, versionId: null } };
    });

    async function overwrite(body: Buffer): Promise<void> {
      await s3.send(new PutObjectCommand({ Bucket: plainBucket, Key: manifest.s3.key, Body: body }));
    }

    it('restores the original object', async () => {
      await overwrite(original);
      const database = freshName('plain');
      const result = await runRestore({ bucket: plainBucket, manifest: plainManifest, target: target(database), createDatabase: true, s3 });
      expect(result.restoredBytes).toBe(manifest.bytes);
    });

    it('refuses an object overwritten by another valid dump and drops the database it created', async () => {
      const other = await createTestDatabase('restore_other');
      try {
        await withPgClient(other.name, async (client) => {
          await client.query('CREATE TABLE public.customers (id int); INSERT INTO public.customers VALUES (1)');
        });
        const otherDump = await runDump({ target: target(other.name), bucket, source: 'restore-it', tiers: ['daily'], s3 });
        await overwrite(await objectBytes(otherDump.dumpKey, otherDump.manifest.s3.versionId));
      } finally {
        await dropTestDatabase(other.name);
      }
      const database = freshName('overwritten');

      const error = await runRestore({ bucket: plainBucket, manifest: plainManifest, target: target(database), createDatabase: true, s3 }).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(ChecksumMismatch);
      expect((error as Error).message).toMatch(/bytes but the manifest says \d+; the object was overwritten or corrupted/);
      expect(await databaseExists(database)).toBe(false);
    });

    it('refuses an object with one corrupted byte, as a checksum mismatch rather than a pg_restore error', async () => {
      const corrupted = Buffer.from(original);
      const at = Math.floor(corrupted.length / 2);
      corrupted[at] = corrupted[at] ^ 0xff;
      await overwrite(corrupted);
      const database = freshName('corrupt');

      const error = await runRestore({ bucket: plainBucket, manifest: plainManifest, target: target(database), createDatabase: true, s3 }).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(ChecksumMismatch);
      expect((error as Error).message).toContain(`sha256 is`);
      expect((error as Error).message).toContain(`but the manifest says ${manifest.sha256}`);
      expect(await databaseExists(database)).toBe(false);
    });

    it('never lets pg_restore finish on a same-size object that pg_restore itself would accept', async () => {
      // Change one character of the database name in the archive header: pg_restore does not check it, so without
      // the held-back end it would restore everything, run the post-data steps and exit 0.
      const tampered = Buffer.from(original);
      const at = tampered.indexOf(Buffer.from(source.name));
      expect(at).toBeGreaterThan(0);
      tampered[at] = tampered[at] === 0x72 ? 0x73 : 0x72;
      await overwrite(tampered);
      const existing = (await createTestDatabase('restore_sameSize')).name;
      created.push(existing);

      const error = await runRestore({ bucket: plainBucket, manifest: plainManifest, target: target(existing), s3 }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ChecksumMismatch);
      expect((error as Error).message).toContain(`but the manifest says ${manifest.sha256}`);
      const indexes = await withPgClient(existing, async (client) =>
        (await client.query("SELECT 1 FROM pg_indexes WHERE indexname = 'order_lines_customer'")).rowCount,
      );
      expect(indexes).toBe(0);
    });

    it('checks the file path before touching the database', async () => {
      const corrupted = Buffer.from(original);
      corrupted[100] = corrupted[100] ^ 0xff;
      await overwrite(corrupted);
      const database = freshName('corruptfile');

      await expect(
        runRestore({ bucket: plainBucket, manifest: plainManifest, target: target(database), createDatabase: true, jobs: 2, s3 }),
      ).rejects.toThrow(ChecksumMismatch);
      expect(await databaseExists(database)).toBe(false);
    });
  });

  it('says the database does not exist and how to fix it, without the password in the error or the logs', async () => {
    const database = freshName('missing');
    const logged: string[] = [];
    const capture = (chunk: string | Uint8Array): boolean => {
      logged.push(String(chunk));
      return true;
    };
    const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
    let error: unknown;
    try {
      error = await restoreHandler({ manifestKey, target: handlerTarget(database) }).catch((e: unknown) => e);
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
    expect((error as Error).name).toBe('RestoreFailed');
    expect((error as Error).message).toContain(`database "${database}" does not exist`);
    expect((error as Error).message).toContain('createDatabase: true');
    expect((error as Error).message).not.toContain(harnessEnv().pg.password);
    expect(logged.join('')).toContain('restore failed');
    expect(logged.join('')).not.toContain(harnessEnv().pg.password);
  });

  it('with parallel jobs, names a database it cannot reach rather than the download it stopped, and leaves no file', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-unreachable-'));
    const database = freshName('absent');
    try {
      const error = await runRestore({ bucket, manifestKey, target: target(database), jobs: 2, workDir, s3 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RestoreFailed);
      expect((error as Error).message).toContain(`database "${database}" does not exist`);
      expect(fs.readdirSync(workDir)).toEqual([]);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('with parallel jobs, leaves no file when the database fails while the download file is still being created', async () => {
    // A slow disk: the download file's open runs only after the connection error has stopped the download. The
    // pipeline reports that error without waiting for the open, so removing the file then removes nothing and the
    // late open creates it.
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-slowopen-'));
    const realFs = jest.requireActual<typeof fs>('fs');
    const open = realFs.open;
    const slowOpen = (...args: unknown[]): void => {
      const later = String(args[0]).startsWith(workDir) ? 300 : 0;
      setTimeout(() => Reflect.apply(open, realFs, args), later);
    };
    const spy = jest.spyOn(realFs, 'open').mockImplementation(slowOpen as unknown as typeof fs.open);
    try {
      const database = freshName('slowopen');
      const error = await runRestore({ bucket, manifestKey, target: target(database), jobs: 2, workDir, s3 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RestoreFailed);
      expect((error as Error).message).toContain(`database "${database}" does not exist`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(fs.readdirSync(workDir)).toEqual([]);
    } finally {
      spy.mockRestore();
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('needs a host from the input or the secret', async () => {
    const { pg } = harnessEnv();
    const { ARN } = await secretsManager.send(
      new CreateSecretCommand({ Name: `restore-nohost-${Date.now()}`, SecretString: JSON.stringify({ username: pg.user, password: pg.password }) }),
    );
    await expect(restoreHandler({ manifestKey, target: { secretArn: ARN!, database: freshName('nohost') } })).rejects.toThrow(
      `target.host is not given and secret ${ARN!} has no "host"`,
    );
    const output = await verifyHandler({ manifestKey, target: { secretArn: ARN!, host: pg.host, port: pg.port, database: restoredDb, sslMode: 'disable' } });
    expect(output.passed).toBe(true);
  });

  it('refuses to create a database that already exists', async () => {
    await expect(runRestore({ bucket, manifestKey, target: target(restoredDb), createDatabase: true, s3 })).rejects.toThrow(
      `target database "${restoredDb}" already exists`,
    );
    expect(await databaseExists(restoredDb)).toBe(true);
  });

  it("reports pg_restore's own error with its stderr when the restore itself fails", async () => {
    const database = (await createTestDatabase('restore_conflict')).name;
    created.push(database);
    await withPgClient(database, async (client) => {
      await client.query('CREATE SCHEMA sales');
    });

    const error = await runRestore({ bucket, manifestKey, target: target(database), s3 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RestoreFailed);
    expect((error as Error).message).toMatch(/^pg_restore exited with code 1: .*schema "sales" already exists/s);
    // The rest of the object was still read, and it matched: no doubt about the dump itself.
    expect((error as Error).message).not.toContain('sha256 was not checked');
    // Not created by the restore, so not dropped by it.
    expect(await databaseExists(database)).toBe(true);

    const capped = await runRestore({ bucket, manifestKey, target: target(database), s3, maxDrainBytes: 0 }).catch((e: unknown) => e);
    expect((capped as Error).message).toMatch(/already exists.*\(the dump's sha256 was not checked: reading stopped at byte \d+ of \d+\)$/s);
  });

  it('stops when S3 cuts the connection mid-object: pg_restore killed, the new database dropped', async () => {
    const database = freshName('cut');
    const faulty = s3WithBody(cutAfter(Math.floor(manifest.bytes / 2), (out) => out.destroy(new Error('socket hang up'))));

    const error = await runRestore({ bucket, manifestKey, target: target(database), createDatabase: true, s3: faulty }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RestoreFailed);
    expect((error as Error).message).toMatch(/^reading the dump \(after \d+ bytes\) failed: socket hang up/);
    expect(await databaseExists(database)).toBe(false);
  });

  it('stops on the abort signal: pg_restore killed, RestoreAborted, the new database dropped', async () => {
    const database = freshName('abort');
    const controller = new AbortController();
    const faulty = s3WithBody(cutAfter(Math.floor(manifest.bytes / 2), () => controller.abort(new Error('the Lambda is about to time out'))));

    const error = await runRestore({
      bucket,
      manifestKey,
      target: target(database),
      createDatabase: true,
      s3: faulty,
      signal: controller.signal,
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RestoreAborted);
    expect((error as Error).message).toContain('the Lambda is about to time out');
    expect(await databaseExists(database)).toBe(false);
    const restores = await withPgClient('postgres', async (client) =>
      (await client.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'cdk-backup-dr-restore'")).rowCount,
    );
    expect(restores).toBe(0);
  });

  it('refuses a manifest that describes another dump than the one beside it', async () => {
    const key = await putManifest(manifest, new Date(Date.parse(manifest.startedAt) + 2000));
    await expect(runRestore({ bucket, manifestKey: key, target: target(freshName('elsewhere')), createDatabase: true, s3 })).rejects.toThrow(
      `describes ${manifest.s3.key}, not the dump next to it`,
    );
  });

  it('names a missing manifest', async () => {
    const key = backupKeys('restore-it', source.name, new Date('2001-01-01T00:00:00Z')).manifestKey;
    await expect(restoreHandler({ manifestKey: key, target: handlerTarget(freshName('nomanifest')) })).rejects.toThrow(
      `cannot read the manifest s3://${bucket}/${key}: NoSuchKey`,
    );
  });
});
