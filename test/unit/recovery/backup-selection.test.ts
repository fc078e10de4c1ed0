import {
  ageSeconds,
  dumpCandidates,
  dumpProblem,
  orderCandidates,
  parseSelection,
  pickedDump,
  rpoFields,
  selectionMode,
  snapshotProblem,
  sortNewestFirst,
  type SnapshotCandidate,
} from '../../../lambda/selection/backup-selection';
import { InvalidInput } from '../../../lambda/common/errors';
import { backupKeys, type BackupManifest } from '../../../lambda/backup/manifest';

const at = (iso: string) => new Date(iso);
const key = (source: string, db: string, iso: string) => backupKeys(source, db, at(iso)).manifestKey;

function manifest(overrides: Partial<BackupManifest> = {}): BackupManifest {
  const keys = backupKeys('prod', 'app', at('2024-05-01T02:00:00.000Z'));
  return {
    schemaVersion: 1,
    format: 'pg_dump-custom',
    source: 'prod',
    database: 'app',
    serverVersion: '15.8',
    pgDumpVersion: '15.8',
    startedAt: '2024-05-01T02:00:00.000Z',
    finishedAt: '2024-05-01T02:03:00.000Z',
    bytes: 1234,
    sha256: 'a'.repeat(64),
    s3: { bucket: 'b', key: keys.dumpKey, versionId: 'v1' },
    tables: [{ schema: 'public', name: 't', rows: 3 }],
    tiers: ['daily'],
    ...overrides,
  };
}

describe('parseSelection', () => {
  it('defaults to the latest and accepts each documented form for its kind', () => {
    expect(parseSelection(undefined, 'dump')).toEqual({ latest: true });
    expect(parseSelection(null, 'snapshot')).toEqual({ latest: true });
    expect(parseSelection({ latest: true }, 'dump')).toEqual({ latest: true });
    const k = key('prod', 'app', '2024-05-01T02:00:00Z');
    expect(parseSelection({ manifestKey: k }, 'dump')).toEqual({ manifestKey: k });
    expect(parseSelection({ snapshotId: 'cdkbdr-prod-20240501020000' }, 'snapshot')).toEqual({ snapshotId: 'cdkbdr-prod-20240501020000' });
    expect(parseSelection({ randomWithinDays: 30 }, 'dump')).toEqual({ randomWithinDays: 30 });
  });

  it.each<[unknown, 'dump' | 'snapshot', RegExp]>([
    [{ latest: false }, 'dump', /selection.latest must be true/],
    [{ latest: true, randomWithinDays: 3 }, 'dump', /selection must be one of .*got keys \["latest","randomWithinDays"\]/],
    [{}, 'dump', /selection must be one of/],
    [{ newest: true }, 'dump', /selection must be one of .*got "newest"/],
    [{ manifestKey: 'postgres/prod/app/x.dump' }, 'dump', /selection.manifestKey must be a manifest key/],
    [{ manifestKey: 'postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json' }, 'snapshot', /names a dump, but this recovery test restores snapshots/],
    [{ snapshotId: 'cdkbdr-x' }, 'dump', /names a snapshot, but this recovery test restores dumps/],
    [{ snapshotId: 'arn:aws:rds:us-east-1:1:snapshot:x' }, 'snapshot', /must be a snapshot identifier \(not an ARN\)/],
    [{ randomWithinDays: 0 }, 'dump', /at least 1/],
    [{ randomWithinDays: 2.5 }, 'dump', /whole number of days from 1 to 3660/],
    [{ randomWithinDays: 10_000 }, 'dump', /whole number of days from 1 to 3660/],
    ['latest', 'dump', /selection must be an object/],
  ])('refuses %j for %s with InvalidInput', (value, kind, message) => {
    expect(() => parseSelection(value, kind)).toThrow(InvalidInput);
    expect(() => parseSelection(value, kind)).toThrow(message);
  });

  it('names the mode of each selection', () => {
    expect([{ latest: true as const }, { manifestKey: 'k' }, { snapshotId: 's' }, { randomWithinDays: 1 }].map(selectionMode)).toEqual([
      'latest',
      'manifestKey',
      'snapshotId',
      'randomWithinDays',
    ]);
  });
});

describe('dumpCandidates', () => {
  const keys = [
    key('prod', 'app', '2024-05-01T02:00:00Z'),
    key('prod', 'app', '2024-05-03T02:00:00Z'),
    backupKeys('prod', 'app', at('2024-05-03T02:00:00Z')).dumpKey,
    key('prod', 'billing', '2024-05-02T02:00:00Z'),
    key('prod', 'zeta', '2024-05-03T02:00:00Z'),
    key('prod-2', 'app', '2024-06-01T02:00:00Z'),
    'postgres/prod/app/2024/05/04/not-a-timestamp.manifest.json',
    'postgres/prod/app/2024/05/09/20240504T020000.000Z.manifest.json',
    'reports/backup/2024/05/01/x.json',
  ];

  it('keeps only well-formed manifests of the source, newest first, ties by key descending', () => {
    expect(dumpCandidates(keys, 'prod').map((c) => c.manifestKey)).toEqual([
      key('prod', 'zeta', '2024-05-03T02:00:00Z'),
      key('prod', 'app', '2024-05-03T02:00:00Z'),
      key('prod', 'billing', '2024-05-02T02:00:00Z'),
      key('prod', 'app', '2024-05-01T02:00:00Z'),
    ]);
  });

  it('narrows to one database', () => {
    expect(dumpCandidates(keys, 'prod', 'app').map((c) => c.timestamp.toISOString())).toEqual([
      '2024-05-03T02:00:00.000Z',
      '2024-05-01T02:00:00.000Z',
    ]);
  });
});

describe('orderCandidates', () => {
  const items = sortNewestFirst(
    ['2024-05-10', '2024-05-09', '2024-05-05', '2024-04-01'].map((d) => ({ id: d, timestamp: at(`${d}T00:00:00Z`) })),
    (i) => i.id,
  );
  const now = at('2024-05-10T12:00:00Z');

  it('keeps the newest-first order for latest', () => {
    expect(orderCandidates(items, { latest: true }, now, () => 0).map((i) => i.id)).toEqual(['2024-05-10', '2024-05-09', '2024-05-05', '2024-04-01']);
  });

  it('draws only from the window, in the order the random source dictates', () => {
    // Fisher-Yates with j = 0 each step: [a,b,c] → swap(2,0) → [c,b,a] → swap(1,0) → [b,c,a]
    expect(orderCandidates(items, { randomWithinDays: 7 }, now, () => 0).map((i) => i.id)).toEqual(['2024-05-09', '2024-05-05', '2024-05-10']);
    // j = i each step leaves the order as it is.
    expect(orderCandidates(items, { randomWithinDays: 7 }, now, (n) => n - 1).map((i) => i.id)).toEqual(['2024-05-10', '2024-05-09', '2024-05-05']);
    expect(orderCandidates(items, { randomWithinDays: 1 }, now, () => 0).map((i) => i.id)).toEqual(['2024-05-10']);
    expect(orderCandidates(items, { randomWithinDays: 60 }, now, (n) => n - 1)).toHaveLength(4);
  });

  it('covers every candidate of the window over many draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(orderCandidates(items, { randomWithinDays: 7 }, now, (n) => Math.floor(Math.random() * n))[0].id);
    expect([...seen].sort()).toEqual(['2024-05-05', '2024-05-09', '2024-05-10']);
  });
});

describe('dumpProblem', () => {
  const k = key('prod', 'app', '2024-05-01T02:00:00Z');
  const m = manifest();

  it('accepts a manifest of the source whose object exists with its size, in a readable storage class', () => {
    expect(dumpProblem(k, m, 'prod', { contentLength: 1234, versionId: 'v1' })).toBeUndefined();
    expect(dumpProblem(k, m, 'prod', { contentLength: 1234, storageClass: 'GLACIER_IR' })).toBeUndefined();
    expect(dumpProblem(k, m, 'prod', { contentLength: 1234, storageClass: 'DEEP_ARCHIVE', restore: 'ongoing-request="false", expiry-date="x"' })).toBeUndefined();
  });

  it.each<[string, Parameters<typeof dumpProblem>, RegExp]>([
    ['another source', [k, manifest({ source: 'other' }), 'prod', { contentLength: 1234 }], /of source "other", not "prod"/],
    ['another database than its key', [k, manifest({ database: 'billing' }), 'prod', { contentLength: 1234 }], /of database "billing" but its key names "app"/],
    ['a missing object version', [k, m, 'prod', undefined], /the dump object postgres\/prod\/app\/.*\.dump \(version v1\) does not exist/],
    ['a size mismatch', [k, m, 'prod', { contentLength: 99 }], /is 99 bytes but the manifest says 1234/],
    ['Glacier Flexible Retrieval', [k, m, 'prod', { contentLength: 1234, storageClass: 'GLACIER' }], /archived in GLACIER; restore it from Glacier first/],
    ['Deep Archive being restored', [k, m, 'prod', { contentLength: 1234, storageClass: 'DEEP_ARCHIVE', restore: 'ongoing-request="true"' }], /archived in DEEP_ARCHIVE/],
  ])('refuses %s', (_name, args, message) => {
    expect(dumpProblem(...args)).toMatch(message);
  });
});

describe('snapshotProblem', () => {
  const snapshot: SnapshotCandidate = {
    snapshotId: 'cdkbdr-prod-20240501020000',
    snapshotArn: 'arn:aws:rds:us-east-1:111111111111:snapshot:cdkbdr-prod-20240501020000',
    status: 'available',
    timestamp: at('2024-05-01T02:00:00Z'),
    tags: {},
    masterUsername: 'app',
    encrypted: true,
  };
  it('accepts an available snapshot of this package with a master user, and says why others are refused', () => {
    expect(snapshotProblem(snapshot, true)).toBeUndefined();
    expect(snapshotProblem(snapshot, false)).toMatch(/not created by cdk-backup-dr/);
    expect(snapshotProblem({ ...snapshot, status: 'creating' }, true)).toBe('it is "creating", not available');
    expect(snapshotProblem({ ...snapshot, masterUsername: undefined }, true)).toMatch(/no master user name/);
  });
});

describe('ages and RPO', () => {
  it('counts whole seconds, never negative', () => {
    expect(ageSeconds(at('2024-05-01T00:00:00Z'), at('2024-05-01T01:00:00.999Z'))).toBe(3600);
    expect(ageSeconds(at('2024-05-01T00:00:10Z'), at('2024-05-01T00:00:00Z'))).toBe(0);
  });
  it('adds the RPO fields only when an RPO is set; the boundary is within', () => {
    expect(rpoFields(100, undefined)).toEqual({});
    expect(rpoFields(100, 100)).toEqual({ rpoSeconds: 100, withinRpo: true });
    expect(rpoFields(101, 100)).toEqual({ rpoSeconds: 100, withinRpo: false });
  });
  it('summarizes a manifest for the state machine without its table list', () => {
    const k = key('prod', 'app', '2024-05-01T02:00:00Z');
    expect(pickedDump(k, manifest())).toEqual({
      manifestKey: k,
      dumpKey: manifest().s3.key,
      database: 'app',
      bytes: 1234,
      sha256: 'a'.repeat(64),
      versionId: 'v1',
      startedAt: '2024-05-01T02:00:00.000Z',
      finishedAt: '2024-05-01T02:03:00.000Z',
      serverVersion: '15.8',
      pgDumpVersion: '15.8',
      tables: 1,
      tiers: ['daily'],
    });
  });
});
