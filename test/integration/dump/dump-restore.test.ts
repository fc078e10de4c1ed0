/**
 * The dump handler end to end on real PostgreSQL and the emulator: two databases (one invocation each), then verify, then
 * pg_restore each into a fresh database and compare every table's row count and content checksum with the source.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { handler as dumpHandler, type DumpOutputBackup } from '../../../lambda/backup/dump.handler';
import { parseManifestJson, type BackupManifest } from '../../../lambda/backup/manifest';
import { handler as verifyHandler } from '../../../lambda/backup/verify.handler';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, harnessCaSecretArn, type TestDatabase } from '../../support/postgres';
import { createDbSecret, fingerprint, leftovers, pgRestoreFromS3, seedSource, tableBytes, type TableFingerprint } from './support';

jest.setTimeout(600_000);

const s3 = new S3Client({});
const created: string[] = [];
let big: TestDatabase;
let small: TestDatabase;
let bucket: string;
let kmsKeyArn: string;
let output: { readonly backups: readonly DumpOutputBackup[] };
const sourceFingerprints = new Map<string, TableFingerprint[]>();

async function readManifest(key: string): Promise<BackupManifest> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const parsed = parseManifestJson(await (object.Body as { transformToString(): Promise<string> }).transformToString());
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.manifest;
}

beforeAll(async () => {
  big = await createTestDatabase('dump_big');
  small = await createTestDatabase('dump_small');
  created.push(big.name, small.name);
  await seedSource(big.name, { bigTableMb: 55 });
  await seedSource(small.name);
  for (const db of [big, small]) sourceFingerprints.set(db.name, await fingerprint(db.name));

  bucket = await createTestBucket({ prefix: 'dump-restore', versioned: true });
  kmsKeyArn = (await createKmsKey()).arn;
  process.env.BUCKET_NAME = bucket;
  process.env.BUCKET_KMS_KEY_ARN = kmsKeyArn;
  process.env.SOURCE_ID = 'harness-pg';
  const secretArn = await createDbSecret();
  const backups: DumpOutputBackup[] = [];
  for (const database of [big.name, small.name]) {
    const { backup } = await dumpHandler({ target: { secretArn, sslRootCertSecretArn: await harnessCaSecretArn() }, database, tiers: ['weekly', 'daily'] }, { getRemainingTimeInMillis: () => 15 * 60_000 });
    backups.push(backup);
  }
  output = { backups };
});

afterAll(async () => {
  for (const name of created) await dropTestDatabase(name);
  s3.destroy();
});

it('really has a table of at least 50 MB to dump', async () => {
  expect(await tableBytes(big.name, 'public.big_blob')).toBeGreaterThanOrEqual(50 * 1024 * 1024);
});

it('returns the backup of its database, with the manifest key of the layout', () => {
  expect(output.backups.map((b) => b.database)).toEqual([big.name, small.name]);
  for (const backup of output.backups) {
    expect(backup.manifestKey).toMatch(new RegExp(`^postgres/harness-pg/${backup.database}/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{6}\\.\\d{3}Z\\.manifest\\.json$`));
    expect(backup.dumpKey).toBe(backup.manifestKey.replace(/\.manifest\.json$/, '.dump'));
    expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(backup.versionId).toEqual(expect.any(String));
  }
  expect(output.backups[0].bytes).toBeGreaterThan(20 * 1024 * 1024);
});

it('writes a manifest whose row counts equal the source, with tiers and versions', async () => {
  for (const backup of output.backups) {
    const manifest = await readManifest(backup.manifestKey);
    const expected = sourceFingerprints.get(backup.database)!.map(({ schema, name, rows }) => ({ schema, name, rows }));
    expect(manifest.tables).toEqual(expected);
    // The handler's output only counts them: the list stays in the manifest, out of the state machine's payload.
    expect(backup.tableCount).toBe(expected.length);
    expect(backup).not.toHaveProperty('tables');
    expect(manifest.tables).toContainEqual({ schema: 'MixedCase', name: 'Order Items', rows: 300 });
    expect(manifest.tables).toContainEqual({ schema: 'public', name: 'weird "quoted" name', rows: 3 });
    expect(manifest).toMatchObject({
      schemaVersion: 2,
      format: 'pg_dump-custom',
      source: 'harness-pg',
      database: backup.database,
      serverVersion: expect.stringMatching(/^15\./),
      pgDumpVersion: expect.stringMatching(/^\d+\./),
      bytes: backup.bytes,
      sha256: backup.sha256,
      s3: { bucket, key: backup.dumpKey, versionId: backup.versionId },
      tiers: ['daily', 'weekly'],
      globals: { key: backup.dumpKey.replace(/\.dump$/, '.globals.sql'), versionId: expect.any(String) },
    });
    expect(Date.parse(manifest.finishedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.startedAt));
  }
});

it('encrypts the dump with the bucket key (SSE-KMS)', async () => {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: output.backups[0].dumpKey }));
  expect(head.ServerSideEncryption).toBe('aws:kms');
  expect(head.SSEKMSKeyId).toContain(kmsKeyArn.split('/').pop());
  expect(head.ContentLength).toBe(output.backups[0].bytes);
});

it('writes the roles beside each dump (no passwords), hashed in the manifest', async () => {
  const { pg } = harnessEnv();
  for (const backup of output.backups) {
    const { globals } = await readManifest(backup.manifestKey);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: globals!.key, VersionId: globals!.versionId ?? undefined }));
    const bytes = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(object.ServerSideEncryption).toBe('aws:kms');
    expect(bytes.length).toBe(globals!.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(globals!.sha256);
    const sql = bytes.toString('utf8');
    expect(sql).toContain(`CREATE ROLE ${pg.user};`);
    expect(sql).not.toMatch(/PASSWORD/);
  }
});

it('leaves exactly one dump, globals and manifest per database and no open upload', async () => {
  for (const backup of output.backups) {
    const left = await leftovers(s3, bucket, `postgres/harness-pg/${backup.database}/`);
    const globalsKey = backup.dumpKey.replace(/\.dump$/, '.globals.sql');
    expect(left.versions.map((v) => v.split('@')[0]).sort()).toEqual([backup.dumpKey, globalsKey, backup.manifestKey].sort());
    expect(left.uploads).toEqual([]);
  }
});

it('verifies both backups by re-hashing them from S3', async () => {
  const result = await verifyHandler({ manifestKeys: output.backups.map((b) => b.manifestKey) });
  expect(result.results.map((r) => [r.status, r.checks.sha256?.ok, r.checks.bytes?.ok, r.checks.versionId?.ok])).toEqual([
    ['verified', true, true, true],
    ['verified', true, true, true],
  ]);
});

it('restores each dump into a fresh database with identical row counts and contents', async () => {
  for (const backup of output.backups) {
    const restored = await createTestDatabase('restored');
    created.push(restored.name);
    await pgRestoreFromS3(s3, bucket, backup.dumpKey, backup.versionId, restored.name);
    expect(await fingerprint(restored.name)).toEqual(sourceFingerprints.get(backup.database));
  }
});
