import {
  backupKeys,
  dumpKeyForManifestKey,
  formatKeyTimestamp,
  globalsKeyForManifestKey,
  manifestKeyForObjectKey,
  parseBackupKey,
  parseKeyTimestamp,
  parseManifestJson,
  serializeManifest,
  validateManifest,
  type BackupManifest,
} from '../../../lambda/backup/manifest';
import { isDatabaseName } from '../../../lambda/common/names';

const AT = new Date(Date.UTC(2024, 0, 31, 2, 3, 4, 56));

const GLOBALS = {
  key: 'postgres/prod-db/app/2024/01/31/20240131T020304.056Z.globals.sql',
  bytes: 812,
  sha256: 'b'.repeat(64),
  versionId: 'g1',
};

function manifestV2(overrides: Partial<Record<keyof BackupManifest, unknown>> = {}): Record<string, unknown> {
  return manifest({ schemaVersion: 2, globals: GLOBALS, ...overrides });
}

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
      globalsKey: 'postgres/prod-db/app/2024/01/31/20240131T020304.056Z.globals.sql',
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

  it('puts the globals beside the dump and maps both back to their manifest', () => {
    const { dumpKey, globalsKey, manifestKey } = backupKeys('prod-db', 'app', AT);
    expect(parseBackupKey(globalsKey)).toEqual({ source: 'prod-db', database: 'app', timestamp: AT, kind: 'globals' });
    expect(globalsKeyForManifestKey(manifestKey)).toBe(globalsKey);
    expect(manifestKeyForObjectKey(globalsKey)).toBe(manifestKey);
    expect(manifestKeyForObjectKey(dumpKey)).toBe(manifestKey);
    expect(manifestKeyForObjectKey(manifestKey)).toBeUndefined();
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
        schemaVersion: 4,
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
      'schemaVersion must be 1, 2 or 3; got 4',
      'finishedAt must not be before startedAt',
      'bytes must be a non-negative integer',
      'sha256 must be 64 lowercase hex digits',
      'tables[0] must be { schema: string, name: string, rows: non-negative integer }',
      'tiers must be an array of daily, weekly, monthly, yearly',
    ]);
  });

  it('accepts a v2 manifest with its globals, and still reads v1 without them', () => {
    expect(validateManifest(manifestV2())).toEqual({ ok: true, manifest: manifestV2() });
    expect(validateManifest(manifestV2({ globals: { ...GLOBALS, versionId: null } })).ok).toBe(true);
    expect(validateManifest(manifest()).ok).toBe(true);
  });

  it('reads the compression when recorded, refuses one that is not a compression, and serializes it', () => {
    expect(validateManifest(manifestV2({ compression: 'gzip:3' })).ok).toBe(true);
    expect(validateManifest(manifestV2({ compression: 'none' })).ok).toBe(true);
    expect(validateManifest(manifestV2({ compression: 'gzip:12' }))).toEqual({
      ok: false,
      errors: ['compression must be "none" or <method>:<level> (e.g. "gzip:3"); got "gzip:12"'],
    });
    const text = serializeManifest(manifestV2({ compression: 'zstd:5' }) as unknown as BackupManifest);
    expect(JSON.parse(text).compression).toBe('zstd:5');
    expect(JSON.parse(serializeManifest(manifestV2() as unknown as BackupManifest))).not.toHaveProperty('compression');
  });

  it('requires the globals in v2, beside the dump, and refuses them in v1', () => {
    const errorsOf = (value: unknown): readonly string[] => {
      const result = validateManifest(value);
      return result.ok ? [] : result.errors;
    };
    expect(errorsOf(manifestV2({ globals: undefined }))).toEqual(['globals must be an object { key, bytes, sha256, versionId } in a v2 manifest']);
    expect(errorsOf(manifestV2({ globals: { ...GLOBALS, key: 'postgres/prod-db/app/2024/01/31/20240131T020305.000Z.globals.sql' } }))).toEqual([
      'globals.key must be the key beside the dump, ending in .globals.sql',
    ]);
    expect(errorsOf(manifestV2({ globals: { ...GLOBALS, bytes: -1, sha256: 'x', versionId: '' } }))).toEqual([
      'globals.bytes must be a non-negative integer',
      'globals.sha256 must be 64 lowercase hex digits',
      'globals.versionId must be a non-empty string or null',
    ]);
    expect(errorsOf(manifest({ globals: GLOBALS }))).toEqual(['globals is not part of a v1 manifest; write schemaVersion 2']);
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

  it.each([
    ['v1', manifest()],
    ['v2', manifestV2()],
  ])('serializes a %s manifest to JSON that validates back to the same manifest', (_version, value) => {
    const text = serializeManifest(value as unknown as BackupManifest);
    expect(text.endsWith('\n')).toBe(true);
    expect(parseManifestJson(text)).toEqual({ ok: true, manifest: value });
  });
});
