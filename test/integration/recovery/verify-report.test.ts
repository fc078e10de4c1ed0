/**
 * The recovery-verify handler against the harness' PostgreSQL (credentials from a secret in moto), and the
 * recovery-report handler writing its report to moto with SSE-KMS.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { VerificationFailed, handler as verify } from '../../../lambda/restore/recovery-verify.handler';
import { handler as report } from '../../../lambda/reporting/recovery-report.handler';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../../support/postgres';

let db: TestDatabase;
let empty: TestDatabase;
let secretArn: string;

beforeAll(async () => {
  db = await createTestDatabase('rv');
  empty = await createTestDatabase('rv_empty');
  await withPgClient(db.name, (c) => c.query('CREATE SCHEMA app; CREATE TABLE app.orders (id int, total numeric); INSERT INTO app.orders SELECT g, g FROM generate_series(1, 10) g'));
  const { pg } = harnessEnv();
  const secrets = new SecretsManagerClient({});
  try {
    const out = await secrets.send(
      new CreateSecretCommand({ Name: `rv-${randomBytes(4).toString('hex')}`, SecretString: JSON.stringify({ username: pg.user, password: pg.password, engine: 'postgres' }) }),
    );
    secretArn = out.ARN ?? '';
  } finally {
    secrets.destroy();
  }
});

afterAll(async () => {
  await dropTestDatabase(db.name);
  await dropTestDatabase(empty.name);
});

function target(database: string) {
  const { pg } = harnessEnv();
  return { secretArn, host: pg.host, port: pg.port, database, sslMode: 'disable' };
}

describe('recovery-verify', () => {
  it('passes a database with tables whose validation queries return true', async () => {
    const out = await verify({ target: target(db.name), validationQueries: [{ name: 'orders', sql: 'SELECT count(*) = 10 FROM app.orders' }] });
    expect(out).toMatchObject({ passed: true, database: db.name, tables: 1 });
    expect(out.checks).toEqual([
      { name: 'tables present', passed: true, actual: 1, detail: '1 user tables' },
      { name: 'query orders', passed: true, expected: true, actual: true },
    ]);
  });

  it('reports failed checks without throwing when asked, and throws VerificationFailed by default', async () => {
    const queries = [
      { name: 'too-many', sql: 'SELECT count(*) > 10 FROM app.orders' },
      { name: 'broken', sql: 'SELECT * FROM app.missing' },
      { name: 'writes', sql: 'DELETE FROM app.orders RETURNING true' },
    ];
    const out = await verify({ target: target(db.name), validationQueries: queries, throwOnFailure: false });
    expect(out.passed).toBe(false);
    expect(out.checks.slice(1)).toEqual([
      expect.objectContaining({ name: 'query too-many', passed: false, detail: 'returned false' }),
      expect.objectContaining({ name: 'query broken', passed: false, detail: expect.stringMatching(/relation "app.missing" does not exist/) }),
      expect.objectContaining({ name: 'query writes', passed: false, detail: expect.stringMatching(/read-only transaction/) }),
    ]);
    // The READ ONLY transaction kept the rows.
    const count = await withPgClient(db.name, (c) => c.query<{ n: string }>('SELECT count(*) AS n FROM app.orders'));
    expect(count.rows[0].n).toBe('10');
    await expect(verify({ target: target(db.name), validationQueries: queries })).rejects.toThrow(VerificationFailed);
  });

  it('fails an empty database', async () => {
    const out = await verify({ target: target(empty.name), throwOnFailure: false });
    expect(out).toMatchObject({ passed: false, tables: 0, checks: [expect.objectContaining({ name: 'tables present', passed: false })] });
  });
});

describe('recovery-report', () => {
  it('writes the report with SSE-KMS under reports/recovery-test/ and returns the outcome and the notification', async () => {
    const bucket = await createTestBucket({ prefix: 'rt-report', versioned: true });
    const key = await createKmsKey('rt report');
    const saved = { ...process.env };
    Object.assign(process.env, { BUCKET_NAME: bucket, BUCKET_KMS_KEY_ARN: key.arn, SOURCE_ID: 'prod' });
    try {
      const out = await report({
        workflow: 'recovery-test',
        executionId: 'arn:aws:states:us-east-1:123456789012:execution:RecoveryTest:run-7',
        startedAt: '2024-05-05T05:00:00.000Z',
        kind: 'dump',
        state: {
          error: { Error: 'BackupNotFound', Cause: JSON.stringify({ errorType: 'BackupNotFound', errorMessage: 'no such backup' }) },
          cleanup: [
            { what: 'database', names: ['cdkbdr-rt-run-7-0a1b2c3d'], status: 'gone' },
            { what: 'secret', names: ['cdk-backup-dr/scratch/cdkbdr-rt-run-7-0a1b2c3d'], status: 'gone' },
          ],
        },
      });
      expect(out).toMatchObject({
        status: 'FAILED',
        reportKey: 'reports/recovery-test/2024/05/05/20240505T050000.000Z-run-7.json',
        subject: 'cdk-backup-dr FAILED: recovery test of prod in us-east-1 at pick',
        cause: 'pick failed with BackupNotFound: no such backup',
        versionId: expect.any(String),
      });
      // One message per protocol (SNS MessageStructure json): text for people, the same facts as JSON for machines.
      const message = JSON.parse(out.message) as Record<string, string>;
      expect(message.default).toContain('Cause: pick failed with BackupNotFound: no such backup');
      expect(JSON.parse(message.sqs)).toMatchObject({ status: 'FAILED', report: `s3://${bucket}/${out.reportKey}`, cleanup: 'done' });
      const s3 = new S3Client({});
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: out.reportKey }));
      expect(head).toMatchObject({ ServerSideEncryption: 'aws:kms', ContentType: 'application/json' });
      expect(head.SSEKMSKeyId).toContain(key.keyId);
      const body = JSON.parse((await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: out.reportKey }))).Body?.transformToString()) ?? '');
      expect(body).toMatchObject({ workflow: 'recovery-test', status: 'FAILED', failedStep: 'pick', source: 'prod' });
      s3.destroy();
    } finally {
      for (const name of ['BUCKET_NAME', 'BUCKET_KMS_KEY_ARN', 'SOURCE_ID']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
