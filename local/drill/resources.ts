/**
 * What the example app's stacks would have created, created in the AWS emulator for the drill — buckets, keys,
 * topics, the RDS instance and its secret, the networks for scratch and failover databases — and the bindings that
 * tell the local runner which emulator resource stands for which template resource. Also the retention history
 * (older backups) the cleanup plans over.
 */
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { randomBytes } from 'node:crypto';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { backupKeys, DUMP_SUFFIX, MANIFEST_SUFFIX } from '../../lambda/backup/manifest';
import { snapshotIdentifier, snapshotTags } from '../../lambda/rds/snapshot';
import type { LocalPgServer } from '../database-mapping';
import { awsJsonCall, createKmsKey, createScratchNetwork } from '../emulator';
import type { ResourceBinding } from '../template-resolver';
import { DR_REGION, DRILL_ACCOUNT, PRIMARY_REGION, type SynthesizedExample } from './example-app';

/** The emulator resources of one drill and the runner's bindings for both stacks. */
export interface DrillResources {
  readonly bucket: string;
  readonly replicaBucket: string;
  readonly secretArn: string;
  readonly instanceEndpoint: { readonly host: string; readonly port: number };
  /** The operations topic of each region (every workflow of a region tells the same one). */
  readonly topics: { readonly primary: string; readonly dr: string };
  readonly primaryBindings: Readonly<Record<string, ResourceBinding>>;
  readonly drBindings: Readonly<Record<string, ResourceBinding>>;
  /** One sentence per stand-in made here. */
  readonly emulated: readonly string[];
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

async function createBucket(name: string, region: string): Promise<void> {
  const s3 = new S3Client({ region });
  try {
    try {
      await s3.send(
        new CreateBucketCommand({
          Bucket: name,
          CreateBucketConfiguration: region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
        }),
      );
    } catch (error) {
      // The replica's name is fixed by the template: a second drill against the same emulator finds it.
      if (!(error instanceof Error && error.name === 'BucketAlreadyOwnedByYou')) throw error;
    }
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  } finally {
    s3.destroy();
  }
}

async function createStateMachine(name: string, region: string): Promise<string> {
  const sfn = new SFNClient({ region });
  try {
    let created;
    try {
      created = await sfn.send(
        new CreateStateMachineCommand({
          name,
          definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
          roleArn: `arn:aws:iam::${DRILL_ACCOUNT}:role/cdk-backup-dr-drill`,
        }),
      );
    } catch (error) {
      // A fixed name (the Failover's): a second drill against the same emulator finds it.
      if (error instanceof Error && error.name === 'StateMachineAlreadyExists') return `arn:aws:states:${region}:${DRILL_ACCOUNT}:stateMachine:${name}`;
      throw error;
    }
    if (created.stateMachineArn === undefined) throw new Error('CreateStateMachine returned no ARN');
    return created.stateMachineArn;
  } finally {
    sfn.destroy();
  }
}

async function createTopic(name: string, region: string): Promise<string> {
  const sns = new SNSClient({ region });
  try {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    if (TopicArn === undefined) throw new Error(`CreateTopic ${name} returned no TopicArn`);
    return TopicArn;
  } finally {
    sns.destroy();
  }
}

/** The RDS instance of the example app in the emulator (created, or found from an earlier drill). */
async function ensureInstance(identifier: string): Promise<{ host: string; port: number }> {
  const rds = new RDSClient({ region: PRIMARY_REGION });
  try {
    let instance = (await rds.send(new DescribeDBInstancesCommand({})).catch(() => ({ DBInstances: [] }))).DBInstances?.find(
      (candidate) => candidate.DBInstanceIdentifier === identifier,
    );
    instance ??= (
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: identifier,
          Engine: 'postgres',
          EngineVersion: '15.5',
          DBInstanceClass: 'db.t4g.micro',
          AllocatedStorage: 20,
          // Not the server's superuser: a failover rehearsal creates this user on the server with a password of its own.
          MasterUsername: 'app_owner',
          MasterUserPassword: `not-the-server-password-${hex(4)}`,
          StorageEncrypted: true,
        }),
      )
    ).DBInstance;
    const host = instance?.Endpoint?.Address;
    const port = instance?.Endpoint?.Port;
    if (host === undefined || port === undefined) throw new Error(`the emulator returned no endpoint for ${identifier}`);
    return { host, port };
  } finally {
    rds.destroy();
  }
}

/** Creates the emulator resources of the example app and the bindings of both templates. */
export async function createDrillResources(example: SynthesizedExample, server: LocalPgServer, endpoint: string): Promise<DrillResources> {
  const run = hex(4);
  const bucket = `cdk-backup-dr-drill-${run}`;
  await createBucket(bucket, PRIMARY_REGION);
  await createBucket(example.replicaBucketName, DR_REGION);
  const bucketKey = await createKmsKey(endpoint, 'cdk-backup-dr drill: backup bucket', PRIMARY_REGION);
  const replicaKey = await createKmsKey(endpoint, 'cdk-backup-dr drill: replica bucket', DR_REGION);
  const snapshotKey = await createKmsKey(endpoint, 'cdk-backup-dr drill: DR snapshot copies', DR_REGION);
  await awsJsonCall(endpoint, 'kms', 'TrentService.CreateAlias', { AliasName: example.snapshotKeyAlias, TargetKeyId: snapshotKey.keyId }, DR_REGION).catch(
    (error: unknown) => {
      // A second drill against the same emulator: the alias exists (pointing at the earlier key, which works as well).
      if (!String(error).includes('AlreadyExists')) throw error;
    },
  );
  const topics = {
    primary: await createTopic(`cdk-backup-dr-drill-operations-${run}`, PRIMARY_REGION),
    dr: await createTopic(`cdk-backup-dr-drill-operations-${run}`, DR_REGION),
  };
  // The retention cleanup asks Step Functions which backups a running recovery test or failover picked: both state
  // machines must exist there (the drill runs them locally, so they never have a running execution in the emulator).
  // The primary template names the Failover's by its fixed name in the DR region.
  const recoveryMachineArn = await createStateMachine(`cdk-backup-dr-drill-recovery-test-${run}`, PRIMARY_REGION);
  const failoverMachineArn = await createStateMachine(example.failoverStateMachineName, DR_REGION);
  const scratch = await createScratchNetwork(endpoint, `cdk-backup-dr-drill-scratch-${run}`, PRIMARY_REGION);
  const failoverNetwork = await createScratchNetwork(endpoint, `cdk-backup-dr-drill-failover-${run}`, DR_REGION);
  const instanceEndpoint = await ensureInstance(example.instanceIdentifier);
  const secrets = new SecretsManagerClient({ region: PRIMARY_REGION });
  let secretArn: string;
  try {
    // As RDS writes it; the dump reads the credentials from it (host and port come from the state machine's input).
    const created = await secrets.send(
      new CreateSecretCommand({
        Name: `cdk-backup-dr-drill/database-${run}`,
        SecretString: JSON.stringify({
          engine: 'postgres',
          username: server.user,
          password: server.password,
          host: instanceEndpoint.host,
          port: instanceEndpoint.port,
          dbInstanceIdentifier: example.instanceIdentifier,
        }),
      }),
    );
    if (created.ARN === undefined) throw new Error('CreateSecret returned no ARN');
    secretArn = created.ARN;
  } finally {
    secrets.destroy();
  }
  const { ids } = example;
  const key = (k: { keyId: string; arn: string }): ResourceBinding => ({ ref: k.keyId, attributes: { Arn: k.arn } });
  return {
    bucket,
    replicaBucket: example.replicaBucketName,
    secretArn,
    instanceEndpoint,
    topics,
    primaryBindings: {
      [ids.bucket]: bucket,
      [ids.bucketKey]: key(bucketKey),
      [ids.backup.topic]: topics.primary,
      [ids.recovery.topic]: topics.primary,
      [ids.recovery.machine]: { ref: recoveryMachineArn, attributes: { Name: recoveryMachineArn.split(':').pop()! } },
      [ids.recovery.subnetGroup]: scratch.subnetGroupName,
      [ids.recovery.scratchSecurityGroup]: { ref: scratch.securityGroupId, attributes: { GroupId: scratch.securityGroupId } },
      [ids.instance]: {
        ref: example.instanceIdentifier,
        attributes: { 'Endpoint.Address': instanceEndpoint.host, 'Endpoint.Port': String(instanceEndpoint.port) },
      },
      [ids.secret]: secretArn,
      [ids.secretAttachment]: secretArn,
    },
    drBindings: {
      [ids.replicaBucket]: example.replicaBucketName,
      [ids.replicaKey]: key(replicaKey),
      [ids.snapshotKey]: key(snapshotKey),
      [ids.failover.topic]: topics.dr,
      [ids.failover.machine]: { ref: failoverMachineArn, attributes: { Name: example.failoverStateMachineName } },
      [ids.failover.subnetGroup]: failoverNetwork.subnetGroupName,
      [ids.failover.securityGroup]: { ref: failoverNetwork.securityGroupId, attributes: { GroupId: failoverNetwork.securityGroupId } },
    },
    emulated: [
      `the stacks were not deployed: their buckets, KMS keys, SNS topics, RDS instance ${example.instanceIdentifier}, its secret and the scratch and failover networks, and stand-ins of the recovery-test and failover state machines (for the cleanup's in-use check) were created in the emulator and bound to the templates' resources`,
    ],
  };
}

/** Every key under `prefix` (current versions). */
export async function listKeys(bucket: string, region: string, prefix: string): Promise<Map<string, number>> {
  const s3 = new S3Client({ region });
  const keys = new Map<string, number>();
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.set(object.Key, object.Size ?? 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  } finally {
    s3.destroy();
  }
}

/** Multipart uploads still open in a bucket. */
export async function openUploads(bucket: string, region: string): Promise<string[]> {
  const s3 = new S3Client({ region });
  try {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return (page.Uploads ?? []).map((upload) => `${upload.Key}#${upload.UploadId}`);
  } finally {
    s3.destroy();
  }
}

/**
 * S3 replication, which the emulator does not perform: copies `keys` of the primary bucket to the replica bucket
 * (same keys), as the replication rule would within its 15-minute RTC window.
 */
export async function replicate(from: string, to: string, keys: readonly string[]): Promise<void> {
  const s3 = new S3Client({ region: DR_REGION });
  try {
    for (const key of keys) {
      await s3.send(new CopyObjectCommand({ Bucket: to, Key: key, CopySource: `${from}/${encodeURIComponent(key).replace(/%2F/g, '/')}` }));
    }
  } finally {
    s3.destroy();
  }
}

/** The dates of the generated history: daily for 40 days, weekly to 20 weeks, monthly to 14 months (none today). */
export function historyDates(now: Date): Date[] {
  const day = 86_400_000;
  const dates = new Set<number>();
  const at = (daysAgo: number): number => {
    const date = new Date(now.getTime() - daysAgo * day);
    date.setUTCHours(2, 0, 0, 0);
    return date.getTime();
  };
  for (let d = 1; d <= 40; d++) dates.add(at(d));
  for (let w = 6; w <= 20; w++) dates.add(at(w * 7));
  for (let m = 5; m <= 14; m++) dates.add(at(m * 30));
  return [...dates].sort((a, b) => a - b).map((time) => new Date(time));
}

/** What {@link generateHistory} wrote. */
export interface GeneratedHistory {
  readonly dumps: number;
  readonly snapshots: number;
  readonly emulated: string;
}

/**
 * Writes older backups for the retention cleanup to plan over: for each history date a dump and its manifest in both
 * buckets (placeholder bodies: the cleanup decides on keys and never reads them) and a snapshot of the instance in
 * the primary region for the last 30 days.
 */
export async function generateHistory(example: SynthesizedExample, resources: DrillResources, now: Date): Promise<GeneratedHistory> {
  const dates = historyDates(now);
  const rds = new RDSClient({ region: PRIMARY_REGION });
  let snapshots = 0;
  try {
    for (const [bucket, region] of [
      [resources.bucket, PRIMARY_REGION],
      [resources.replicaBucket, DR_REGION],
    ] as const) {
      const s3 = new S3Client({ region });
      try {
        for (const date of dates) {
          const keys = backupKeys(example.sourceName, example.database, date);
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.dumpKey, Body: `generated history: a placeholder for the dump of ${date.toISOString()}` }));
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: keys.manifestKey,
              Body: JSON.stringify({ generatedHistory: true, startedAt: date.toISOString(), database: example.database }),
            }),
          );
        }
      } finally {
        s3.destroy();
      }
    }
    for (const date of dates.filter((d) => now.getTime() - d.getTime() <= 30 * 86_400_000)) {
      await rds.send(
        new CreateDBSnapshotCommand({
          DBInstanceIdentifier: example.instanceIdentifier,
          DBSnapshotIdentifier: snapshotIdentifier('instance', example.instanceIdentifier, date),
          Tags: snapshotTags({ sourceIdentifier: example.instanceIdentifier, tiers: ['daily'] }),
        }),
      );
      snapshots++;
    }
  } finally {
    rds.destroy();
  }
  return {
    dumps: dates.length,
    snapshots,
    emulated:
      `retention history: ${dates.length} older backups (${dates[0].toISOString().slice(0, 10)} to ${dates[dates.length - 1].toISOString().slice(0, 10)}) ` +
      `were generated as placeholder dump and manifest objects in both buckets, and ${snapshots} snapshots of the last 30 days in ${PRIMARY_REGION}`,
  };
}

/** Manifests without their dump (and dumps without their manifest) under a source's prefix: what "half-written" means. */
export async function halfWritten(bucket: string, region: string, prefix: string): Promise<string[]> {
  const keys = await listKeys(bucket, region, prefix);
  const problems: string[] = [];
  for (const key of keys.keys()) {
    if (key.endsWith(MANIFEST_SUFFIX) && !keys.has(`${key.slice(0, -MANIFEST_SUFFIX.length)}${DUMP_SUFFIX}`)) problems.push(`${key} has no dump`);
  }
  return problems;
}
