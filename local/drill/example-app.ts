/**
 * The example app (bin/app.ts `buildExampleApp`: primary + DR stacks wired by PostgresDisasterRecovery), synthesized
 * for the drill, with the logical ids the local runner needs. Asset bundling is skipped (the handlers run in-process
 * and pg_dump/pg_restore come from the host), so synthesis needs neither Docker nor the PgToolsLayer's binaries.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { App, Token } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { buildExampleApp } from '../../bin/app';
import type { FailoverIds, RecoveryTestIds } from '../emulated-handlers';
import { logicalIdOf } from '../logical-id';
import type { CfnTemplate } from '../template-resolver';

/** moto's account: ARNs in the templates then match what moto returns. */
export const DRILL_ACCOUNT = '123456789012';
export const PRIMARY_REGION = 'us-east-1';
export const DR_REGION = 'us-west-2';
/** The example app's RDS instance identifier (bin/app.ts ExampleDatabase). */
const INSTANCE_IDENTIFIER = 'cdk-backup-dr-example';

/** The synthesized example app and what the drill needs to run it. */
export interface SynthesizedExample {
  readonly primary: { readonly stackName: string; readonly template: CfnTemplate };
  readonly dr: { readonly stackName: string; readonly template: CfnTemplate };
  /** The protected instance's identifier (the backup source). */
  readonly instanceIdentifier: string;
  readonly sourceName: string;
  /** The database the app backs up and tests. */
  readonly database: string;
  readonly rpoSeconds: number;
  readonly rtoSeconds: number;
  /** The physical name the primary stack gives the replica bucket (it is referenced across regions by name). */
  readonly replicaBucketName: string;
  /** The alias the primary stack uses for the DR snapshot key. */
  readonly snapshotKeyAlias: string;
  /** The Failover state machine's name: the primary's retention cleanup addresses it by name in the DR region. */
  readonly failoverStateMachineName: string;
  readonly ids: {
    readonly backup: { readonly machine: string; readonly dump: string; readonly verify: string; readonly report: string; readonly snapshot: string; readonly topic: string };
    readonly retention: { readonly machine: string; readonly cleanup: string };
    readonly recovery: RecoveryTestIds & { readonly machine: string; readonly topic: string; readonly subnetGroup: string; readonly scratchSecurityGroup: string };
    readonly failover: FailoverIds & { readonly machine: string; readonly topic: string; readonly subnetGroup: string; readonly securityGroup: string };
    readonly instance: string;
    readonly secret: string;
    readonly secretAttachment: string;
    readonly bucket: string;
    readonly bucketKey: string;
    readonly replicaBucket: string;
    readonly replicaKey: string;
    readonly snapshotKey: string;
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the example app has no ${what}`);
  return value;
}

/** Synthesizes the example app into a temporary cloud assembly under `workDir`. */
export function synthesizeExample(workDir: string): SynthesizedExample {
  // The example app reads its account from CDK_DEFAULT_ACCOUNT; moto's keeps the ARNs consistent.
  process.env.CDK_DEFAULT_ACCOUNT = DRILL_ACCOUNT;
  const app = new App({
    outdir: mkdtempSync(join(workDir, 'cdk.out-')),
    context: { primaryRegion: PRIMARY_REGION, drRegion: DR_REGION, 'aws:cdk:bundling-stacks': [] },
  });
  const { primary, dr } = buildExampleApp(app);
  const assembly = app.synth();
  const pdr = primary.disasterRecovery;
  const backup = pdr.backup;
  const retention = required(backup.retention, 'retention');
  const test = pdr.recoveryTest;
  const failover = pdr.failover;
  const snapshotKey = required(pdr.snapshotKey, 'DR snapshot key');
  const instance = primary.database;
  const secretAttachment = required((instance as { secret?: import('aws-cdk-lib/aws-secretsmanager').ISecret }).secret, 'database secret');
  const drTemplate = assembly.getStackByName(dr.stackName).template as CfnTemplate;
  const replicaId = logicalIdOf(pdr.replica.bucket);
  const replicaBucketName = drTemplate.Resources?.[replicaId]?.Properties?.BucketName;
  if (typeof replicaBucketName !== 'string') throw new Error(`the replica bucket ${replicaId} has no literal BucketName in the DR template`);
  const aliasResource = Object.values(drTemplate.Resources ?? {}).find(
    (resource) => resource.Type === 'AWS::KMS::Alias' && JSON.stringify(resource.Properties?.TargetKeyId ?? '').includes(logicalIdOf(snapshotKey)),
  );
  const snapshotKeyAlias = aliasResource?.Properties?.AliasName;
  if (typeof snapshotKeyAlias !== 'string') throw new Error('the DR snapshot key has no alias in the DR template');
  return {
    primary: { stackName: primary.stackName, template: assembly.getStackByName(primary.stackName).template as CfnTemplate },
    dr: { stackName: dr.stackName, template: drTemplate },
    instanceIdentifier: INSTANCE_IDENTIFIER,
    // The source name is the instance's identifier, a reference in the template: the drill binds it to this name.
    sourceName: Token.isUnresolved(backup.sourceName) ? INSTANCE_IDENTIFIER : backup.sourceName,
    database: 'app',
    rpoSeconds: pdr.rpo.toSeconds(),
    rtoSeconds: pdr.rto.toSeconds(),
    replicaBucketName,
    snapshotKeyAlias,
    failoverStateMachineName: pdr.failoverStateMachineName,
    ids: {
      backup: {
        machine: logicalIdOf(backup.stateMachine),
        dump: logicalIdOf(required(backup.dumpFunction, 'dump function')),
        verify: logicalIdOf(required(backup.verifyFunction, 'verify function')),
        report: logicalIdOf(backup.reportFunction),
        snapshot: logicalIdOf(required(backup.snapshotFunction, 'snapshot function')),
        topic: logicalIdOf(backup.notificationTopic as sns.Topic),
      },
      retention: { machine: logicalIdOf(retention.stateMachine), cleanup: logicalIdOf(retention.cleanupFunction) },
      recovery: {
        machine: logicalIdOf(test.stateMachine),
        pick: logicalIdOf(test.pickFunction),
        scratch: logicalIdOf(test.scratchFunction),
        restore: logicalIdOf(required(test.restoreFunction, 'recovery-test restore function')),
        verify: logicalIdOf(test.verifyFunction),
        report: logicalIdOf(test.reportFunction),
        topic: logicalIdOf(test.notificationTopic as sns.Topic),
        subnetGroup: logicalIdOf(test.scratchSubnetGroup),
        scratchSecurityGroup: logicalIdOf(test.scratchSecurityGroup),
      },
      failover: {
        machine: logicalIdOf(failover.stateMachine),
        preflight: logicalIdOf(failover.preflightFunction),
        act: logicalIdOf(failover.actFunction),
        restore: logicalIdOf(required(failover.restoreFunction, 'failover restore function')),
        dumpVerify: logicalIdOf(required(failover.dumpVerifyFunction, 'failover dump verify function')),
        verify: logicalIdOf(required(failover.verifyFunction, 'failover verify function')),
        repoint: logicalIdOf(required(failover.repointFunction, 'failover repoint function')),
        report: logicalIdOf(failover.reportFunction),
        topic: logicalIdOf(failover.notificationTopic as sns.Topic),
        subnetGroup: logicalIdOf(required(failover.databaseSubnetGroup, 'failover subnet group')),
        securityGroup: logicalIdOf(failover.databaseSecurityGroup),
      },
      instance: logicalIdOf(instance),
      secret: logicalIdOf(instance.node.findChild('Secret')),
      secretAttachment: logicalIdOf(secretAttachment),
      bucket: logicalIdOf(pdr.bucket.bucket),
      bucketKey: logicalIdOf(pdr.bucket.encryptionKey),
      replicaBucket: replicaId,
      replicaKey: logicalIdOf(pdr.replica.encryptionKey),
      snapshotKey: logicalIdOf(snapshotKey),
    },
  };
}
