/**
 * Smoke test of the test harness: the real PostgreSQL and the AWS emulator that jest global setup starts are
 * reachable through the environment alone, and the helpers in test/support do what they say.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateDBInstanceCommand, DeleteDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { harnessEnv } from '../support/env';
import type { HarnessState } from '../support/harness-state';
import { createKmsKey, createTestBucket, createTopic, snsMessages, subscribeSnsInbox } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';

describe('harness environment', () => {
  it('points AWS and PostgreSQL clients at the loopback services of this run', () => {
    const env = harnessEnv();
    const state = JSON.parse(fs.readFileSync(env.stateFile, 'utf8')) as HarnessState;

    expect(state.ready).toBe(true);
    expect(env.awsEndpointUrl).toBe(state.moto?.endpoint);
    expect(env.awsEndpointUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.pg).toMatchObject({ host: '127.0.0.1', port: state.postgres?.port, password: state.postgres?.password });
    expect(env.pg.url).toBe(`postgres://postgres:${encodeURIComponent(env.pg.password)}@127.0.0.1:${env.pg.port}/postgres`);
    expect(process.env.AWS_REGION).toBe('us-east-1');
  });
});

describe('PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('harness-smoke');
  });

  afterAll(async () => {
    await dropTestDatabase(db.name);
  });

  it('is a real PostgreSQL 15 that stores rows and reads them back', async () => {
    const rows = await withPgClient(db.name, async (client) => {
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(version.rows[0]?.server_version_num).toMatch(/^15\d{4}$/);

      await client.query('CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL)');
      await client.query('INSERT INTO customers (id, name) VALUES ($1, $2), ($3, $4), ($5, $6)', [
        1, 'Ada', 2, 'Grace', 3, 'Zoë',
      ]);
      return (await client.query<{ id: number; name: string }>('SELECT id, name FROM customers ORDER BY id')).rows;
    });

    expect(rows).toEqual([
      { id: 1, name: 'Ada' },
      { id: 2, name: 'Grace' },
      { id: 3, name: 'Zoë' },
    ]);
  });

  it('creates databases with unique names and drops them', async () => {
    const other = await createTestDatabase('harness-smoke');
    expect(other.name).not.toBe(db.name);
    expect(other.name).toMatch(/^harness_smoke_[0-9a-f]{10}$/);

    await dropTestDatabase(other.name);

    const remaining = await withPgClient('postgres', async (client) =>
      (await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname IN ($1, $2)', [db.name, other.name])).rows,
    );
    expect(remaining.map((row) => row.datname)).toEqual([db.name]);
  });
});

describe('AWS emulator', () => {
  // Configured by the environment only, exactly like product code: no endpoint, no forcePathStyle.
  const s3 = new S3Client({});

  afterAll(() => {
    s3.destroy();
  });

  it('keeps both versions of an overwritten object in a versioned bucket', async () => {
    const bucket = await createTestBucket({ prefix: 'harness-smoke', versioned: true });
    const key = 'postgres/app/2025/01/01/backup.dump';

    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first version' }));
    const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second version' }));

    expect(first.VersionId).toBeDefined();
    expect(second.VersionId).toBeDefined();
    expect(second.VersionId).not.toBe(first.VersionId);

    const read = async (versionId?: string): Promise<string | undefined> =>
      (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body?.transformToString();
    expect(await read(first.VersionId)).toBe('first version');
    expect(await read(second.VersionId)).toBe('second version');
    expect(await read()).toBe('second version');

    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    expect(versions.Versions?.map((v) => [v.VersionId, v.IsLatest])).toEqual(
      expect.arrayContaining([
        [first.VersionId, false],
        [second.VersionId, true],
      ]),
    );
    expect(versions.Versions).toHaveLength(2);
  });

  it('creates a bucket in another region for replicas', async () => {
    const bucket = await createTestBucket({ prefix: 'harness-replica', region: 'us-west-2' });
    const west = new S3Client({ region: 'us-west-2' });
    try {
      await west.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
      const head = await west.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
      expect(head.ContentLength).toBe(1);
    } finally {
      west.destroy();
    }
  });

  it('encrypts uploads with a KMS key created in the emulator', async () => {
    const bucket = await createTestBucket({ prefix: 'harness-kms' });
    const key = await createKmsKey();

    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key.arn }),
    );

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'secret' }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(key.arn);
  });

  it('records the messages published to each topic, also while RDS instances exist', async () => {
    const topicArn = await createTopic();
    const otherTopicArn = await createTopic();
    const sns = new SNSClient({});
    try {
      await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: 'Backup failed', Message: '{"database":"app"}' }));
      await sns.send(new PublishCommand({ TopicArn: otherTopicArn, Message: 'unrelated' }));
    } finally {
      sns.destroy();
    }

    // An RDS DB instance anywhere in moto breaks stock moto's data.json; the harness' patched moto copes.
    const rds = new RDSClient({});
    const dbInstanceIdentifier = `harness-smoke-${randomBytes(4).toString('hex')}`;
    try {
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: dbInstanceIdentifier,
          Engine: 'postgres',
          DBInstanceClass: 'db.t3.micro',
          AllocatedStorage: 20,
          MasterUsername: 'app',
          MasterUserPassword: 'not-a-secret-1',
        }),
      );
      const messages = await snsMessages(topicArn);
      expect(messages).toEqual([
        expect.objectContaining({ topicArn, subject: 'Backup failed', message: '{"database":"app"}' }),
      ]);
    } finally {
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: dbInstanceIdentifier, SkipFinalSnapshot: true }));
      rds.destroy();
    }
    expect((await snsMessages()).map((m) => m.message)).toEqual(expect.arrayContaining(['{"database":"app"}', 'unrelated']));
  });

  it('delivers a topic\'s messages to an SQS inbox subscribed to it', async () => {
    const topicArn = await createTopic();
    const sns = new SNSClient({});
    try {
      await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'before subscribing' }));
      const inbox = await subscribeSnsInbox(topicArn);
      await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: 'RPO exceeded', Message: 'one' }));
      await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'two' }));

      expect(await inbox.messages()).toEqual([
        expect.objectContaining({ topicArn, subject: 'RPO exceeded', message: 'one' }),
        expect.objectContaining({ topicArn, message: 'two' }),
      ]);
      // Messages already read are kept; nothing new arrived.
      expect((await inbox.messages()).map((m) => m.message)).toEqual(['one', 'two']);
    } finally {
      sns.destroy();
    }
  });
});
