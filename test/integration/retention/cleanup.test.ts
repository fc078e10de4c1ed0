/**
 * The cleanup core against moto: 410 days of daily dumps of two databases in a versioned bucket, and 410 daily
 * snapshots of an RDS instance in the primary region with their copies in the DR region, cleaned with
 * RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12, yearly: 3 }). The expected survivors are worked out by
 * hand from the calendar below, not by the decision function; S3 calls are counted. Then 1,100 hourly dumps of one
 * database, more than one page of every listing, deleted with all their versions: the listings paginate and the
 * DeleteObjects batches hold at most 1000 keys. And a bucket with Object Lock: dumps under retention or a legal hold
 * are kept, each with its reason, after the cleanup asked S3 about every deletion candidate (moto's missing
 * GetObjectRetention is added by the harness, test/support/moto-patch.ts).
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CopyDBSnapshotCommand, CreateDBInstanceCommand, CreateDBSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { backupKeys, formatKeyTimestamp } from '../../../lambda/backup/manifest';
import { cleanDumps, cleanSnapshots, manualSnapshotQuota } from '../../../lambda/retention/cleanup-core';
import { listSnapshots } from '../../../lambda/rds/client';
import { snapshotIdentifier, snapshotTags } from '../../../lambda/rds/snapshot';
import type { RetentionRules } from '../../../lambda/retention/policy';
import { createTestBucket, resetMoto } from '../../support/moto';
import { harnessEnv } from '../../support/env';

const DAY = 86_400_000;
const DAYS = 410;
/** The newest backup: Sunday 2024-06-30 02:00 UTC; the oldest 409 days earlier, Thursday 2023-05-18. */
const NEWEST = Date.UTC(2024, 5, 30, 2);
const NOW = new Date(NEWEST + 6 * 3_600_000);
const RULES: RetentionRules = { daily: 7, weekly: 4, monthly: 12, yearly: 3, minimumKeep: 1, timeZone: 'UTC' };
/**
 * By hand: daily 7 = June 24-30; weekly 4 = the Sundays June 30, 23, 16, 9; monthly 12 = the last day of June 2024
 * back to July 2023; yearly 3 = 2024-06-30, 2023-12-31 and, the count not being used up, the oldest (2023-05-18).
 */
const EXPECTED_DAYS = [
  '2024-06-30', '2024-06-29', '2024-06-28', '2024-06-27', '2024-06-26', '2024-06-25', '2024-06-24',
  '2024-06-23', '2024-06-16', '2024-06-09',
  '2024-05-31', '2024-04-30', '2024-03-31', '2024-02-29', '2024-01-31', '2023-12-31', '2023-11-30', '2023-10-31', '2023-09-30', '2023-08-31', '2023-07-31',
  '2023-05-18',
].sort();
const DATABASES = ['app', 'billing'];
/** The newest days of `app` were dumped with their roles (manifest v2): a `.globals.sql` beside each dump. */
const GLOBALS_DAYS = 200;
/** Of those, the expected survivors (EXPECTED_DAYS from 2023-12-13 on). */
const GLOBALS_KEPT = 16;
const SOURCE = 'prod';
const DR_REGION = 'us-west-2';

function days(): number[] {
  return Array.from({ length: DAYS }, (_, i) => NEWEST - i * DAY);
}

async function inBatches<T>(items: readonly T[], size: number, run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

async function currentKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

describe('cleanDumps on 410 days of daily dumps', () => {
  let s3: S3Client;
  let bucket: string;
  const oldOrphan = `postgres/${SOURCE}/app/2024/06/01/${formatKeyTimestamp(new Date(Date.UTC(2024, 5, 1, 3)))}.dump`;
  const freshOrphan = `postgres/${SOURCE}/app/2024/06/30/${formatKeyTimestamp(new Date(NOW.getTime() - 3_600_000))}.dump`;
  const oldOrphanGlobals = oldOrphan.replace(/\.dump$/, '.globals.sql');

  beforeAll(async () => {
    s3 = new S3Client({ region: harnessEnv().awsRegion });
    bucket = await createTestBucket({ prefix: 'retention', versioned: true });
    const puts: Array<{ key: string; body: string }> = [];
    for (const database of DATABASES) {
      for (const time of days()) {
        const keys = backupKeys(SOURCE, database, new Date(time));
        puts.push({ key: keys.dumpKey, body: `dump ${database} ${time}` }, { key: keys.manifestKey, body: '{}' });
        if (database === 'app' && time > NEWEST - GLOBALS_DAYS * DAY) puts.push({ key: keys.globalsKey, body: 'CREATE ROLE app;' });
      }
    }
    puts.push({ key: oldOrphan, body: 'interrupted' }, { key: oldOrphanGlobals, body: 'CREATE ROLE app;' });
    await inBatches(puts, 25, (p) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: p.key, Body: p.body })));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: freshOrphan, Body: 'being written' }));
  }, 300_000);

  afterAll(() => s3.destroy());

  const options = () => ({ s3, bucket, source: SOURCE, rules: RULES, now: NOW, orphanGraceSeconds: 86_400, objectLock: false, removeVersions: false });

  it('a dry run plans the expected survivors and deletes nothing', async () => {
    const before = await currentKeys(s3, bucket);
    const plan = await cleanDumps({ ...options(), dryRun: true });
    expect(plan.series.map((s) => [s.series, s.kept, s.deleted])).toEqual([
      [`postgres/${SOURCE}/app/`, 22, DAYS - 22],
      [`postgres/${SOURCE}/billing/`, 22, DAYS - 22],
    ]);
    expect(plan.calls).toEqual({ ListObjectsV2: 2 }); // 1842 objects: ⌈1842 / 1000⌉ pages
    expect(plan.objectsDeleted).toBe(0);
    expect(await currentKeys(s3, bucket)).toEqual(before);
    const newest = plan.series[0].items[0];
    expect(newest).toMatchObject({ time: '2024-06-30T02:00:00.000Z', keep: true, reasons: ['daily 1 of 7', 'weekly 1 of 4', 'monthly 1 of 12', 'yearly 1 of 3', 'newest verified'] });
    expect(plan.series[0].items[DAYS - 1]).toMatchObject({ time: '2023-05-18T02:00:00.000Z', keep: true, reasons: ['oldest yearly'] });
  });

  it('deletes manifests, then dumps and globals, in batches of at most 1000; the survivors are the expected ones; a second run deletes nothing', async () => {
    const result = await cleanDumps({ ...options(), dryRun: false });
    expect(result.errors).toEqual([]);
    expect(result.swept).toEqual([]); // the orphans were written minutes ago by moto's clock
    expect(result.objectsDeleted).toBe(2 * 2 * (DAYS - 22) + GLOBALS_DAYS - GLOBALS_KEPT);
    expect(result.calls).toEqual({ ListObjectsV2: 2, DeleteObjects: 2 }); // 776 manifests, then 776 dumps and 184 globals
    const left = await currentKeys(s3, bucket);
    for (const database of DATABASES) {
      const manifests = left.filter((k) => k.startsWith(`postgres/${SOURCE}/${database}/`) && k.endsWith('.manifest.json'));
      expect(manifests.map((k) => /(\d{4})(\d{2})(\d{2})T/.exec(k)!.slice(1).join('-')).sort()).toEqual(EXPECTED_DAYS);
      for (const manifest of manifests) expect(left).toContain(manifest.replace('.manifest.json', '.dump'));
    }
    const globalsLeft = left.filter((k) => k.endsWith('.globals.sql') && k !== oldOrphanGlobals);
    expect(globalsLeft).toHaveLength(GLOBALS_KEPT);
    for (const key of globalsLeft) expect(left).toContain(key.replace('.globals.sql', '.manifest.json'));
    expect(left).toEqual(expect.arrayContaining([oldOrphan, freshOrphan]));

    const again = await cleanDumps({ ...options(), dryRun: false });
    expect(again.objectsDeleted).toBe(0);
    expect(again.calls).toEqual({ ListObjectsV2: 1 });
  });

  it('sweeps a dump or globals object without a manifest once it is older than the grace period', async () => {
    const later = new Date(Date.now() + 7 * DAY);
    const result = await cleanDumps({ ...options(), now: later, orphanGraceSeconds: 86_400, dryRun: false, rules: { ...RULES, minimumKeep: 1000 } });
    expect([...result.swept].sort()).toEqual([freshOrphan, oldOrphan, oldOrphanGlobals].sort());
    expect(result.objectsDeleted).toBe(3);
    expect(await currentKeys(s3, bucket)).not.toContain(oldOrphanGlobals);
  });
});

describe('cleanDumps over 1,100 dumps of one database: pagination and batches of at most 1000', () => {
  const COUNT = 1100;
  const KEEP = 5;
  const database = 'ledger';
  const prefix = `postgres/${SOURCE}/${database}/`;
  /** Hourly, the newest one hour before NOW. */
  const times = Array.from({ length: COUNT }, (_, i) => NOW.getTime() - (i + 1) * 3_600_000);
  let s3: S3Client;
  let bucket: string;
  /** Keys per DeleteObjects call, as sent. */
  const batches: number[] = [];

  beforeAll(async () => {
    s3 = new S3Client({ region: harnessEnv().awsRegion });
    s3.middlewareStack.add(
      (next) => async (args) => {
        if ('Delete' in args.input && args.input.Delete?.Objects) batches.push(args.input.Delete.Objects.length);
        return next(args);
      },
      { step: 'initialize', name: 'countDeleteBatches' },
    );
    bucket = await createTestBucket({ prefix: 'retention-pages', versioned: true });
    const puts = times.flatMap((time) => {
      const keys = backupKeys(SOURCE, database, new Date(time));
      return [
        { key: keys.dumpKey, body: `dump ${time}` },
        { key: keys.manifestKey, body: '{}' },
      ];
    });
    await inBatches(puts, 25, (p) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: p.key, Body: p.body })));
  }, 300_000);

  afterAll(() => s3.destroy());

  const options = (dryRun: boolean) => ({
    s3,
    bucket,
    source: SOURCE,
    rules: { last: KEEP, timeZone: 'UTC' },
    now: NOW,
    orphanGraceSeconds: 86_400,
    objectLock: false,
    removeVersions: true,
    dryRun,
  });

  it('a dry run reads the 2,200 objects in 3 pages and plans 1,095 deletions without a delete call', async () => {
    const plan = await cleanDumps(options(true));
    expect(plan.calls).toEqual({ ListObjectsV2: 3 });
    expect(plan.series.map((s) => [s.series, s.kept, s.deleted])).toEqual([[prefix, KEEP, COUNT - KEEP]]);
    expect(batches).toEqual([]);
  });

  it('deletes every version of 1,095 manifests, then of their dumps, in batches of at most 1000; a re-run deletes nothing', async () => {
    const result = await cleanDumps(options(false));
    expect(result.errors).toEqual([]);
    expect(result.objectsDeleted).toBe(2 * (COUNT - KEEP));
    // Versions of the database prefix: 2,200 before the manifests go (3 pages), 1,105 before the dumps go (2 pages).
    expect(result.calls).toEqual({ ListObjectsV2: 3, ListObjectVersions: 5, DeleteObjects: 4 });
    expect(batches).toEqual([1000, COUNT - KEEP - 1000, 1000, COUNT - KEEP - 1000]);

    const versions: string[] = [];
    let deleteMarkers = 0;
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      versions.push(...(page.Versions ?? []).map((v) => v.Key!));
      deleteMarkers += page.DeleteMarkers?.length ?? 0;
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
    expect(deleteMarkers).toBe(0);
    const newest = times.slice(0, KEEP).map((time) => backupKeys(SOURCE, database, new Date(time)));
    expect(versions.sort()).toEqual(newest.flatMap((k) => [k.dumpKey, k.manifestKey]).sort());

    const again = await cleanDumps(options(false));
    expect([again.objectsDeleted, again.calls]).toEqual([0, { ListObjectsV2: 1 }]);
    expect(batches).toHaveLength(4);
  });
});

describe('cleanDumps in a bucket with Object Lock', () => {
  const database = 'locked';
  /** Ten daily dumps, the newest first. */
  const times = Array.from({ length: 10 }, (_, i) => NEWEST - i * DAY);
  const retainUntil = new Date(Date.now() + 30 * DAY);
  let s3: S3Client;
  let bucket: string;
  const keysOf = (i: number) => backupKeys(SOURCE, database, new Date(times[i]));

  beforeAll(async () => {
    s3 = new S3Client({ region: harnessEnv().awsRegion });
    bucket = `retention-lock-${randomBytes(6).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    for (const [i, time] of times.entries()) {
      const keys = backupKeys(SOURCE, database, new Date(time));
      // The dump of day 4 is under retention, the dump of day 6 under a legal hold; no default retention.
      const lock =
        i === 4
          ? { ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: retainUntil }
          : i === 6
            ? { ObjectLockLegalHoldStatus: 'ON' as const }
            : {};
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.dumpKey, Body: `dump ${time}`, ...lock }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.manifestKey, Body: '{}' }));
    }
  }, 120_000);

  afterAll(() => s3.destroy());

  it('asks S3 for the lock of every deletion candidate and keeps the locked ones with their reason', async () => {
    const now = new Date();
    const result = await cleanDumps({
      s3,
      bucket,
      source: SOURCE,
      rules: { last: 2, timeZone: 'UTC' },
      now,
      orphanGraceSeconds: 86_400,
      objectLock: true,
      removeVersions: false,
      dryRun: false,
    });
    expect(result.errors).toEqual([]);
    // 8 candidates beyond keepLast 2, each asked once; the locks only add keeps, so no second round of questions.
    expect(result.calls).toEqual({ ListObjectsV2: 1, GetObjectRetention: 8, GetObjectLegalHold: 8, DeleteObjects: 2 });
    const kept = result.series[0].items.filter((item) => item.keep);
    expect(kept.map((item) => [item.id, item.reasons])).toEqual([
      [keysOf(0).manifestKey, ['last 1 of 2', 'newest verified']],
      [keysOf(1).manifestKey, ['last 2 of 2']],
      [keysOf(4).manifestKey, [expect.stringMatching(/^locked until \d{4}-\d\d-\d\dT/)]],
      [keysOf(6).manifestKey, ['legal hold']],
    ]);
    expect(Date.parse(kept[2].reasons[0].slice('locked until '.length))).toBeCloseTo(retainUntil.getTime(), -4);
    expect(result.objectsDeleted).toBe(2 * 6);
    expect(await currentKeys(s3, bucket)).toEqual([0, 1, 4, 6].flatMap((i) => [keysOf(i).dumpKey, keysOf(i).manifestKey]).sort());
  });
});

describe('cleanSnapshots on 410 daily snapshots and their DR copies', () => {
  const instance = `db-${randomBytes(4).toString('hex')}`;
  let primary: RDSClient;
  let dr: RDSClient;
  const foreign = `cdkbdr-${instance}-20230101020000`;

  beforeAll(async () => {
    const region = harnessEnv().awsRegion;
    primary = new RDSClient({ region });
    dr = new RDSClient({ region: DR_REGION });
    await primary.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: instance,
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'postgres',
        MasterUserPassword: 'not-a-real-password-1',
      }),
    );
    await inBatches(days(), 20, async (time) => {
      const id = snapshotIdentifier('instance', instance, new Date(time));
      const tags = snapshotTags({ sourceIdentifier: instance, tiers: ['daily'] });
      const created = await primary.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: instance, DBSnapshotIdentifier: id, Tags: tags }));
      await dr.send(
        new CopyDBSnapshotCommand({
          SourceDBSnapshotIdentifier: created.DBSnapshot!.DBSnapshotArn!,
          TargetDBSnapshotIdentifier: id,
          Tags: snapshotTags({ sourceIdentifier: instance, tiers: ['daily'], copiedFrom: created.DBSnapshot!.DBSnapshotArn! }),
        }),
      );
    });
    // Someone else's snapshot with our name pattern but without our tags: never touched.
    await primary.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: instance, DBSnapshotIdentifier: foreign, Tags: [] }));
  }, 300_000);

  afterAll(async () => {
    primary.destroy();
    dr.destroy();
    await resetMoto();
  });

  it('keeps the expected snapshots in both regions and leaves untagged ones alone', async () => {
    for (const region of [harnessEnv().awsRegion, DR_REGION]) {
      const result = await cleanSnapshots({ region, kind: 'instance', sourceIdentifier: instance, rules: RULES, now: NOW, dryRun: false });
      expect(result.errors).toEqual([]);
      expect([result.series.kept, result.snapshotsDeleted]).toEqual([22, DAYS - 22]);
      const left = await listSnapshots(region, 'instance', { sourceIdentifier: instance });
      const ours = left.filter((s) => s.snapshotId !== foreign).map((s) => s.snapshotId.slice(-14, -6).replace(/(\d{4})(\d{2})(\d{2})/, '$1-$2-$3'));
      expect(ours.sort()).toEqual(EXPECTED_DAYS);
      const again = await cleanSnapshots({ region, kind: 'instance', sourceIdentifier: instance, rules: RULES, now: NOW, dryRun: false });
      expect(again.snapshotsDeleted).toBe(0);
    }
    expect((await listSnapshots(harnessEnv().awsRegion, 'instance', { snapshotId: foreign })).map((s) => s.snapshotId)).toEqual([foreign]);
  }, 120_000);

  it('reports the manual snapshot quota, or why it could not be read', async () => {
    const quota = await manualSnapshotQuota(DR_REGION);
    expect(quota.region).toBe(DR_REGION);
    expect(quota.used !== undefined || quota.error !== undefined).toBe(true);
  });
});
