/**
 * The recovery-pick handler against moto: manifests and dump objects in a versioned bucket (listed past the first
 * page), RDS snapshots with and without this package's tags.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { BackupNotFound, BackupUnusable, handler } from '../../../lambda/selection/recovery-pick.handler';
import { backupKeys, serializeManifest, type BackupManifest } from '../../../lambda/backup/manifest';
import { createDbInstance, generatePassword } from '../../../lambda/rds/instances';
import { rdsClient } from '../../../lambda/rds/client';
import { snapshotTags } from '../../../lambda/rds/snapshot';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createScratchNetwork } from './network';

const s3 = new S3Client({});
const { awsRegion: region } = harnessEnv();
const SOURCE = 'pick-src';
const HOUR = 3_600_000;
let bucket: string;
const saved = { ...process.env };

afterEach(() => {
  for (const name of ['BUCKET_NAME', 'SOURCE_ID', 'DATABASE', 'RPO_SECONDS', 'SNAPSHOT_KIND', 'SNAPSHOT_SOURCE_IDENTIFIER']) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** Writes a dump object and its manifest; returns the manifest key. */
async function putBackup(database: string, at: Date, options: { body?: string; manifest?: (m: BackupManifest) => unknown } = {}): Promise<string> {
  const keys = backupKeys(SOURCE, database, at);
  const body = options.body ?? `PGDMP fake dump of ${database} at ${at.toISOString()}`;
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.dumpKey, Body: body }));
  const manifest: BackupManifest = {
    schemaVersion: 1,
    format: 'pg_dump-custom',
    source: SOURCE,
    database,
    serverVersion: '15.18',
    pgDumpVersion: '15.18',
    startedAt: at.toISOString(),
    finishedAt: new Date(at.getTime() + 1000).toISOString(),
    bytes: Buffer.byteLength(body),
    sha256: createHash('sha256').update(body).digest('hex'),
    s3: { bucket, key: keys.dumpKey, versionId: put.VersionId ?? null },
    tables: [{ schema: 'public', name: 't', rows: 1 }],
    tiers: ['daily'],
  };
  const text = options.manifest ? JSON.stringify(options.manifest(manifest)) : serializeManifest(manifest);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.manifestKey, Body: text }));
  return keys.manifestKey;
}

describe('recovery-pick of dumps', () => {
  const now = Date.now();
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    bucket = await createTestBucket({ prefix: 'pick', versioned: true });
    // 1,001 other objects that list before the manifests: the manifests are on the second page.
    const fillers = Array.from({ length: 1001 }, (_, i) => `postgres/${SOURCE}/aaa-notes/${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < fillers.length; i += 50) {
      await Promise.all(fillers.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }))));
    }
    keys.old = await putBackup('app', new Date(now - 10 * 24 * HOUR));
    keys.usable = await putBackup('app', new Date(now - 3 * HOUR));
    keys.missingObject = await putBackup('app', new Date(now - 2 * HOUR));
    // Delete the dump's only version: its manifest points at a version that no longer exists.
    const dumpKey = backupKeys(SOURCE, 'app', new Date(now - 2 * HOUR)).dumpKey;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: dumpKey, VersionId: await versionOf(dumpKey) }));
    keys.invalid = await putBackup('app', new Date(now - 1 * HOUR), { manifest: (m) => ({ ...m, schemaVersion: 99 }) });
    keys.otherDatabase = await putBackup('billing', new Date(now - 0.5 * HOUR));
  }, 120_000);

  it('picks the newest usable backup of the configured database, listing past the first page and skipping unusable ones', async () => {
    process.env.BUCKET_NAME = bucket;
    process.env.SOURCE_ID = SOURCE;
    process.env.DATABASE = 'app';
    process.env.RPO_SECONDS = String(24 * 3600);
    const picked = await handler({ kind: 'dump', selection: { latest: true } });
    expect(picked).toMatchObject({ kind: 'dump', selection: 'latest', id: keys.usable, withinRpo: true, rpoSeconds: 86400, dump: { database: 'app', manifestKey: keys.usable } });
    expect(picked.ageSeconds).toBeGreaterThanOrEqual(3 * 3600);
    expect(picked.skipped).toEqual([
      { id: keys.invalid, reason: expect.stringMatching(/^invalid manifest: schemaVersion must be 1, 2 or 3; got 99/) },
      { id: keys.missingObject, reason: expect.stringMatching(/the dump object .* does not exist/) },
    ]);
  });

  it('picks the newest backup of any database when none is configured', async () => {
    process.env.BUCKET_NAME = bucket;
    process.env.SOURCE_ID = SOURCE;
    const picked = await handler({ kind: 'dump' });
    expect(picked.id).toBe(keys.otherDatabase);
  });

  it('returns a named backup, and refuses an unknown, an unusable or another source\'s one', async () => {
    process.env.BUCKET_NAME = bucket;
    process.env.SOURCE_ID = SOURCE;
    const picked = await handler({ kind: 'dump', selection: { manifestKey: keys.old } });
    expect(picked).toMatchObject({ selection: 'manifestKey', id: keys.old, skipped: [] });
    expect(picked.withinRpo).toBeUndefined();

    const unknown = backupKeys(SOURCE, 'app', new Date('2020-01-01T00:00:00Z')).manifestKey;
    await expect(handler({ kind: 'dump', selection: { manifestKey: unknown } })).rejects.toThrow(BackupNotFound);
    await expect(handler({ kind: 'dump', selection: { manifestKey: unknown } })).rejects.toThrow(/there is no manifest .* no such backup/);
    await expect(handler({ kind: 'dump', selection: { manifestKey: keys.invalid } })).rejects.toThrow(BackupUnusable);
    const foreign = backupKeys('someone-else', 'app', new Date()).manifestKey;
    await expect(handler({ kind: 'dump', selection: { manifestKey: foreign } })).rejects.toThrow(/must be a backup of this source, under postgres\/pick-src\//);
  });

  it('picks a random backup within the window, and fails when the window holds none', async () => {
    process.env.BUCKET_NAME = bucket;
    process.env.SOURCE_ID = SOURCE;
    process.env.DATABASE = 'app';
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) seen.add((await handler({ kind: 'dump', selection: { randomWithinDays: 30 } })).id);
    // Both usable backups of "app" are picked at some point (the invalid and the broken one never are).
    expect([...seen].sort()).toEqual([keys.old, keys.usable].sort());
    process.env.DATABASE = 'billing';
    await expect(handler({ kind: 'dump', selection: { randomWithinDays: 1 } })).resolves.toMatchObject({ id: keys.otherDatabase });
    process.env.DATABASE = 'nothing-here';
    await expect(handler({ kind: 'dump', selection: { randomWithinDays: 1 } })).rejects.toThrow(/no backup manifest within the last 1 days under/);
  });
});

async function versionOf(key: string): Promise<string> {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const version = out.Versions?.find((v) => v.Key === key)?.VersionId;
  if (!version) throw new Error(`no version of ${key}`);
  return version;
}

describe('recovery-pick of snapshots', () => {
  const instance = `pick-db-${Date.now().toString(36)}`;

  beforeAll(async () => {
    const network = await createScratchNetwork(`pick-${Date.now().toString(36)}`);
    await createDbInstance(region, {
      subnetGroupName: network.subnetGroupName,
      securityGroupIds: [network.securityGroupId],
      identifier: instance,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'app',
      masterPassword: generatePassword(),
      tags: [],
    });
    const own = snapshotTags({ sourceIdentifier: instance, tiers: ['daily'] });
    for (const [id, tags] of [
      [`cdkbdr-${instance}-older`, own],
      [`cdkbdr-${instance}-newer`, own],
      [`manual-${instance}-newest`, []],
    ] as const) {
      await rdsClient(region).send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: instance, DBSnapshotIdentifier: id, Tags: [...tags] }));
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
  }, 60_000);

  it('picks the newest available snapshot carrying the creator tag, skipping others, with its master user', async () => {
    process.env.SNAPSHOT_KIND = 'instance';
    process.env.SNAPSHOT_SOURCE_IDENTIFIER = instance;
    const picked = await handler({ kind: 'snapshot' });
    expect(picked).toMatchObject({
      kind: 'snapshot',
      id: `cdkbdr-${instance}-newer`,
      snapshot: { snapshotKind: 'instance', snapshotId: `cdkbdr-${instance}-newer`, masterUsername: 'app', engine: 'postgres', sourceIdentifier: instance },
      skipped: [{ id: `manual-${instance}-newest`, reason: expect.stringMatching(/not created by cdk-backup-dr/) }],
    });
    expect(picked.dataAsOf).toBe(picked.snapshot?.createdAt);
  });

  it('returns a named snapshot and refuses an unknown or foreign one before anything is created', async () => {
    process.env.SNAPSHOT_KIND = 'instance';
    process.env.SNAPSHOT_SOURCE_IDENTIFIER = instance;
    await expect(handler({ kind: 'snapshot', selection: { snapshotId: `cdkbdr-${instance}-older` } })).resolves.toMatchObject({ selection: 'snapshotId' });
    await expect(handler({ kind: 'snapshot', selection: { snapshotId: 'cdkbdr-does-not-exist' } })).rejects.toThrow(BackupNotFound);
    await expect(handler({ kind: 'snapshot', selection: { snapshotId: `manual-${instance}-newest` } })).rejects.toThrow(BackupUnusable);
    process.env.SNAPSHOT_SOURCE_IDENTIFIER = 'another-db';
    await expect(handler({ kind: 'snapshot', selection: { snapshotId: `cdkbdr-${instance}-older` } })).rejects.toThrow(/it is a snapshot of .*, not of another-db/);
    await expect(handler({ kind: 'snapshot' })).rejects.toThrow(/no manual instance snapshot of another-db/);
  });
});
