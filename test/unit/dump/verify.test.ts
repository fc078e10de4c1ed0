import { abortAfterMs } from '../../../lambda/backup/dump.handler';
import { backupKeys, type BackupManifest } from '../../../lambda/backup/manifest';
import {
  compareWithManifest,
  describeResult,
  manifestProblems,
  verdictOf,
  type VerifyResult,
} from '../../../lambda/backup/verify-core';
import { validateVerifyInput } from '../../../lambda/backup/verify.handler';

const KEYS = backupKeys('prod-db', 'app', new Date('2024-01-31T02:00:00.000Z'));
const MANIFEST: BackupManifest = {
  schemaVersion: 1,
  format: 'pg_dump-custom',
  source: 'prod-db',
  database: 'app',
  serverVersion: '15.18',
  pgDumpVersion: '15.18',
  startedAt: '2024-01-31T02:00:00.000Z',
  finishedAt: '2024-01-31T02:01:00.000Z',
  bytes: 10,
  sha256: 'a'.repeat(64),
  s3: { bucket: 'backups', key: KEYS.dumpKey, versionId: 'v1' },
  tables: [],
  tiers: ['daily'],
};

describe('compareWithManifest', () => {
  it('passes only when bytes, sha256 and version all match', () => {
    expect(compareWithManifest(MANIFEST, { bytes: 10, sha256: 'a'.repeat(64), versionId: 'v1' }, true)).toEqual({
      bytes: { expected: 10, actual: 10, ok: true },
      sha256: { expected: 'a'.repeat(64), actual: 'a'.repeat(64), ok: true },
      versionId: { expected: 'v1', actual: 'v1', ok: true },
    });
    const checks = compareWithManifest(MANIFEST, { bytes: 10, sha256: 'b'.repeat(64), versionId: 'v2' }, true);
    expect(checks.sha256?.ok).toBe(false);
    expect(checks.versionId?.ok).toBe(false);
    expect(compareWithManifest(MANIFEST, { bytes: 10, sha256: 'a'.repeat(64), versionId: 'other' }, false).versionId).toBeUndefined();
  });
});

describe('manifestProblems', () => {
  it('accepts a manifest read from its own key and flags one that names another dump, bucket or database', () => {
    expect(manifestProblems(MANIFEST, 'backups', KEYS.manifestKey)).toEqual([]);
    const other = backupKeys('prod-db', 'app', new Date('2024-02-01T00:00:00.000Z'));
    expect(manifestProblems(MANIFEST, 'backups', other.manifestKey)).toEqual([`the manifest names the dump ${KEYS.dumpKey}, not ${other.dumpKey}`]);
    expect(manifestProblems(MANIFEST, 'elsewhere', KEYS.manifestKey)).toEqual(['the manifest names bucket backups, not elsewhere']);
    expect(manifestProblems({ ...MANIFEST, database: 'billing' }, 'backups', KEYS.manifestKey)).toEqual([
      'the manifest is for database billing, the key for app',
    ]);
    expect(manifestProblems(MANIFEST, 'backups', 'x.manifest.json')[0]).toMatch(/not a manifest key/);
  });
});

describe('verdictOf / describeResult', () => {
  const verified: VerifyResult = { manifestKey: KEYS.manifestKey, status: 'verified', checks: {} };
  const replica = { bucket: 'replica', region: 'us-west-2', checks: {} };

  it('is ok only when the primary and the replica (if checked) are verified', () => {
    expect(verdictOf(verified)).toBe('ok');
    expect(verdictOf({ ...verified, replica: { ...replica, status: 'verified' } })).toBe('ok');
    expect(verdictOf({ ...verified, replica: { ...replica, status: 'pending' } })).toBe('not-ready');
    expect(verdictOf({ ...verified, replica: { ...replica, status: 'corrupt' } })).toBe('failed');
    expect(verdictOf({ ...verified, replica: { ...replica, status: 'failed' } })).toBe('failed');
    for (const status of ['corrupt', 'archived', 'missing-object', 'missing-manifest', 'invalid-manifest'] as const) {
      expect(verdictOf({ ...verified, status })).toBe('failed');
    }
  });

  it('names the key, the status and the failing checks', () => {
    const checks = compareWithManifest(MANIFEST, { bytes: 11, sha256: 'a'.repeat(64), versionId: 'v1' }, true);
    expect(describeResult({ manifestKey: 'k', status: 'corrupt', checks })).toBe('k: corrupt (bytes expected 10 got 11)');
    expect(describeResult({ ...verified, manifestKey: 'k', replica: { ...replica, status: 'pending', detail: 'no replica object yet' } })).toBe(
      'k: verified ; replica in us-west-2/replica: pending - no replica object yet',
    );
  });
});

describe('validateVerifyInput', () => {
  it('takes one key or a list', () => {
    expect(validateVerifyInput({ manifestKey: KEYS.manifestKey })).toEqual({ keys: [KEYS.manifestKey], many: false });
    expect(validateVerifyInput({ manifestKeys: [KEYS.manifestKey] })).toEqual({ keys: [KEYS.manifestKey], many: true });
  });

  it.each([
    [{}, /manifestKey must be a non-empty string/],
    [{ manifestKey: KEYS.dumpKey }, /manifestKey must be a manifest key ending in \.manifest\.json/],
    [{ manifestKeys: [] }, /manifestKeys must be a non-empty array/],
    [{ manifestKeys: [KEYS.manifestKey, 3] }, /manifestKeys\[1\] must be a non-empty string/],
    [{ manifestKey: KEYS.manifestKey, manifestKeys: [KEYS.manifestKey] }, /not both/],
  ])('refuses %j', (input, message) => {
    expect(() => validateVerifyInput(input)).toThrow(message);
  });
});

describe('abortAfterMs', () => {
  it('leaves a margin of 10% of the time left, at least 10 s and at most 60 s', () => {
    expect(abortAfterMs(15 * 60_000)).toBe(15 * 60_000 - 60_000);
    expect(abortAfterMs(200_000)).toBe(180_000);
    expect(abortAfterMs(30_000)).toBe(20_000);
    expect(abortAfterMs(5_000)).toBe(0);
  });
});
