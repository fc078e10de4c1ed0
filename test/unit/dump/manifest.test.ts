import {
  backupKeys,
  dumpKeyForManifestKey,
  formatKeyTimestamp,
  parseBackupKey,
  parseKeyTimestamp,
  parseManifestJson,
  serializeManifest,
  validateManifest,
  type BackupManifest,
} from '../../../lambda/backup/manifest';
import { isDatabaseName } from '../../../lambda/common/names';

const AT = new Date(Date.UTC(2024, 0, 31, 2, 3, 4, 56));

function manifest(overrides: Partial<Record<keyof BackupManifest, unknown>> = {}): Record<string, unknown> {
  const keys = backupKeys('prod-db', 'app', AT);
  return {
    schemaVersion: 1,
    format: 'pg_dump-custom',
    source: 'prod-db',
    database: 'app',
    serverVersion: '15.18',
    pgDumpVersion: '15.18',
    startedAt: '2024-01-31T02:03:04.056Z',
    finishedAt: '2024-01-31T02:05:00.000Z',
    bytes: 1234,
    sha256: 'a'.repeat(64),
    s3: { bucket: 'backups', key: keys.dumpKey, versionId: 'v1' },
    tables: [{ schema: 'MixedCase', name: 'Order Items', rows: 3 }],
    tiers: ['daily', 'weekly'],
    ...overrides,
  };
}

describe('key layout', () => {
  it('puts dump and manifest under postgres/<source>/<database>/<YYYY>/<MM>/<DD>/ with one timestamp', () => {
    expect(backupKeys('prod-db', 'app', AT)).toEqual({
      dumpKey: 'postgres/prod-db/app/2024/01/31/20240131T020304.056Z.dump',
      manifestKey: 'postgres/prod-db/app/2024/01/31/20240131T020304.056Z.manifest.json',
    });
  });

  it('uses UTC for the date folders', () => {
    const lateEvening = new Date('2024-12-31T23:59:59.999-05:00');
    expect(backupKeys('s', 'd', lateEvening).dumpKey).toBe('postgres/s/d/2025/01/01/20250101T045959.999Z.dump');
  });

  it('sorts keys in time order', () => {
    const a = formatKeyTimestamp(new Date('2024-01-31T09:59:59.999Z'));
    const b = formatKeyTimestamp(new Date('2024-01-31T10:00:00.000Z'));
    expect([b, a].sort()).toEqual([a, b]);
  });

  it('round-trips the timestamp and rejects impossible ones', () => {
    expect(parseKeyTimestamp(formatKeyTimestamp(AT))?.getTime()).toBe(AT.getTime());
    expect(parseKeyTimestamp('20240231T000000.000Z')).toBeUndefined();
    expect(parseKeyTimestamp('2024-01-31T00:00:00Z')).toBeUndefined();
  });

  it('refuses a source or database that would break the layout', () => {
    expect(() => backupKeys('a/b', 'app', AT)).toThrow(/source must be/);
    expect(() => backupKeys('s', 'my db', AT)).toThrow(/database must be/);
    expect(() => backupKeys('s', '', AT)).toThrow(/database must be/);
    expect(isDatabaseName('x'.repeat(63))).toBe(true);
    expect(isDatabaseName('x'.repeat(64))).toBe(false);
    expect(isDatabaseName('a=b')).toBe(false);
    expect(isDatabaseName('..')).toBe(false);
    expect(isDatabaseName('Billing-2024_v$1')).toBe(true);
  });

  it('parses its own keys back and nothing else', () => {
    const { dumpKey, manifestKey } = backupKeys('prod-db', 'app', AT);
    expect(parseBackupKey(dumpKey)).toEqual({ source: 'prod-db', database: 'app', timestamp: AT, kind: 'dump' });
    expect(parseBackupKey(manifestKey)?.kind).toBe('manifest');
    expect(dumpKeyForManifestKey(manifestKey)).toBe(dumpKey);
    expect(parseBackupKey('postgres/prod-db/app/2024/02/01/20240131T020304.056Z.dump')).toBeUndefined();
    expect(parseBackupKey('postgres/prod-db/app/2024/01/31/20240131T020304.056Z.txt')).toBeUndefined();
    expect(parseBackupKey('reports/prod-db/app/2024/01/31/20240131T020304.056Z.dump')).toBeUndefined();
    expect(parseBackupKey('postgres/prod-db/extra/app/2024/01/31/20240131T020304.056Z.dump')).toBeUndefined();
    expect(() => dumpKeyForManifestKey(dumpKey)).toThrow(/manifest key/);
  });
});

describe('validateManifest', () => {
  it('accepts a v1 manifest and keeps it as is', () => {
    const value = manifest();
    const result = validateManifest(value);
    expect(result).toEqual({ ok: true, manifest: value });
  });

  it('accepts a null versionId (unversioned bucket) and ignores unknown fields', () => {
    expect(validateManifest(manifest({ s3: { ...(manifest().s3 as object), versionId: null } })).ok).toBe(true);
    expect(validateManifest({ ...manifest(), addedLater: true }).ok).toBe(true);
  });

  it('names at most five bad table entries and counts the rest, in one error', () => {
    const tables = Array.from({ length: 3000 }, (_, i) => ({ schema: 'tenant', name: `t${i}`, rows: -1 }));
    const result = validateManifest(manifest({ tables }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      'tables[0], tables[1], tables[2], tables[3], tables[4] and 2995 more must be { schema: string, name: string, rows: non-negative integer }',
    ]);
  });

  it('lists every problem', () => {
    const result = validateManifest(
      manifest({
        schemaVersion: 2,
        sha256: 'ABC',
        bytes: -1,
        tables: [{ schema: 'public', name: 't', rows: 1.5 }],
        tiers: ['hourly'],
        finishedAt: '2024-01-31T02:00:00.000Z',
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      'schemaVersion must be 1; got 2',
      'finishedAt must not be before startedAt',
      'bytes must be a non-negative integer',
      'sha256 must be 64 lowercase hex digits',
      'tables[0] must be { schema: string, name: string, rows: non-negative integer }',
      'tiers must be an array of daily, weekly, monthly, yearly',
    ]);
  });

  it('refuses an s3 key outside the layout and non-objects', () => {
    const bad = validateManifest(manifest({ s3: { bucket: 'b', key: 'elsewhere.dump', versionId: 'v' } }));
    expect(bad.ok).toBe(false);
    expect(validateManifest([]).ok).toBe(false);
    expect(validateManifest(null)).toEqual({ ok: false, errors: ['the manifest must be a JSON object'] });
  });

  it('reports invalid JSON as a validation error', () => {
    const result = parseManifestJson('{"schemaVersion":');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatch(/not valid JSON/);
  });

  it('serializes to JSON that validates back to the same manifest', () => {
    const value = manifest() as unknown as BackupManifest;
    const text = serializeManifest(value);
    expect(text.endsWith('\n')).toBe(true);
    expect(parseManifestJson(text)).toEqual({ ok: true, manifest: value });
  });
});
