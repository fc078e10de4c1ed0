import { Duration, TimeZone } from 'aws-cdk-lib';
import { ConfigurationError } from '../../../lib/common/errors';
import { RetentionPolicy } from '../../../lib/retention/retention-policy';

const DEFAULT_ARCHIVE = [
  { day: 30, storageClass: 'GLACIER_IR', option: 'glacierInstantRetrievalAfter' },
  { day: 120, storageClass: 'GLACIER', option: 'glacierAfter' },
  { day: 365, storageClass: 'DEEP_ARCHIVE', option: 'deepArchiveAfter' },
];

describe('RetentionPolicy', () => {
  it('turns the factories into the rules the handler receives', () => {
    expect(RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12, yearly: 3 }, { timeZone: TimeZone.EUROPE_BERLIN }).rules).toEqual({
      daily: 7,
      weekly: 4,
      monthly: 12,
      yearly: 3,
      minimumKeep: 1,
      timeZone: 'Europe/Berlin',
    });
    expect(RetentionPolicy.keepWithin(Duration.days(35), { minimumKeep: 3 }).rules).toEqual({ withinSeconds: 35 * 86_400, minimumKeep: 3, timeZone: 'Etc/UTC' });
    expect(RetentionPolicy.keepLast(10).describe()).toBe('keepLast 10, minimumKeep 1, time zone Etc/UTC');
  });

  it('refuses a policy that keeps nothing, and bad counts, with what to change', () => {
    expect(() => RetentionPolicy.gfs({})).toThrow(ConfigurationError);
    expect(() => RetentionPolicy.gfs({ daily: 0 }, { minimumKeep: 5 })).toThrow(
      /RetentionPolicy.gfs: the policy keeps nothing: set at least one of keepLast, daily, weekly, monthly, yearly or keepWithin above 0/,
    );
    expect(() => RetentionPolicy.keepLast(-1)).toThrow(/keepLast must be a whole number from 0 to 10000; got -1/);
    expect(() => RetentionPolicy.gfs({ weekly: 2.5 })).toThrow(/weekly must be a whole number/);
  });

  it('passes the default GFS policy with the default archive lifecycle', () => {
    const policy = RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12, yearly: 3 });
    expect(policy.deletionAges(1)).toEqual([7, 28, 360, 1095]);
    expect(policy.problems({ description: 'dumps', backupIntervalDays: 1, transitions: DEFAULT_ARCHIVE, objectLockDays: 35 })).toEqual([]);
  });

  it('refuses keepWithin shorter than the backup interval', () => {
    const policy = RetentionPolicy.keepWithin(Duration.days(3));
    expect(policy.problems({ description: 'dumps', backupIntervalDays: 7 })).toEqual([
      'dumps: keepWithin (3d) is shorter than the backup interval (7 days), so it keeps only the newest backup; set keepWithin to at least Duration.days(7), or use keepLast.',
    ]);
    expect(policy.problems({ description: 'dumps', backupIntervalDays: 1 })).toEqual([]);
  });

  it('names the early-deletion fee when backups are deleted inside an archive class minimum', () => {
    // Monthly 4 lets go at about 120 days, the very day dumps enter Glacier Flexible Retrieval (90 days minimum).
    const problems = RetentionPolicy.gfs({ daily: 7, monthly: 4 }).problems({ description: 'dumps', backupIntervalDays: 1, transitions: DEFAULT_ARCHIVE });
    expect(problems).toEqual([
      expect.stringMatching(
        /^dumps: the retention policy \(daily 7, monthly 4, .*\) deletes backups at about 120 days, but the lifecycle moves dumps to S3 Glacier Flexible Retrieval on day 120 \(glacierAfter\) and bills at least 90 days there: each deletion pays an early-deletion fee for about 90 days\. Keep those backups at least 210 days/,
      ),
    ]);
    // Daily backups kept 45 days are deleted 15 days into Glacier Instant Retrieval.
    expect(RetentionPolicy.keepLast(45).problems({ description: 'dumps', backupIntervalDays: 1, transitions: DEFAULT_ARCHIVE })).toEqual([
      expect.stringContaining('fee for about 75 days'),
    ]);
  });

  it('refuses an Object Lock retention longer than the policy keeps any backup', () => {
    expect(RetentionPolicy.gfs({ daily: 7, weekly: 4 }).problems({ description: 'dumps', backupIntervalDays: 1, objectLockDays: 90 })).toEqual([
      expect.stringContaining('Object Lock retains every dump for 90 days, longer than the retention policy (daily 7, weekly 4, minimumKeep 1, time zone Etc/UTC) keeps any backup (about 28 days)'),
    ]);
  });
});
