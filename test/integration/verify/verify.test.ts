/**
 * The verify handler on the emulator, starting from a real dump: verified, corrupt, missing object, missing and
 * invalid manifests, archived (Glacier) objects, and the replica copy (not replicated yet, verified, corrupt).
 *
 * The emulator does not replicate between buckets: the tests copy the object to the replica bucket themselves
 * ("emulated replication"), which is what the check reads.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { runDump, type DumpResult } from '../../../lambda/backup/dump-core';
import { NotReady } from '../../../lambda/common/errors';
import { serializeManifest, type BackupManifest } from '../../../lambda/backup/manifest';
import { verdictOf, verifyBackup } from '../../../lambda/backup/verify-core';
import { handler as verifyHandler, VerificationFailed } from '../../../lambda/backup/verify.handler';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, type TestDatabase } from '../../support/postgres';
import { seedSource } from '../dump/support';

jest.setTimeout(300_000);

const REPLICA_REGION = 'us-west-2';
const s3 = new S3Client({});
const replicaS3 = new S3Client({ region: REPLICA_REGION });
let db: TestDatabase;
let bucket: string;
let replicaBucket: string;
let kmsKeyId: string;
let backupCount = 0;

async function dumpOnce(): Promise<DumpResult> {
  const { pg } = harnessEnv();
  backupCount += 1;
  return runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, sslMode: 'disable' },
    bucket,
    kmsKeyId,
    source: `verify-${backupCount}`,
    tiers: ['daily'],
    s3,
  });
}

async function rewriteManifest(result: DumpResult, changes: Partial<BackupManifest>): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: result.manifestKey, Body: serializeManifest({ ...result.manifest, ...changes }) }),
  );
}

async function bytesOf(key: string, versionId: string | null): Promise<Uint8Array> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  return out.Body!.transformToByteArray();
}

/** Emulated replication: the object's bytes, copied into the replica bucket under the same key. */
async function replicate(key: string, body: Uint8Array): Promise<void> {
  await replicaS3.send(new PutObjectCommand({ Bucket: replicaBucket, Key: key, Body: body }));
}

async function verificationError(event: object): Promise<Error> {
  const error = await verifyHandler(event).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

beforeAll(async () => {
  db = await createTestDatabase('verify_src');
  await seedSource(db.name);
  bucket = await createTestBucket({ prefix: 'verify', versioned: true });
  replicaBucket = await createTestBucket({ prefix: 'verify-replica', versioned: true, region: REPLICA_REGION });
  kmsKeyId = (await createKmsKey()).arn;
  process.env.BUCKET_NAME = bucket;
});

afterAll(async () => {
  await dropTestDatabase(db.name);
  s3.destroy();
  replicaS3.destroy();
});

afterEach(() => {
  delete process.env.REPLICA_BUCKET_NAME;
  delete process.env.REPLICA_REGION;
});

describe('primary copy', () => {
  it('verifies a fresh dump: bytes, sha256 and version id all match', async () => {
    const dump = await dumpOnce();
    const result = await verifyHandler({ manifestKey: dump.manifestKey });
    expect(result).toEqual({
      manifestKey: dump.manifestKey,
      status: 'verified',
      database: db.name,
      dumpKey: dump.dumpKey,
      storageClass: 'STANDARD',
      checks: {
        bytes: { expected: dump.manifest.bytes, actual: dump.manifest.bytes, ok: true },
        sha256: { expected: dump.manifest.sha256, actual: dump.manifest.sha256, ok: true },
        versionId: { expected: dump.manifest.s3.versionId, actual: dump.manifest.s3.versionId, ok: true },
        globalsSha256: { expected: dump.manifest.globals?.sha256, actual: dump.manifest.globals?.sha256, ok: true },
      },
    });
  });

  it('re-hashes the roles and globals object: a changed one is corrupt, a deleted one missing', async () => {
    const dump = await dumpOnce();
    const globals = dump.manifest.globals!;
    const changed = Buffer.concat([Buffer.from(await bytesOf(globals.key, globals.versionId)), Buffer.from('CREATE ROLE intruder SUPERUSER;\n')]);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: globals.key, Body: changed }));
    await rewriteManifest(dump, { globals: { ...globals, versionId: put.VersionId ?? null } });
    const corrupt = await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey });
    expect([corrupt.status, corrupt.checks.sha256?.ok, corrupt.checks.globalsSha256]).toEqual([
      'corrupt',
      true,
      { expected: globals.sha256, actual: createHash('sha256').update(changed).digest('hex'), ok: false },
    ]);
    await expect(verifyHandler({ manifestKey: dump.manifestKey })).rejects.toThrow(/: corrupt \(globalsSha256 expected/);

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: globals.key, VersionId: put.VersionId }));
    const missing = await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey });
    expect([missing.status, missing.detail]).toEqual(['missing-object', expect.stringMatching(/^the roles and globals object s3:\/\/\S+\.globals\.sql version \S+ does not exist$/)]);
  });

  it('detects corrupted bytes (a new version with one byte flipped, the manifest pointing at it)', async () => {
    const dump = await dumpOnce();
    const body = Buffer.from(await bytesOf(dump.dumpKey, dump.manifest.s3.versionId));
    body[Math.floor(body.length / 2)] ^= 0xff;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.dumpKey, Body: body }));
    await rewriteManifest(dump, { s3: { ...dump.manifest.s3, versionId: put.VersionId ?? null } });

    const result = await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey });
    expect(result.status).toBe('corrupt');
    expect(result.checks.bytes?.ok).toBe(true);
    expect(result.checks.sha256).toEqual({
      expected: dump.manifest.sha256,
      actual: createHash('sha256').update(body).digest('hex'),
      ok: false,
    });
    const error = await verificationError({ manifestKey: dump.manifestKey });
    expect(error).toBeInstanceOf(VerificationFailed);
    expect(error.name).toBe('VerificationFailed');
    expect(error.message).toMatch(new RegExp(`^${dump.manifestKey.replace(/\./g, '\\.')}: corrupt \\(sha256 expected "${dump.manifest.sha256}"`));
  });

  it('detects a truncated object as corrupt on size and hash', async () => {
    const dump = await dumpOnce();
    const body = (await bytesOf(dump.dumpKey, dump.manifest.s3.versionId)).subarray(0, 1000);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.dumpKey, Body: body }));
    await rewriteManifest(dump, { s3: { ...dump.manifest.s3, versionId: put.VersionId ?? null } });
    const result = await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey });
    expect([result.status, result.checks.bytes?.actual, result.checks.sha256?.ok]).toEqual(['corrupt', 1000, false]);
  });

  it("reports the manifest's object version gone as missing-object", async () => {
    const dump = await dumpOnce();
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: dump.dumpKey, VersionId: dump.manifest.s3.versionId ?? undefined }));
    const result = await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey });
    expect(result.status).toBe('missing-object');
    await expect(verifyHandler({ manifestKey: dump.manifestKey })).rejects.toThrow(/: missing-object - s3:\/\/.* does not exist/);
  });

  it('reports a missing manifest distinctly', async () => {
    const manifestKey = 'postgres/verify-x/app/2024/01/31/20240131T020000.000Z.manifest.json';
    expect(await verifyBackup({ s3, bucket, manifestKey })).toEqual({
      manifestKey,
      status: 'missing-manifest',
      checks: {},
      detail: `no manifest at s3://${bucket}/${manifestKey}`,
    });
    const error = await verificationError({ manifestKeys: [manifestKey] });
    expect(error).toBeInstanceOf(VerificationFailed);
    expect(error.message).toBe(`${manifestKey}: missing-manifest - no manifest at s3://${bucket}/${manifestKey}`);
  });

  it('reports a manifest that is not valid, or not the one of its key, as invalid-manifest', async () => {
    const dump = await dumpOnce();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.manifestKey, Body: '{"schemaVersion": 1}' }));
    expect((await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey })).status).toBe('invalid-manifest');

    const other = await dumpOnce();
    await rewriteManifest(other, { s3: dump.manifest.s3, globals: dump.manifest.globals });
    const result = await verifyBackup({ s3, bucket, manifestKey: other.manifestKey });
    expect(result.status).toBe('invalid-manifest');
    expect(result.detail).toBe(`the manifest names the dump ${dump.dumpKey}, not ${other.dumpKey}`);
  });

  it('reports an object in GLACIER as archived, not as an S3 error', async () => {
    const dump = await dumpOnce();
    const copy = await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: dump.dumpKey,
        CopySource: `${bucket}/${dump.dumpKey}?versionId=${dump.manifest.s3.versionId}`,
        StorageClass: 'GLACIER',
      }),
    );
    await rewriteManifest(dump, { s3: { ...dump.manifest.s3, versionId: copy.VersionId ?? null } });
    const result = await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey });
    expect(result).toMatchObject({ status: 'archived', storageClass: 'GLACIER', checks: {} });
    expect(result.detail).toMatch(/restore it \(S3 RestoreObject\) to verify it/);
    await expect(verifyHandler({ manifestKey: dump.manifestKey })).rejects.toThrow(VerificationFailed);
  });

  it('reports an object uploaded straight to DEEP_ARCHIVE as archived', async () => {
    const dump = await dumpOnce();
    const body = await bytesOf(dump.dumpKey, dump.manifest.s3.versionId);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.dumpKey, Body: body, StorageClass: 'DEEP_ARCHIVE' }));
    await rewriteManifest(dump, { s3: { ...dump.manifest.s3, versionId: put.VersionId ?? null } });
    expect(await verifyBackup({ s3, bucket, manifestKey: dump.manifestKey })).toMatchObject({ status: 'archived', storageClass: 'DEEP_ARCHIVE' });
  });
});

describe('replica copy', () => {
  beforeEach(() => {
    process.env.REPLICA_BUCKET_NAME = replicaBucket;
    process.env.REPLICA_REGION = REPLICA_REGION;
  });

  it('not replicated yet: NotReady (retry later), not a verification failure', async () => {
    const dump = await dumpOnce();
    const error = await verificationError({ manifestKey: dump.manifestKey });
    expect(error).toBeInstanceOf(NotReady);
    expect(error.name).toBe('NotReady');
    expect(error.message).toMatch(/^not replicated yet: .*: verified ; replica in us-west-2\/verify-replica-[0-9a-f]+: pending - no replica object/);
  });

  it('not replicated yet and S3 hides the absence behind a 403 (no s3:ListBucket): pending, so NotReady', async () => {
    const dump = await dumpOnce();
    // The emulator enforces no IAM: the 403 S3 gives a HEAD of a missing key without s3:ListBucket is injected.
    const denying = new S3Client({ region: REPLICA_REGION });
    denying.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'HeadObjectCommand') {
          throw new S3ServiceException({ name: 'Forbidden', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'UnknownError' });
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'forbidReplicaHead' },
    );
    try {
      const result = await verifyBackup({
        s3,
        bucket,
        manifestKey: dump.manifestKey,
        replica: { bucket: replicaBucket, region: REPLICA_REGION, s3: denying },
      });
      expect(result.replica).toMatchObject({ status: 'pending' });
      expect(result.replica?.detail).toMatch(/^S3 answered Forbidden \(HTTP 403\) to the HEAD of .*\.dump: not replicated yet, or the verify role lacks s3:ListBucket/);
      expect(verdictOf(result)).toBe('not-ready');
    } finally {
      denying.destroy();
    }
  });

  it('replicated: verifies the replica by re-hashing it too', async () => {
    const dump = await dumpOnce();
    await replicate(dump.dumpKey, await bytesOf(dump.dumpKey, dump.manifest.s3.versionId));
    const result = await verifyHandler({ manifestKey: dump.manifestKey });
    expect(result.status).toBe('verified');
    expect(result.replica).toMatchObject({
      bucket: replicaBucket,
      region: REPLICA_REGION,
      status: 'verified',
      checks: { bytes: { ok: true }, sha256: { ok: true } },
    });
  });

  it('a corrupt replica fails verification (distinct from not replicated yet)', async () => {
    const dump = await dumpOnce();
    const body = Buffer.from(await bytesOf(dump.dumpKey, dump.manifest.s3.versionId));
    body[0] ^= 0x01;
    await replicate(dump.dumpKey, body);
    const error = await verificationError({ manifestKey: dump.manifestKey });
    expect(error).toBeInstanceOf(VerificationFailed);
    expect(error.message).toMatch(/: verified ; replica in us-west-2\/.*: corrupt$/);
    const result = await verifyBackup({
      s3,
      bucket,
      manifestKey: dump.manifestKey,
      replica: { bucket: replicaBucket, region: REPLICA_REGION, s3: replicaS3 },
    });
    expect(result.replica?.checks.sha256?.ok).toBe(false);
  });
});
