import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BackupBucket, BackupLifecycle, StorageConfigurationError } from '../../../lib/storage';
import { ACCOUNT, newApp } from './fixtures';

function stacks(primaryEnv: { account?: string; region?: string }, drEnv: { account?: string; region?: string }): { app: App; primaryStack: Stack; drStack: Stack } {
  const app = newApp();
  return { app, primaryStack: new Stack(app, 'Primary', { env: primaryEnv }), drStack: new Stack(app, 'Dr', { env: drEnv }) };
}

const east = { account: ACCOUNT, region: 'us-east-1' };
const west = { account: ACCOUNT, region: 'us-west-2' };

describe('BackupBucket validation at construction', () => {
  it('refuses a replica in the same region as the source', () => {
    const { primaryStack, drStack } = stacks(east, east);
    const replica = new BackupBucket(drStack, 'Replica');
    const primary = new BackupBucket(primaryStack, 'Backups');
    expect(() => primary.replicateTo(replica)).toThrow(
      'Primary/Backups: the replica Dr/Replica is in the same region (us-east-1) as the source, so it would not survive a ' +
        'regional outage. Create the replica in a stack whose env.region is the DR region.',
    );
  });

  it('refuses a replica whose stack has no explicit region', () => {
    const { primaryStack, drStack } = stacks(east, {});
    const replica = new BackupBucket(drStack, 'Replica');
    expect(() => new BackupBucket(primaryStack, 'Backups').replicateTo(replica)).toThrow(/give its stack env: \{ region: '<dr-region>' \}/);
  });

  it('accepts a source stack without an explicit region (the same-region check is skipped)', () => {
    const { primaryStack, drStack } = stacks({}, { region: 'us-west-2' });
    const replica = new BackupBucket(drStack, 'Replica');
    expect(() => new BackupBucket(primaryStack, 'Backups').replicateTo(replica)).not.toThrow();
  });

  it('refuses a replica in another account', () => {
    const { primaryStack, drStack } = stacks(east, { account: '222222222222', region: 'us-west-2' });
    const replica = new BackupBucket(drStack, 'Replica');
    expect(() => new BackupBucket(primaryStack, 'Backups').replicateTo(replica)).toThrow(/cross-account replication is not supported/);
  });

  it('refuses lifecycle transitions that are not in increasing order', () => {
    const { primaryStack } = stacks(east, west);
    expect(
      () =>
        new BackupBucket(primaryStack, 'Backups', {
          lifecycle: [BackupLifecycle.archive({ glacierAfter: Duration.days(200), deepArchiveAfter: Duration.days(150) })],
        }),
    ).toThrow(/deepArchiveAfter \(150 days\) must be later than glacierAfter \(200 days\); lifecycle steps must be in increasing order/);
  });

  it('refuses an expiry earlier than the Deep Archive minimum storage duration (180 days), naming the early-deletion fee', () => {
    const { primaryStack } = stacks(east, west);
    expect(() => new BackupBucket(primaryStack, 'Backups', { lifecycle: [BackupLifecycle.archive({ expireAfter: Duration.days(500) })] })).toThrow(
      /enter S3 Glacier Deep Archive at day 365 .* minimum storage duration of 180 days, so each object would pay an early-deletion fee for the remaining 45 days\. Set expireAfter to at least 545 days/,
    );
  });

  it('refuses leaving Glacier Flexible Retrieval before its 90-day minimum', () => {
    const { primaryStack } = stacks(east, west);
    expect(
      () =>
        new BackupBucket(primaryStack, 'Backups', {
          lifecycle: [BackupLifecycle.archive({ glacierInstantRetrievalAfter: false, glacierAfter: Duration.days(30), deepArchiveAfter: false, expireAfter: Duration.days(60) })],
        }),
    ).toThrow(/S3 Glacier Flexible Retrieval bills a minimum storage duration of 90 days.*Set expireAfter to at least 120 days/);
  });

  it('refuses leaving Glacier Instant Retrieval before its 90-day minimum', () => {
    const { primaryStack } = stacks(east, west);
    expect(() => new BackupBucket(primaryStack, 'Backups', { lifecycle: [BackupLifecycle.archive({ glacierAfter: Duration.days(90) })] })).toThrow(
      /S3 Glacier Instant Retrieval bills a minimum storage duration of 90 days.*Set glacierAfter to at least 120 days/,
    );
  });

  it('refuses an Object Lock retention longer than the lifecycle expiry', () => {
    const { primaryStack } = stacks(east, west);
    expect(
      () =>
        new BackupBucket(primaryStack, 'Backups', {
          objectLock: s3.ObjectLockRetention.compliance(Duration.days(3000)),
        }),
    ).toThrow(
      'Primary/Backups: BackupLifecycle (whole bucket): Object Lock (COMPLIANCE) retains every object version for 3000 days, ' +
        'but the lifecycle expires objects after 2555 days. Set expireAfter to at least 3000 days, or shorten the Object Lock retention to 2555 days or less.',
    );
  });

  it('refuses replication from a bucket without versioning', () => {
    const { primaryStack, drStack } = stacks(east, west);
    const replica = new BackupBucket(drStack, 'Replica');
    const primary = new BackupBucket(primaryStack, 'Backups', { versioned: false });
    expect(() => primary.replicateTo(replica)).toThrow(
      'Primary/Backups: replication needs versioning on the source: remove versioned: false from this BackupBucket.',
    );
  });

  it('refuses replication into a replica without versioning', () => {
    const { primaryStack, drStack } = stacks(east, west);
    const replica = new BackupBucket(drStack, 'Replica', { versioned: false });
    expect(() => new BackupBucket(primaryStack, 'Backups').replicateTo(replica)).toThrow(
      'replication needs versioning on the replica: remove versioned: false from Dr/Replica.',
    );
  });

  it('refuses Object Lock without versioning', () => {
    const { primaryStack } = stacks(east, west);
    expect(() => new BackupBucket(primaryStack, 'Backups', { versioned: false, objectLock: s3.ObjectLockRetention.governance(Duration.days(7)) })).toThrow(
      'Primary/Backups: Object Lock needs versioning: remove versioned: false, or remove objectLock.',
    );
  });

  it('refuses replicating a locked bucket into an unlocked replica', () => {
    const { primaryStack, drStack } = stacks(east, west);
    const replica = new BackupBucket(drStack, 'Replica');
    const primary = new BackupBucket(primaryStack, 'Backups', { objectLock: s3.ObjectLockRetention.governance(Duration.days(7)) });
    expect(() => primary.replicateTo(replica)).toThrow(/its replica must too .* set objectLock on Dr\/Replica/);
  });

  it('refuses lifecycle rules whose prefixes overlap', () => {
    const { primaryStack } = stacks(east, west);
    expect(
      () => new BackupBucket(primaryStack, 'Backups', { lifecycle: [BackupLifecycle.archive(), BackupLifecycle.keepInStandard({ prefix: 'reports/' })] }),
    ).toThrow(/prefixes '' \(the whole bucket\) and 'reports\/' overlap/);
  });

  it('refuses a second replica', () => {
    const { primaryStack, drStack } = stacks(east, west);
    const primary = new BackupBucket(primaryStack, 'Backups');
    primary.replicateTo(new BackupBucket(drStack, 'Replica'));
    expect(() => primary.replicateTo(new BackupBucket(drStack, 'Replica2'))).toThrow(/already replicates to Dr\/Replica; .* Remove the second replicateTo call/);
  });

  it('refuses replicating to itself', () => {
    const { primaryStack } = stacks(east, west);
    const primary = new BackupBucket(primaryStack, 'Backups');
    expect(() => primary.replicateTo(primary)).toThrow(/cannot replicate to itself/);
  });

  it('refuses a replica whose bucketName is only known at deploy time', () => {
    const { primaryStack, drStack } = stacks(east, west);
    const replica = new BackupBucket(drStack, 'Replica', { bucketName: Token.asString({ Ref: 'ReplicaName' }) });
    expect(() => new BackupBucket(primaryStack, 'Backups').replicateTo(replica)).toThrow(/needs a literal name/);
  });

  it('throws StorageConfigurationError carrying the construct path', () => {
    const { primaryStack } = stacks(east, west);
    let error: unknown;
    try {
      new BackupBucket(primaryStack, 'Backups', { versioned: false, objectLock: s3.ObjectLockRetention.governance(Duration.days(7)) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageConfigurationError);
    expect((error as StorageConfigurationError).constructPath).toBe('Primary/Backups');
  });

  it('skips the checks it cannot do on unresolved tokens (an expiry token against a long Object Lock)', () => {
    const { primaryStack } = stacks(east, west);
    const days = Token.asNumber({ Ref: 'RetentionDays' });
    expect(
      () =>
        new BackupBucket(primaryStack, 'Backups', {
          lifecycle: [BackupLifecycle.archive({ expireAfter: Duration.days(days) })],
          objectLock: s3.ObjectLockRetention.governance(Duration.days(9999)),
        }),
    ).not.toThrow();
  });
});
