/**
 * Compression end to end on real PostgreSQL and the emulator: the dump handler's `compression` reaches pg_dump (the
 * archive header says so), is recorded in the manifest, and the restore core restores each archive; bad or
 * unsupported compressions fail before anything is written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { handler as dumpHandler, type DumpOutputBackup } from '../../../lambda/backup/dump.handler';
import { parseManifestJson, type BackupManifest } from '../../../lambda/backup/manifest';
import { handler as verifyHandler } from '../../../lambda/backup/verify.handler';
import { runRestore } from '../../../lambda/restore/restore-core';
import type { PgTarget } from '../../../lambda/postgres/target';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, harnessCaSecretArn, type TestDatabase } from '../../support/postgres';
import { createDbSecret, fingerprint, leftovers, seedSource, type TableFingerprint } from './support';

jest.setTimeout(300_000);

const s3 = new S3Client({});
const created: string[] = [];
const context = { getRemainingTimeInMillis: () => 15 * 60_000 };
let source: TestDatabase;
let bucket: string;
let secretArn: string;
let caSecretArn: string;
let sourceFingerprint: TableFingerprint[];
const backups = new Map<string, DumpOutputBackup>();

async function objectBytes(key: string, versionId: string | null): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function readManifest(key: string): Promise<BackupManifest> {
  const parsed = parseManifestJson((await objectBytes(key, null)).toString('utf8'));
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.manifest;
}

/** The `; Compression:` line of `pg_restore -l` on the archive: what pg_dump actually wrote. */
async function archiveCompression(backup: DumpOutputBackup): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'compression-'));
  try {
    const file = path.join(dir, 'archive.dump');
    writeFileSync(file, await objectBytes(backup.dumpKey, backup.versionId));
    const listed = spawnSync('pg_restore', ['-l', file], { encoding: 'utf8' });
    if (listed.status !== 0) throw new Error(listed.stderr);
    return /^;\s+Compression: (.+)$/m.exec(listed.stdout)?.[1].trim() ?? 'no Compression line';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function target(database: string): PgTarget {
  const { pg } = harnessEnv();
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, sslMode: 'disable' };
}

beforeAll(async () => {
  source = await createTestDatabase('compress_src');
  created.push(source.name);
  await seedSource(source.name, { bigTableMb: 8 });
  sourceFingerprint = await fingerprint(source.name);
  bucket = await createTestBucket({ prefix: 'compression', versioned: true });
  process.env.BUCKET_NAME = bucket;
  process.env.BUCKET_KMS_KEY_ARN = (await createKmsKey()).arn;
  process.env.SOURCE_ID = 'compress-pg';
  secretArn = await createDbSecret();
  caSecretArn = await harnessCaSecretArn();
  for (const compression of ['none', undefined, 'gzip:9'] as const) {
    const { backup } = await dumpHandler(
      { target: { secretArn, sslRootCertSecretArn: caSecretArn }, database: source.name, tiers: ['daily'], ...(compression ? { compression } : {}) },
      context,
    );
    backups.set(compression ?? 'default', backup);
  }
});

afterAll(async () => {
  for (const name of created) await dropTestDatabase(name);
  s3.destroy();
});

it('passes the compression to pg_dump and records it in the manifest (default gzip:3)', async () => {
  const seen: Array<[string, string | undefined, string]> = [];
  for (const [asked, backup] of backups) {
    seen.push([asked, (await readManifest(backup.manifestKey)).compression, await archiveCompression(backup)]);
  }
  // pg_restore 15 prints the gzip level of the archive header (0 = none).
  expect(seen).toEqual([
    ['none', 'none', '0'],
    ['default', 'gzip:3', '3'],
    ['gzip:9', 'gzip:9', '9'],
  ]);
});

it('writes a smaller object the more it compresses', () => {
  const none = backups.get('none')!.bytes;
  const gzip3 = backups.get('default')!.bytes;
  const gzip9 = backups.get('gzip:9')!.bytes;
  expect(gzip3).toBeLessThan(none * 0.8);
  expect(gzip9).toBeLessThanOrEqual(gzip3);
});

it('verifies and restores every compression with identical contents', async () => {
  const verified = await verifyHandler({ manifestKeys: [...backups.values()].map((b) => b.manifestKey) });
  expect(verified.results.map((r) => r.status)).toEqual(['verified', 'verified', 'verified']);
  for (const backup of backups.values()) {
    const restored = `compress_restored_${Math.random().toString(36).slice(2, 10)}`;
    created.push(restored);
    await runRestore({ bucket, manifestKey: backup.manifestKey, target: target(restored), createDatabase: true, s3 });
    expect(await fingerprint(restored)).toEqual(sourceFingerprint);
  }
});

it.each([
  ['gzip:10', 'InvalidInput', /compression level for gzip must be a whole number from 0 to 9; got 10/],
  ['fast', 'InvalidInput', /compression must be "none" or <method>:<level>/],
  ['zstd:3', 'DumpFailed', /zstd needs pg_dump 16 or newer; this pg_dump is 15: use gzip, or a PgToolsLayer of PostgreSQL 16\+/],
])('refuses compression %s (%s) and leaves nothing in the bucket', async (compression, name, message) => {
  const database = await createTestDatabase('compress_refused');
  created.push(database.name);
  const failure = await dumpHandler(
    { target: { secretArn, sslRootCertSecretArn: caSecretArn }, database: database.name, tiers: ['daily'], compression },
    context,
  ).then(() => undefined, (error: unknown) => error as Error);
  expect(failure?.name).toBe(name);
  expect(failure?.message).toMatch(message);
  const left = await leftovers(s3, bucket, `postgres/compress-pg/${database.name}/`);
  expect(left).toEqual({ versions: [], deleteMarkers: [], uploads: [] });
});
