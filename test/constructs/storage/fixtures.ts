import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BackupBucket, BackupBucketProps, ReplicationOptions } from '../../../lib/storage';

export const ACCOUNT = '111111111111';

/** A fresh app that turns CloudFormation template-validation findings (e.g. dependency cycles) into synth errors. */
export function newApp(): App {
  return new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
}

/** One stack in us-east-1 with a concrete account. */
export function singleStack(app: App = newApp()): Stack {
  return new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
}

export interface ReplicatedPair {
  readonly app: App;
  readonly primaryStack: Stack;
  readonly drStack: Stack;
  readonly primary: BackupBucket;
  readonly replica: BackupBucket;
}

/** A primary BackupBucket in us-east-1 replicating to a replica in us-west-2. */
export function replicatedPair(options: {
  readonly primaryProps?: BackupBucketProps;
  readonly replicaProps?: BackupBucketProps;
  readonly replication?: ReplicationOptions;
  readonly account?: string | null;
} = {}): ReplicatedPair {
  const app = newApp();
  const account = options.account === null ? undefined : (options.account ?? ACCOUNT);
  const drStack = new Stack(app, 'Dr', { env: { account, region: 'us-west-2' } });
  const primaryStack = new Stack(app, 'Primary', { env: { account, region: 'us-east-1' } });
  const replica = new BackupBucket(drStack, 'Replica', options.replicaProps);
  const primary = new BackupBucket(primaryStack, 'Backups', options.primaryProps);
  primary.replicateTo(replica, options.replication);
  return { app, primaryStack, drStack, primary, replica };
}

/** The single resource of a type whose logical id starts with `prefix`. */
export function resourceOf(template: Template, type: string, prefix: string): { logicalId: string; properties: Record<string, unknown> } {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) {
    throw new Error(`expected one ${type} with logical id starting ${prefix}, found ${found.map(([id]) => id).join(', ') || 'none'}`);
  }
  const [logicalId, resource] = found[0];
  return { logicalId, properties: (resource as { Properties: Record<string, unknown> }).Properties };
}

/** Logical id of the backup bucket (not its access-log bucket) of a BackupBucket. */
export function bucketLogicalId(stack: Stack, bucket: BackupBucket): string {
  return stack.resolve(stack.getLogicalId(bucket.bucket.node.defaultChild as s3.CfnBucket)) as string;
}
