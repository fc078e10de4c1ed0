#!/usr/bin/env node
/** The example deployment: primary and DR stacks, configured by context (`-c primaryRegion=… -c drRegion=…`). */
import { App, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { HIPAASecurityChecks, NIST80053R5Checks, AwsSolutionsChecks } from 'cdk-nag';
import { Validations } from 'aws-cdk-lib';
import { BackupBucket, BackupLifecycle } from '../lib';

/** Settings of the example deployment, read from CDK context (`-c primaryRegion=… -c drRegion=…`). */
export interface ExampleAppSettings {
  readonly primaryRegion: string;
  readonly drRegion: string;
  readonly account?: string;
}

/** Reads the example app's settings from context, with the documented defaults. */
export function exampleAppSettings(app: App): ExampleAppSettings {
  const primaryRegion = (app.node.tryGetContext('primaryRegion') as string | undefined) ?? 'us-east-1';
  const drRegion = (app.node.tryGetContext('drRegion') as string | undefined) ?? 'us-west-2';
  if (primaryRegion === drRegion) {
    throw new Error(
      `primaryRegion and drRegion are both '${primaryRegion}': pass a different DR region, e.g. -c drRegion=us-west-2.`,
    );
  }
  return { primaryRegion, drRegion, account: process.env.CDK_DEFAULT_ACCOUNT };
}

/** The DR-region stack: the replica bucket that survives the loss of the primary region. */
export class DisasterRecoveryStack extends Stack {
  public readonly replica: BackupBucket;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.replica = new BackupBucket(this, 'ReplicaBackups', {
      lifecycle: [BackupLifecycle.archive()],
    });
  }
}

/** The primary-region stack: the backup bucket, replicating to the DR stack's replica. */
export class PrimaryStack extends Stack {
  public readonly backups: BackupBucket;

  constructor(scope: Construct, id: string, props: StackProps & { readonly replica: BackupBucket }) {
    super(scope, id, props);
    this.backups = new BackupBucket(this, 'Backups', {
      lifecycle: [BackupLifecycle.archive()],
    });
    this.backups.replicateTo(props.replica);
  }
}

/** Builds the example deployment (primary + DR region stacks) into `app`, with the cdk-nag rule packs applied. */
export function buildExampleApp(app: App): { primary: PrimaryStack; dr: DisasterRecoveryStack } {
  const settings = exampleAppSettings(app);
  const dr = new DisasterRecoveryStack(app, 'CdkBackupDr-Dr', {
    env: { account: settings.account, region: settings.drRegion },
    description: 'cdk-backup-dr example: DR-region replica of the backups',
  });
  const primary = new PrimaryStack(app, 'CdkBackupDr-Primary', {
    env: { account: settings.account, region: settings.primaryRegion },
    description: 'cdk-backup-dr example: primary-region backups',
    replica: dr.replica,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app));
  return { primary, dr };
}

// Synthesizes when run by the CDK CLI; tests import buildExampleApp without synthesizing.
if (require.main === module) {
  const app = new App();
  buildExampleApp(app);
  app.synth();
}
