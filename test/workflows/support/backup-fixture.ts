/**
 * The BackupWorkflow of a synthesized PostgresBackup, runnable locally against the harness' PostgreSQL and moto.
 *
 * What is real: the template (an RDS instance source, so both the dump and the snapshot branch exist, with the
 * snapshot copy to us-west-2), the state machine definition taken from it, the dump/verify/snapshot/report handlers
 * (in-process, with their template environment), pg_dump against the harness' PostgreSQL 15, S3, KMS, Secrets
 * Manager, RDS snapshots and SNS -> SQS in moto.
 *
 * What is mapped, and listed by {@link BackupWorkflowFixture.emulatedOf}:
 * - the dump target: the template's target is the RDS instance's endpoint, which moto cannot serve; the dump wrapper
 *   checks the target is exactly that endpoint and sends the dump to the harness' PostgreSQL instead;
 * - pg_dump and pg_dumpall: the template's PG_DUMP_PATH / PG_DUMPALL_PATH are the PgToolsLayer's /opt/bin tools
 *   (the layer is a dummy ARN here), so the host's tools 15 run instead.
 * The bucket, its KMS key, the topic, the instance and its secret, and the secret of the server's CA (the source's
 * `caCertificate`, bound to the harness CA's secret) are bound to resources created in moto.
 *
 * @example
 * const fixture = await createBackupWorkflowFixture();
 * const run = await fixture.run({ tiers: ['daily'] }, 'manual');
 * expect(run.result.status).toBe('SUCCEEDED');
 * await fixture.dispose();
 */
import { outsideTask } from '../../../local/caller';
import { randomBytes } from 'node:crypto';
import {
  DeleteBucketPolicyCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DeleteDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  RDSClient,
  type DBSnapshot,
} from '@aws-sdk/client-rds';
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { BackupSource, PostgresBackup } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { handler as dumpHandler } from '../../../lambda/backup/dump.handler';
import { handler as reportHandler } from '../../../lambda/reporting/backup-report.handler';
import { handler as snapshotHandler } from '../../../lambda/rds/snapshot.handler';
import { handler as verifyHandler } from '../../../lambda/backup/verify.handler';
import { logger } from '../../../lambda/common/logger';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket, createTopic, snsMessages, subscribeSnsInbox, type SnsMessage } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, harnessCaSecretArn, withPgClient, type TestDatabase } from '../../support/postgres';
import {
  type JsonValue,
  type LambdaContext,
  LocalWorkflow,
  type LocalWorkflowResult,
  logicalIdOf,
} from '../../support/workflow-harness';

/** The DR region snapshots are copied to. */
export const DR_REGION = 'us-west-2';

/** A hook run by the verify wrapper before the real verify handler, with the manifest key it is about to verify. */
export type BeforeVerify = (manifestKey: string) => Promise<void>;

/** One run of the workflow and what it left behind. */
export interface BackupRun {
  readonly result: LocalWorkflowResult;
  readonly executionName: string;
  /** Messages the notification topic delivered during the run (SNS -> SQS inbox in moto). */
  readonly messages: readonly SnsMessage[];
  /** The same messages as published (moto's record: a `MessageStructure: json` document keeps every protocol's body). */
  readonly published: readonly SnsMessage[];
  /** Object versions under the source's prefix that the run added (`key@versionId`). */
  readonly newVersions: readonly string[];
  /** Multipart uploads still open in the bucket after the run. */
  readonly openUploads: readonly string[];
  /** The run's report (reports/backup/...-<executionName>.json), when one was written. */
  readonly report?: { readonly key: string; readonly body: Record<string, JsonValue> };
  /** CloudWatch EMF metrics the handlers printed during the run: metric name -> values, in order. */
  readonly metrics: Readonly<Record<string, number[]>>;
}

/** One EMF document as Powertools prints it: `{ _aws: { CloudWatchMetrics: [{ Metrics: [{ Name }] }] }, <Name>: value }`. */
interface EmfDocument {
  readonly _aws: { readonly CloudWatchMetrics: ReadonlyArray<{ readonly Namespace: string; readonly Metrics: ReadonlyArray<{ readonly Name: string }> }> };
  readonly [field: string]: unknown;
}

/** Where EMF metrics go while runs are in progress (several when runs overlap: each gets all of them). */
const emfSinks = new Set<Record<string, number[]>>();
let realStdoutWrite: typeof process.stdout.write | undefined;

/** Takes the CdkBackupDr EMF documents out of what is written to stdout, into every active sink; the rest passes. */
function stdoutWithoutEmf(original: typeof process.stdout.write): typeof process.stdout.write {
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const passThrough: string[] = [];
    for (const line of text.split('\n')) {
      let document: EmfDocument | undefined;
      if (line.startsWith('{"_aws"')) {
        try {
          document = JSON.parse(line) as EmfDocument;
        } catch {
          document = undefined;
        }
      }
      if (document === undefined) {
        passThrough.push(line);
        continue;
      }
      for (const directive of document._aws.CloudWatchMetrics) {
        if (directive.Namespace !== 'CdkBackupDr') continue;
        for (const { Name } of directive.Metrics) {
          const value = document[Name];
          if (typeof value !== 'number') continue;
          for (const sink of emfSinks) (sink[Name] ??= []).push(value);
        }
      }
    }
    const remaining = passThrough.join('\n');
    return remaining.trim() === '' ? true : original.call(process.stdout, remaining, ...(rest as []));
  };
  return write as typeof process.stdout.write;
}

/**
 * Runs `work` while collecting the CloudWatch EMF documents printed to stdout (Powertools Metrics writes them there,
 * as Lambda expects). Overlapping calls each see every document printed while they run.
 */
async function capturingEmf<T>(work: () => Promise<T>): Promise<{ value: T; metrics: Record<string, number[]> }> {
  const metrics: Record<string, number[]> = {};
  if (emfSinks.size === 0) {
    realStdoutWrite = process.stdout.write;
    process.stdout.write = stdoutWithoutEmf(realStdoutWrite);
  }
  emfSinks.add(metrics);
  try {
    return { value: await work(), metrics };
  } finally {
    emfSinks.delete(metrics);
    if (emfSinks.size === 0 && realStdoutWrite !== undefined) {
      process.stdout.write = realStdoutWrite;
      realStdoutWrite = undefined;
    }
  }
}

/** Everything a test needs about the deployed-locally backup. */
export interface BackupWorkflowFixture {
  readonly workflow: LocalWorkflow;
  /** RDS instance identifier in moto; also the backup's source id (the S3 key segment). */
  readonly instanceId: string;
  readonly databases: readonly [TestDatabase, TestDatabase];
  readonly bucket: string;
  readonly bucketKeyArn: string;
  readonly drKeyArn: string;
  readonly topicArn: string;
  readonly secretArn: string;
  /** The endpoint the template gives the dump (moto's address of the instance). */
  readonly rdsEndpoint: { readonly address: string; readonly port: string };
  readonly s3: S3Client;
  readonly rds: { readonly primary: RDSClient; readonly dr: RDSClient };
  readonly secrets: SecretsManagerClient;
  /** Set by a test to tamper with a backup between dump and verify; cleared by {@link reset}. */
  beforeVerify: BeforeVerify | undefined;
  /**
   * Runs the state machine once with a fresh SNS inbox and collects what the run left behind. Runs that overlap share
   * the emulator: then only `result`, `report` and `executionName` are the run's own.
   */
  run(input: JsonValue, namePrefix: string): Promise<BackupRun>;
  /** The runner's `emulated` list plus what this fixture mapped during that run. */
  emulatedOf(run: BackupRun): string[];
  /** Own manual snapshots of the instance in a region (identifier `cdkbdr-<instance>-...`), with their tags. */
  snapshots(region: 'primary' | 'dr'): Promise<Array<{ readonly snapshot: DBSnapshot; readonly tags: Record<string, string> }>>;
  /** Deletes the RDS instance in moto (the snapshot branch then has no source); {@link reset} recreates it. */
  removeInstance(): Promise<void>;
  /** Denies s3:PutObject on reports/backup/* by bucket policy; {@link reset} removes the policy. */
  denyReports(): Promise<void>;
  /**
   * A bucket policy that denies s3:PutObject on the keys `pattern` matches (under the bucket; `*` spans `/`), as an
   * IAM or bucket-policy mistake in AWS would; {@link reset} removes it.
   */
  denyWrites(pattern: string): Promise<void>;
  /**
   * Adds a table of about `mb` MB of poorly compressible text to the first database, so its dump is a multipart
   * upload; {@link reset} drops it.
   */
  growFirstDatabase(mb: number): Promise<void>;
  /** Stores a wrong password in the database secret; {@link reset} restores the right one. Returns the wrong password. */
  breakSecret(): Promise<string>;
  /** Renames the second database away so the dump finds it missing; {@link reset} renames it back. */
  hideSecondDatabase(): Promise<void>;
  /** Undoes what a test changed and deletes the run's snapshots (only this fixture's). */
  reset(): Promise<void>;
  /** Deletes what the fixture created that outlives the file (instance, snapshots, secret, databases). */
  dispose(): Promise<void>;
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Seeds a small database whose row counts the manifests must report. */
async function seed(database: string, rows: number): Promise<void> {
  await withPgClient(database, async (client) => {
    await client.query(`
      CREATE SCHEMA shop;
      CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric(10,2), note text);
      INSERT INTO shop.orders SELECT g, g * 1.5, md5(g::text) FROM generate_series(1, ${rows}) g;
      CREATE TABLE public."Customers" (id int PRIMARY KEY, name text);
      INSERT INTO public."Customers" SELECT g, 'customer ' || g FROM generate_series(1, 25) g;
    `);
  });
}

interface Synthesized {
  readonly template: Record<string, unknown>;
  readonly ids: {
    readonly stateMachine: string;
    readonly dump: string;
    readonly verify: string;
    readonly report: string;
    readonly snapshot: string;
    readonly instance: string;
    readonly secret: string;
    readonly secretAttachment: string;
    readonly caCertificate: string;
    readonly bucket: string;
    readonly bucketKey: string;
    readonly topic: string;
  };
}

/** A stack with a BackupBucket, an RDS instance and a PostgresBackup of two databases with snapshots copied to DR. */
function synthesize(props: { instanceId: string; databases: readonly string[]; drKeyArn: string; region: string; dumpParallelism?: number }): Synthesized {
  const app = new App();
  const stack = new Stack(app, 'BackupWorkflowTest', { env: { account: '123456789012', region: props.region } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const bucket = new BackupBucket(stack, 'Backups');
  const instance = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    instanceIdentifier: props.instanceId,
    storageEncrypted: true,
  });
  const secret = instance.secret;
  if (secret === undefined) throw new Error('the RDS instance has no generated secret');
  // The test server's certificate is from the harness CA, not Amazon RDS: given as a user gives their own CA.
  const caCertificate = new secretsmanager.Secret(stack, 'ServerCa', { description: 'PEM of the CA of the PostgreSQL server' });
  const backup = new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromInstance(instance, { secret, caCertificate }),
    databases: [...props.databases],
    vpc,
    bucket,
    postgresVersion: 15,
    // A dummy layer keeps synth fast: pg_dump comes from the host here (see PG_DUMP_PATH below).
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:${props.region}:123456789012:layer:pg-tools:1`),
    snapshotCopy: { region: DR_REGION, encryptionKeyArn: props.drKeyArn },
    ...(props.dumpParallelism === undefined ? {} : { dumpParallelism: props.dumpParallelism, dumpMemorySize: 3538 }),
  });
  if (backup.snapshotFunction === undefined) throw new Error('PostgresBackup of an RDS instance created no snapshot function');
  const generatedSecret = instance.node.findChild('Secret');
  return {
    template: Template.fromStack(stack).toJSON(),
    ids: {
      stateMachine: logicalIdOf(backup.stateMachine),
      dump: logicalIdOf(backup.dumpFunction!),
      verify: logicalIdOf(backup.verifyFunction!),
      report: logicalIdOf(backup.reportFunction),
      snapshot: logicalIdOf(backup.snapshotFunction),
      instance: logicalIdOf(instance),
      secret: logicalIdOf(generatedSecret),
      secretAttachment: logicalIdOf(secret),
      caCertificate: logicalIdOf(caCertificate),
      bucket: logicalIdOf(bucket.bucket),
      bucketKey: logicalIdOf(bucket.encryptionKey),
      topic: logicalIdOf(backup.notificationTopic),
    },
  };
}

/**
 * Creates the databases and moto resources, synthesizes the stack and builds the {@link LocalWorkflow} once.
 */
export async function createBackupWorkflowFixture(options: { readonly dumpParallelism?: number } = {}): Promise<BackupWorkflowFixture> {
  const env = harnessEnv();
  const region = env.awsRegion;
  logger.setLogLevel('ERROR');
  const caSecretArn = await harnessCaSecretArn(region);

  const instanceId = `bwt-${hex(4)}`;
  const databases: [TestDatabase, TestDatabase] = [await createTestDatabase('wf_orders'), await createTestDatabase('wf_billing')];
  await seed(databases[0].name, 120);
  await seed(databases[1].name, 40);

  const s3 = new S3Client({ region });
  const primary = new RDSClient({ region });
  const dr = new RDSClient({ region: DR_REGION });
  const secrets = new SecretsManagerClient({ region });

  const bucket = await createTestBucket({ prefix: 'backup-workflow', versioned: true });
  const bucketKey = await createKmsKey('backup workflow test: bucket key');
  const drKey = await createKmsKey('backup workflow test: DR snapshot key', DR_REGION);
  const topicArn = await createTopic(`backup-workflow-${hex(6)}`);

  const createInstance = async (): Promise<{ address: string; port: string }> => {
    const out = await primary.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: instanceId,
        Engine: 'postgres',
        EngineVersion: '15.5',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: env.pg.user,
        MasterUserPassword: 'not-the-test-password-1',
        StorageEncrypted: true,
      }),
    );
    const address = out.DBInstance?.Endpoint?.Address;
    const port = out.DBInstance?.Endpoint?.Port;
    if (address === undefined || port === undefined) throw new Error(`moto returned no endpoint for ${instanceId}`);
    return { address, port: String(port) };
  };
  const rdsEndpoint = await createInstance();

  // The instance's secret as RDS writes it; the dump reads the credentials from it (host/port come from the input).
  const goodSecret = JSON.stringify({
    engine: 'postgres',
    username: env.pg.user,
    password: env.pg.password,
    host: rdsEndpoint.address,
    port: Number(rdsEndpoint.port),
    dbInstanceIdentifier: instanceId,
  });
  const created = await secrets.send(new CreateSecretCommand({ Name: `${instanceId}-credentials`, SecretString: goodSecret }));
  if (created.ARN === undefined) throw new Error('CreateSecret returned no ARN');
  const secretArn = created.ARN;

  const synthesized = synthesize({ instanceId, databases: databases.map((d) => d.name), drKeyArn: drKey.arn, region, dumpParallelism: options.dumpParallelism });
  const { ids } = synthesized;

  const targetNote =
    `dump target: the template's target ${rdsEndpoint.address}:${rdsEndpoint.port} (the RDS instance ${instanceId} in moto, ` +
    `which serves no database) was mapped by the test's dump wrapper to the test PostgreSQL ${env.pg.host}:${env.pg.port}; ` +
    `credentials from the Secrets Manager secret in moto`;
  const pgDumpNote =
    "pg_dump: the host's pg_dump (PATH) ran instead of the PgToolsLayer's /opt/bin/pg_dump (the layer is a dummy ARN in this test)";

  const hooks: { beforeVerify: BeforeVerify | undefined } = { beforeVerify: undefined };

  const dump = async (event: unknown, context: LambdaContext): Promise<unknown> => {
    const input = event as { target?: { host?: unknown; port?: unknown } };
    const target = input.target ?? {};
    if (target.host !== rdsEndpoint.address || String(target.port) !== rdsEndpoint.port) {
      throw new Error(`the dump target is ${String(target.host)}:${String(target.port)}, not the RDS endpoint ${rdsEndpoint.address}:${rdsEndpoint.port} the template should give`);
    }
    return dumpHandler({ ...(event as object), target: { ...target, host: env.pg.host, port: env.pg.port } }, context);
  };
  const verify = async (event: unknown): Promise<unknown> => {
    const hook = hooks.beforeVerify;
    if (hook !== undefined) {
      const { manifestKey } = event as { manifestKey: string };
      await outsideTask(() => hook(manifestKey));
    }
    return verifyHandler(event);
  };

  const workflow = new LocalWorkflow({
    template: synthesized.template,
    stateMachine: ids.stateMachine,
    region,
    handlers: {
      [ids.dump]: dump,
      [ids.verify]: verify,
      [ids.snapshot]: snapshotHandler,
      [ids.report]: reportHandler,
    },
    resources: {
      [ids.bucket]: bucket,
      [ids.bucketKey]: bucketKey.keyId,
      [ids.topic]: topicArn,
      [ids.secret]: secretArn,
      [ids.secretAttachment]: secretArn,
      [ids.caCertificate]: caSecretArn,
      [ids.instance]: { ref: instanceId, attributes: { 'Endpoint.Address': rdsEndpoint.address, 'Endpoint.Port': rdsEndpoint.port } },
    },
    // The template's /opt/bin/pg_dump is the layer's; the host's pg_dump 15 stands in (listed by emulatedOf).
    extraEnv: { PG_DUMP_PATH: 'pg_dump', PG_DUMPALL_PATH: 'pg_dumpall' },
  });

  const sourcePrefix = `postgres/${instanceId}/`;

  async function versionsUnder(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      for (const v of page.Versions ?? []) out.push(`${v.Key}@${v.VersionId}`);
      for (const m of page.DeleteMarkers ?? []) out.push(`${m.Key}@${m.VersionId} (delete marker)`);
      if (!page.IsTruncated) return out;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  }

  async function openUploads(): Promise<string[]> {
    const out: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const u of page.Uploads ?? []) out.push(`${u.Key}#${u.UploadId}`);
      if (!page.IsTruncated) return out;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async function readJson(key: string): Promise<Record<string, JsonValue>> {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await object.Body?.transformToString()) ?? '') as Record<string, JsonValue>;
  }

  async function snapshots(which: 'primary' | 'dr') {
    const client = which === 'primary' ? primary : dr;
    const own = `cdkbdr-${instanceId}-`;
    const found: DBSnapshot[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await client.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual', Marker: marker }));
      found.push(...(page.DBSnapshots ?? []).filter((s) => s.DBSnapshotIdentifier?.startsWith(own) === true));
      if (page.Marker === undefined) break;
      marker = page.Marker;
    }
    return Promise.all(
      found.map(async (snapshot) => {
        const tags = await client.send(new ListTagsForResourceCommand({ ResourceName: snapshot.DBSnapshotArn }));
        const record: Record<string, string> = {};
        for (const tag of tags.TagList ?? []) if (tag.Key !== undefined) record[tag.Key] = tag.Value ?? '';
        return { snapshot, tags: record };
      }),
    );
  }

  let instancePresent = true;
  let policySet = false;
  let grown = false;
  let secretBroken = false;
  let hiddenAs: string | undefined;
  const renameDatabase = async (from: string, to: string): Promise<void> => {
    await withPgClient('postgres', async (client) => {
      await client.query(`ALTER DATABASE ${client.escapeIdentifier(from)} RENAME TO ${client.escapeIdentifier(to)}`);
    });
  };

  const fixture: BackupWorkflowFixture = {
    workflow,
    instanceId,
    databases,
    bucket,
    bucketKeyArn: bucketKey.arn,
    drKeyArn: drKey.arn,
    topicArn,
    secretArn,
    rdsEndpoint,
    s3,
    rds: { primary, dr },
    secrets,
    get beforeVerify() {
      return hooks.beforeVerify;
    },
    set beforeVerify(hook: BeforeVerify | undefined) {
      hooks.beforeVerify = hook;
    },

    async run(input, namePrefix) {
      const inbox = await subscribeSnsInbox(topicArn);
      const before = new Set(await versionsUnder(sourcePrefix));
      const executionName = `${namePrefix}-${hex(4)}`;
      const { value: result, metrics } = await capturingEmf(() => workflow.run(input, { executionName }));
      const after = await versionsUnder(sourcePrefix);
      const reportKeys = (await versionsUnder('reports/backup/'))
        .map((version) => version.slice(0, version.lastIndexOf('@')))
        .filter((key) => key.endsWith(`-${executionName}.json`));
      if (reportKeys.length > 1) throw new Error(`more than one report for ${executionName}: ${reportKeys.join(', ')}`);
      const messages = await inbox.messages();
      const ids = new Set(messages.map((m) => m.messageId));
      const run: BackupRun = {
        result,
        executionName,
        messages,
        published: (await snsMessages(topicArn)).filter((m) => ids.has(m.messageId)),
        newVersions: after.filter((version) => !before.has(version)),
        openUploads: await openUploads(),
        metrics,
        ...(reportKeys.length === 1 ? { report: { key: reportKeys[0], body: await readJson(reportKeys[0]) } } : {}),
      };
      return run;
    },

    emulatedOf(run) {
      // The dump wrapper maps every call of the dump function whose target is the template's RDS endpoint (and refuses
      // any other). The task passes the payload alone (payloadResponseOnly), so the call's input is the handler's event.
      const mapped = run.result.calls.some((call) => {
        if (call.target !== `lambda:${ids.dump}` || typeof call.input !== 'object' || call.input === null || Array.isArray(call.input)) return false;
        const target = call.input.target;
        return typeof target === 'object' && target !== null && !Array.isArray(target) && target.host === rdsEndpoint.address && String(target.port) === rdsEndpoint.port;
      });
      return [...run.result.emulated, ...(mapped ? [targetNote, pgDumpNote] : [])];
    },

    snapshots,

    async removeInstance() {
      await primary.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: instanceId, SkipFinalSnapshot: true }));
      instancePresent = false;
    },

    async denyReports() {
      await fixture.denyWrites('reports/backup/*');
    },

    async denyWrites(pattern) {
      await s3.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Sid: 'DenyWrites', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/${pattern}` }],
          }),
        }),
      );
      policySet = true;
    },

    async growFirstDatabase(mb) {
      const rows = Math.ceil((mb * 1024 * 1024) / 128);
      await withPgClient(databases[0].name, (client) =>
        client.query(`CREATE TABLE public.grown (id int PRIMARY KEY, payload text NOT NULL);
          INSERT INTO public.grown SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)
          FROM generate_series(1, ${rows}) g`),
      );
      grown = true;
    },

    async breakSecret() {
      const wrong = `wrong-${hex(8)}`;
      await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify({ ...JSON.parse(goodSecret), password: wrong }) }));
      secretBroken = true;
      return wrong;
    },

    async hideSecondDatabase() {
      const away = `${databases[1].name}_away`;
      await renameDatabase(databases[1].name, away);
      hiddenAs = away;
    },

    async reset() {
      hooks.beforeVerify = undefined;
      if (hiddenAs !== undefined) {
        await renameDatabase(hiddenAs, databases[1].name);
        hiddenAs = undefined;
      }
      if (policySet) {
        await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
        policySet = false;
      }
      if (grown) {
        await withPgClient(databases[0].name, (client) => client.query('DROP TABLE public.grown'));
        grown = false;
      }
      if (secretBroken) {
        await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: goodSecret }));
        secretBroken = false;
      }
      if (!instancePresent) {
        await createInstance();
        instancePresent = true;
      }
      for (const which of ['primary', 'dr'] as const) {
        const client = which === 'primary' ? primary : dr;
        for (const { snapshot } of await snapshots(which)) {
          await client.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: snapshot.DBSnapshotIdentifier }));
        }
      }
    },

    async dispose() {
      try {
        await fixture.reset();
        if (instancePresent) await primary.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: instanceId, SkipFinalSnapshot: true }));
        await secrets.send(new DeleteSecretCommand({ SecretId: secretArn, ForceDeleteWithoutRecovery: true }));
      } finally {
        s3.destroy();
        primary.destroy();
        dr.destroy();
        secrets.destroy();
        await Promise.all(databases.map((d) => dropTestDatabase(d.name)));
      }
    },
  };
  return fixture;
}
