import { Duration, Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BackupLifecycle, StorageConfigurationError } from '../../../lib/storage';

const days = (d: Duration | undefined) => d?.toDays();

describe('BackupLifecycle.archive', () => {
  it('defaults to Glacier IR at 30 days, Glacier at 120, Deep Archive at 365, expiry at 7 years, noncurrent 30 days', () => {
    const lifecycle = BackupLifecycle.archive();
    expect(lifecycle.prefix).toBe('');
    expect(lifecycle.transitions.map((t) => [t.storageClass.value, days(t.after)])).toEqual([
      ['GLACIER_IR', 30],
      ['GLACIER', 120],
      ['DEEP_ARCHIVE', 365],
    ]);
    expect(days(lifecycle.expireAfter)).toBe(2555);
    expect(days(lifecycle.noncurrentVersionsExpireAfter)).toBe(30);
    expect(lifecycle.expireDay).toBe(2555);
  });

  it('skips a step set to false and keeps the other defaults', () => {
    const lifecycle = BackupLifecycle.archive({ glacierInstantRetrievalAfter: false, expireAfter: false });
    expect(lifecycle.transitions.map((t) => t.storageClass.value)).toEqual(['GLACIER', 'DEEP_ARCHIVE']);
    expect(lifecycle.expireAfter).toBeUndefined();
    expect(lifecycle.expireDay).toBeUndefined();
  });

  it('takes custom durations and a prefix', () => {
    const lifecycle = BackupLifecycle.archive({
      prefix: 'postgres/',
      glacierInstantRetrievalAfter: false,
      glacierAfter: Duration.days(7),
      deepArchiveAfter: Duration.days(97),
      expireAfter: Duration.days(277),
      noncurrentVersionsExpireAfter: Duration.days(3),
    });
    expect(lifecycle.toLifecycleRule('r')).toEqual({
      id: 'r',
      enabled: true,
      prefix: 'postgres/',
      transitions: [
        { storageClass: s3.StorageClass.GLACIER, transitionAfter: Duration.days(7) },
        { storageClass: s3.StorageClass.DEEP_ARCHIVE, transitionAfter: Duration.days(97) },
      ],
      expiration: Duration.days(277),
      noncurrentVersionExpiration: Duration.days(3),
    });
  });

  it('refuses steps out of order', () => {
    expect(() => BackupLifecycle.archive({ glacierInstantRetrievalAfter: Duration.days(200) })).toThrow(
      /glacierAfter \(120 days\) must be later than glacierInstantRetrievalAfter \(200 days\)/,
    );
  });

  it('refuses an expiry before the Deep Archive minimum storage duration, naming the early-deletion fee', () => {
    expect(() => BackupLifecycle.archive({ expireAfter: Duration.days(400) })).toThrow(StorageConfigurationError);
    expect(() => BackupLifecycle.archive({ expireAfter: Duration.days(400) })).toThrow(
      /S3 Glacier Deep Archive bills a minimum storage duration of 180 days.*early-deletion fee.*Set expireAfter to at least 545 days/,
    );
  });

  it('accepts durations in other units when they are whole days', () => {
    expect(days(BackupLifecycle.archive({ expireAfter: Duration.hours(24 * 3000) }).expireAfter)).toBe(3000);
  });

  it('refuses a fraction of a day', () => {
    expect(() => BackupLifecycle.archive({ glacierAfter: Duration.hours(36) })).toThrow(
      "BackupLifecycle (whole bucket): glacierAfter is 1 day 12 hours, but S3 lifecycle rules count whole days. Use Duration.days(2).",
    );
  });

  it('refuses zero days', () => {
    expect(() => BackupLifecycle.keepInStandard({ expireAfter: Duration.days(0) })).toThrow(/expireAfter must be at least 1 day/);
  });

  it('skips the checks when a duration is a token', () => {
    const lifecycle = BackupLifecycle.archive({ expireAfter: Duration.days(Token.asNumber({ Ref: 'RetentionDays' })) });
    expect(lifecycle.expireDay).toBeUndefined();
    expect(lifecycle.transitions).toHaveLength(3);
  });
});

describe('BackupLifecycle.keepInStandard', () => {
  it('has no transitions, no expiry and keeps noncurrent versions 30 days by default', () => {
    const lifecycle = BackupLifecycle.keepInStandard();
    expect(lifecycle.transitions).toEqual([]);
    expect(lifecycle.expireAfter).toBeUndefined();
    expect(days(lifecycle.noncurrentVersionsExpireAfter)).toBe(30);
  });

  it('can expire objects under a prefix and keep noncurrent versions forever', () => {
    const lifecycle = BackupLifecycle.keepInStandard({ prefix: 'reports/', expireAfter: Duration.days(730), noncurrentVersionsExpireAfter: false });
    expect(lifecycle.description).toBe("BackupLifecycle (prefix 'reports/')");
    expect(lifecycle.toLifecycleRule('reports')).toEqual({
      id: 'reports',
      enabled: true,
      prefix: 'reports/',
      transitions: [],
      expiration: Duration.days(730),
      noncurrentVersionExpiration: undefined,
    });
  });
});
