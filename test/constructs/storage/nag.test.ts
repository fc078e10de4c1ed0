import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks } from 'cdk-nag';
import { BackupBucket, BackupLifecycle } from '../../../lib/storage';
import { ACCOUNT, bucketLogicalId, newApp, replicatedPair } from './fixtures';

function packs(app: App): NagPack[] {
  return [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app)];
}

/** Every unacknowledged finding of the three packs, as "rule at path" lines (readable when a test fails). */
function findings(app: App): string[] {
  app.synth(); // run aspects and lazy values first, as cdk synth does
  return packs(app).flatMap((pack) =>
    pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
  );
}

function acknowledgedRules(app: App): Array<{ path: string; id: string; reason: string }> {
  const out: Array<{ path: string; id: string; reason: string }> = [];
  for (const c of app.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data) {
        for (const [id, value] of Object.entries(entry.data as Record<string, unknown>)) {
          out.push({ path: c.node.path, id, reason: typeof value === 'string' ? value : JSON.stringify(value) });
        }
      }
    }
  }
  return out;
}

describe('cdk-nag (AwsSolutions, HIPAA Security, NIST 800-53 R5) on a primary replicating to a DR replica', () => {
  it('reports no unacknowledged finding with default settings', () => {
    const { app } = replicatedPair();
    expect(findings(app)).toEqual([]);
  });

  it('reports no unacknowledged finding with prefixed lifecycles, Object Lock and a Glacier IR replica', () => {
    const lock = s3.ObjectLockRetention.governance(Duration.days(35));
    const { app } = replicatedPair({
      primaryProps: {
        objectLock: lock,
        lifecycle: [BackupLifecycle.archive({ prefix: 'postgres/' }), BackupLifecycle.keepInStandard({ prefix: 'reports/', expireAfter: Duration.days(730) })],
      },
      replicaProps: { objectLock: lock, lifecycle: [BackupLifecycle.archive({ glacierInstantRetrievalAfter: false })] },
      replication: { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, replicateDeleteMarkers: true },
    });
    expect(findings(app)).toEqual([]);
  });

  it('passes cdk synth with the packs registered through Validations.of(app).addPlugins', () => {
    const { app } = replicatedPair();
    Validations.of(app).addPlugins(...packs(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth for a bucket that does not replicate (the check can fail)', () => {
    const lonelyApp = () => {
      const app = newApp();
      new BackupBucket(new Stack(app, 'Lonely', { env: { account: ACCOUNT, region: 'us-east-1' } }), 'Backups');
      return app;
    };
    expect(findings(lonelyApp())).toEqual([
      'HIPAA.Security-S3BucketReplicationEnabled at Lonely/Backups/Bucket/Resource',
      'NIST.800.53.R5-S3BucketReplicationEnabled at Lonely/Backups/Bucket/Resource',
    ]);
    const app = lonelyApp();
    Validations.of(app).addPlugins(...packs(app));
    expect(() => app.synth()).toThrow(/ERROR The S3 Bucket does not have replication enabled/);
  });

  it('acknowledges only findings intrinsic to the constructs, each with a reason', () => {
    const { app, primaryStack, primary } = replicatedPair();
    const acks = acknowledgedRules(app).filter((a) => !a.id.includes('CloudFormation-Validate'));
    const lines = acks
      .map((a) => `${a.path} ${a.id.replace(/^annotation::/i, '')}`.replace(/drreplica[0-9a-f]{8}-/, 'drreplica<hash>-'))
      .sort();
    const sourceBucketId = bucketLogicalId(primaryStack, primary);
    const logBucketRules = [
      'AwsSolutions-S1',
      'HIPAA.Security-S3BucketLoggingEnabled',
      'NIST.800.53.R5-S3BucketLoggingEnabled',
      'HIPAA.Security-S3BucketReplicationEnabled',
      'NIST.800.53.R5-S3BucketReplicationEnabled',
      'HIPAA.Security-S3DefaultEncryptionKMS',
      'NIST.800.53.R5-S3DefaultEncryptionKMS',
    ];
    expect(lines).toEqual(
      [
        ...['Dr/Replica', 'Primary/Backups'].flatMap((b) => logBucketRules.map((rule) => `${b}/AccessLogs/Bucket/Resource ${rule}`)),
        'Dr/Replica/Bucket/Resource HIPAA.Security-S3BucketReplicationEnabled',
        'Dr/Replica/Bucket/Resource NIST.800.53.R5-S3BucketReplicationEnabled',
        `Primary/Backups/ReplicationPolicy/Resource AwsSolutions-IAM5[Resource::<${sourceBucketId}.Arn>/*]`,
        'Primary/Backups/ReplicationPolicy/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::drreplica<hash>-111111111111-us-west-2/*]',
        'Primary/Backups/ReplicationPolicy/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:us-west-2:111111111111:key/*]',
      ].sort(),
    );
    for (const ack of acks) {
      expect(ack.reason.length).toBeGreaterThan(40);
    }
  });
});
