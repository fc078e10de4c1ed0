/**
 * Parallel (directory-format) dumps on real PostgreSQL and the emulator: `pg_dump -Fd -j 2` of a database of several
 * tables, each file uploaded as pg_dump closes it; verify re-hashes every file; a restore with jobs 2 brings back
 * every row; retention deletes all of the backup's objects together; a dump that fails midway leaves nothing.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runDump, type DumpOptions } from '../../../lambda/backup/dump-core';
import { DIRECTORY_DUMP_FORMAT, parseBackupKey, parseManifestJson, type ManifestFile } from '../../../lambda/backup/manifest';
import { verifyBackup } from '../../../lambda/backup/verify-core';
import { DumpFailed } from '../../../lambda/common/errors';
import { runRestore } from '../../../lambda/restore/restore-core';
import { cleanDumps } from '../../../lambda/retention/cleanup-core';
import { MIN_PART_SIZE } from '../../../lambda/postgres/pg';
import type { PgTarget } from '../../../lambda/postgres/target';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../../support/postgres';
import { fingerprint, leftovers, seedSource } from './support';

jest.setTimeout(300_000);

const s3 = new S3Client({});
const created: string[] = [];
let db: TestDatabase;
let bucket: string;
let kmsKeyId: string;
let workDir: string;

function target(database: string): PgTarget {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, sslMode: 'disable' };
}

function options(source: string, overrides: Partial<DumpOptions> = {}): DumpOptions {
  return {
    target: target(db.name),
    bucket,
    kmsKeyId,
    source,
    tiers: ['daily'],
    s3,
    parallelism: 2,
    workDir,
    partSizeBytes: MIN_PART_SIZE,
    ...overrides,
  };
}

beforeAll(async () => {
  db = await createTestDatabase('parallel_src');
  created.push(db.name);
  await seedSource(db.name, { bigTableMb: 8 });
  // Three more tables of similar size, so two workers have work side by side.
  await withPgClient(db.name, async (client) => {
    for (const name of ['part_a', 'part_b', 'part_c']) {
      await client.query(`CREATE TABLE public.${name} (id int PRIMARY KEY, payload text NOT NULL);
        INSERT INTO public.${name} SELECT g, md5(random()::text) || md5(random()::text) FROM generate_series(1, 60000) g;`);
    }
  });
  bucket = await createTestBucket({ prefix: 'parallel', versioned: true });
  kmsKeyId = (await createKmsKey()).arn;
  workDir = mkdtempSync(path.join(tmpdir(), 'parallel-dump-'));
});

afterAll(async () => {
  for (const name of created) await dropTestDatabase(name);
  rmSync(workDir, { recursive: true, force: true });
  s3.destroy();
});

describe('a dump with parallelism 2', () => {
  const source = 'parallel-ok';
  let manifestKey: string;
  const uploadedWhileRunning: ManifestFile[] = [];
  let exitedAt = 0;

  beforeAll(async () => {
    const result = await runDump(
      options(source, {
        hooks: {
          pgDumpStarted: (child) => child.once('exit', () => (exitedAt = Date.now())),
          fileUploaded: (file) => {
            if (exitedAt === 0) uploadedWhileRunning.push(file);
          },
        },
      }),
    );
    manifestKey = result.manifestKey;
  });

  it('writes a v3 manifest listing every file with its size and SHA-256, toc.dat last at the dump key', async () => {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }));
    const parsed = parseManifestJson(await object.Body!.transformToString());
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const manifest = parsed.manifest;
    expect(manifest).toMatchObject({ schemaVersion: 3, format: DIRECTORY_DUMP_FORMAT });
    const files = manifest.files!;
    // One data file per non-empty table at least (7 tables with rows), plus toc.dat.
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(files[files.length - 1]).toMatchObject({ name: 'toc.dat', key: manifest.s3.key, versionId: manifest.s3.versionId, sha256: manifest.sha256 });
    expect(files.slice(0, -1).every((f) => parseBackupKey(f.key)?.kind === 'file' && /\.dat\.gz$/.test(f.name))).toBe(true);
    expect(manifest.bytes).toBe(files.reduce((sum, f) => sum + f.bytes, 0));
    const left = await leftovers(s3, bucket, `postgres/${source}/`);
    expect(left.versions).toHaveLength(files.length + 2); // + globals + manifest
    expect(left.uploads).toEqual([]);
  });

  it('uploads files while pg_dump still runs and leaves nothing in the work directory', () => {
    expect(uploadedWhileRunning.length).toBeGreaterThan(0);
    expect(readdirSync(workDir)).toEqual([]);
  });

  it('verifies by re-hashing every file', async () => {
    const ok = await verifyBackup({ s3, bucket, manifestKey });
    expect(ok.status).toBe('verified');
    expect(ok.checks.files?.ok).toBe(true);
    expect(ok.checks.files?.expected).toBeGreaterThanOrEqual(7);

    // A manifest whose entry for one data file differs from the object: verify names that file.
    const original = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }))).Body!.transformToString();
    const manifest = JSON.parse(original) as { files: Array<{ name: string; sha256: string }> };
    const victim = manifest.files[0];
    victim.sha256 = '0'.repeat(64);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: JSON.stringify(manifest) }));
    try {
      const bad = await verifyBackup({ s3, bucket, manifestKey });
      expect(bad.status).toBe('corrupt');
      expect(bad.checks.files).toMatchObject({ ok: false, actual: ok.checks.files!.expected - 1 });
      expect(bad.detail).toContain(victim.name);
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: original }));
    }
  });

  it('verifies the replica file by file: pending while a file is missing there, verified once all are copied', async () => {
    const replicaS3 = new S3Client({ region: 'us-west-2' });
    try {
      const replicaBucket = await createTestBucket({ prefix: 'parallel-replica', versioned: true, region: 'us-west-2' });
      const manifest = parseManifestJson(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }))).Body!.transformToString());
      if (!manifest.ok) throw new Error(manifest.errors.join('; '));
      const files = manifest.manifest.files!;
      // Emulated replication (moto does not replicate): the same keys in the replica bucket; the last data file later.
      const copy = async (key: string): Promise<void> => {
        const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
        await replicaS3.send(new PutObjectCommand({ Bucket: replicaBucket, Key: key, Body: body }));
      };
      const late = files[files.length - 2];
      for (const file of files) if (file !== late) await copy(file.key);
      const replica = { s3: replicaS3, bucket: replicaBucket, region: 'us-west-2' };
      const pending = await verifyBackup({ s3, bucket, manifestKey, replica });
      expect(pending.replica).toMatchObject({ status: 'pending', detail: `no replica of the dump file ${late.key} yet` });
      await copy(late.key);
      const verified = await verifyBackup({ s3, bucket, manifestKey, replica });
      expect(verified.replica).toMatchObject({ status: 'verified', checks: { files: { ok: true, expected: files.length - 1 } } });
    } finally {
      replicaS3.destroy();
    }
  });

  it('restores with jobs 2: every table has the source rows', async () => {
    const restored = `parallel_restored_${Date.now()}`;
    created.push(restored);
    const result = await runRestore({ bucket, manifestKey, target: target(restored), createDatabase: true, jobs: 2, workDir, s3 });
    expect(result).toMatchObject({ mode: 'directory', jobs: 2, createdDatabase: true });
    expect(await fingerprint(restored)).toEqual(await fingerprint(db.name));
    expect(readdirSync(workDir)).toEqual([]);
  });

  it('retention deletes the older backup whole (manifest, toc.dat, globals, every file) and keeps the newer', async () => {
    const newer = await runDump(options(source));
    const result = await cleanDumps({
      s3,
      bucket,
      source,
      rules: { last: 1, timeZone: 'UTC' },
      now: new Date(),
      orphanGraceSeconds: 3600,
      dryRun: false,
      objectLock: false,
      removeVersions: true,
    });
    expect(result.errors).toEqual([]);
    const left = await leftovers(s3, bucket, `postgres/${source}/`);
    const keys = left.versions.map((v) => v.split('@')[0]);
    const base = (key: string): string => key.replace(/\.(manifest\.json|globals\.sql|dump)$|\.dump\.d\/.*$/, '');
    expect(new Set(keys.map(base))).toEqual(new Set([base(newer.manifestKey)]));
    expect(keys).toHaveLength(newer.manifest.files!.length + 2);
    expect(result.objectsDeleted).toBe(keys.length);
  });
});

it('a dump whose pg_dump is killed after files were uploaded leaves no object, no manifest, no upload, no local file', async () => {
  const source = 'parallel-killed';
  let killed = false;
  let pgDump: { kill(signal: NodeJS.Signals): boolean } | undefined;
  const error = await runDump(
    options(source, {
      queueSize: 1,
      hooks: {
        pgDumpStarted: (child) => (pgDump = child),
        fileUploaded: () => {
          if (killed) return;
          killed = true;
          pgDump?.kill('SIGKILL');
        },
      },
    }),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(killed).toBe(true);
  expect(error).toBeInstanceOf(DumpFailed);
  expect((error as DumpFailed).failure).toBe('pg_dump');
  expect((error as Error).message).toMatch(/pg_dump was killed by SIGKILL/);
  expect(await leftovers(s3, bucket, `postgres/${source}/`)).toEqual({ versions: [], deleteMarkers: [], uploads: [] });
  expect(readdirSync(workDir)).toEqual([]);
});

it('refuses to start when the free space of the work directory cannot be read, before writing anything', async () => {
  const source = 'parallel-disk';
  const error = await runDump(options(source, { workDir: path.join(workDir, 'does-not-exist') })).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DumpFailed);
  expect((error as DumpFailed).failure).toBe('disk');
  expect((error as Error).message).toMatch(/cannot read the free space of the work directory/);
  expect(await leftovers(s3, bucket, `postgres/${source}/`)).toEqual({ versions: [], deleteMarkers: [], uploads: [] });
});
