/**
 * The snapshot handler against moto's RDS: a real DB instance and a real Aurora cluster in the emulator, snapshot
 * created, waited on, copied to the DR region with the DR KMS key, and the copy waited on there.
 *
 * moto makes snapshots and copies `available` at once, so the NotReady branch of `wait` is covered by the unit test
 * of `snapshotDecision` (test/unit/snapshot/rds-snapshot.test.ts), not here.
 *
 * moto's /moto-api/data.json (read by snsMessages()) fails once an RDS instance or cluster has existed, so this file
 * resets moto when it is done.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { handler } from '../../../lambda/rds/snapshot.handler';
import type { SnapshotResult } from '../../../lambda/rds/snapshot.handler';
import { logger } from '../../../lambda/common/logger';
import { tagRecord } from '../../../lambda/rds/snapshot';
import { createKmsKey, resetMoto, type TestKmsKey } from '../../support/moto';
import { harnessEnv } from '../../support/env';

const DR_REGION = 'us-west-2';
const suffix = randomBytes(4).toString('hex');
const INSTANCE = `db-${suffix}`;
const CLUSTER = `aurora-${suffix}`;

const savedEnv = { DR_REGION: process.env.DR_REGION, DR_KMS_KEY_ARN: process.env.DR_KMS_KEY_ARN };
let primary: RDSClient;
let dr: RDSClient;
let drKey: TestKmsKey;

beforeAll(async () => {
  logger.setLogLevel('WARN');
  primary = new RDSClient({ region: harnessEnv().awsRegion });
  dr = new RDSClient({ region: DR_REGION });
  drKey = await createKmsKey('DR snapshot key', DR_REGION);
  process.env.DR_REGION = DR_REGION;
  process.env.DR_KMS_KEY_ARN = drKey.arn;
  await primary.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: INSTANCE,
      Engine: 'postgres',
      EngineVersion: '15.5',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password-1',
      StorageEncrypted: true,
    }),
  );
  await primary.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: CLUSTER,
      Engine: 'aurora-postgresql',
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password-1',
      StorageEncrypted: true,
    }),
  );
});

afterAll(async () => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  primary.destroy();
  dr.destroy();
  await resetMoto();
});

/** Runs the handler and expects it to throw an error with `name`; returns the error. */
async function rejection(event: unknown, name: string): Promise<Error> {
  const error = await handler(event).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).name).toBe(name);
  return error as Error;
}

const EXPECTED_TAGS = {
  'cdk-backup-dr:creator': 'cdk-backup-dr',
  'cdk-backup-dr:tiers': 'daily+weekly',
};

describe.each([
  { kind: 'instance' as const, identifier: INSTANCE, arnType: 'snapshot' },
  { kind: 'cluster' as const, identifier: CLUSTER, arnType: 'cluster-snapshot' },
])('$kind snapshot', ({ kind, identifier, arnType }) => {
  let created: SnapshotResult;
  let available: SnapshotResult;
  let copied: SnapshotResult;

  test('create starts a tagged snapshot with a deterministic name', async () => {
    created = await handler({ action: 'create', kind, identifier, tiers: ['weekly', 'daily'], requestedAt: '2024-01-31T02:00:00Z' });
    expect(created.snapshotId).toBe(`cdkbdr-${identifier}-20240131020000`);
    expect(created.snapshotArn).toMatch(new RegExp(`^arn:aws:rds:us-east-1:\\d{12}:${arnType}:${created.snapshotId}$`));
    expect(created).toMatchObject({ kind, region: 'us-east-1', sourceIdentifier: identifier, tiers: ['daily', 'weekly'] });
    expect(created.tags).toEqual({ ...EXPECTED_TAGS, 'cdk-backup-dr:source': identifier });
  });

  test('create retried with the same requestedAt returns the snapshot it already started', async () => {
    const again = await handler({ action: 'create', kind, identifier, tiers: ['daily', 'weekly'], requestedAt: '2024-01-31T02:00:00Z' });
    expect(again.snapshotArn).toBe(created.snapshotArn);
    const ids =
      kind === 'instance'
        ? (await primary.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: identifier }))).DBSnapshots?.map((s) => s.DBSnapshotIdentifier)
        : (await primary.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: identifier }))).DBClusterSnapshots?.map(
            (s) => s.DBClusterSnapshotIdentifier,
          );
    expect(ids?.filter((id) => id?.startsWith('cdkbdr-'))).toEqual([created.snapshotId]);
  });

  test('wait returns the available snapshot', async () => {
    available = await handler({ action: 'wait', kind, snapshotId: created.snapshotId });
    expect(available).toMatchObject({ status: 'available', snapshotArn: created.snapshotArn, encrypted: true });
  });

  test('copy creates the copy in the DR region, encrypted with the DR key and tagged', async () => {
    copied = await handler({ action: 'copy', kind, snapshotArn: available.snapshotArn, snapshotId: available.snapshotId, tiers: ['daily', 'weekly'] });
    expect(copied.region).toBe(DR_REGION);
    expect(copied.snapshotArn).toBe(created.snapshotArn.replace(':us-east-1:', `:${DR_REGION}:`));

    // Look at the copy directly in the DR region, not through the handler.
    const snapshot =
      kind === 'instance'
        ? (await dr.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: copied.snapshotId }))).DBSnapshots?.[0]
        : (await dr.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: copied.snapshotId }))).DBClusterSnapshots?.[0];
    expect(snapshot?.KmsKeyId).toBe(drKey.arn);
    expect(tagRecord(snapshot?.TagList)).toEqual({
      ...EXPECTED_TAGS,
      'cdk-backup-dr:source': identifier,
      'cdk-backup-dr:copied-from': created.snapshotArn,
    });
  });

  test('wait with region = DR region returns the available copy', async () => {
    const ready = await handler({ action: 'wait', kind, snapshotId: copied.snapshotId, region: DR_REGION });
    expect(ready).toMatchObject({ region: DR_REGION, status: 'available', kmsKeyId: drKey.arn, sourceIdentifier: identifier, encrypted: true });
  });

  test('copy retried returns the copy it already started', async () => {
    const again = await handler({ action: 'copy', kind, snapshotArn: available.snapshotArn, tiers: ['daily', 'weekly'] });
    expect(again.snapshotArn).toBe(copied.snapshotArn);
  });

  test('wait on a snapshot that does not exist fails with SnapshotNotFound, naming it and the region', async () => {
    const error = await rejection({ action: 'wait', kind, snapshotId: `cdkbdr-missing-${suffix}`, region: DR_REGION }, 'SnapshotNotFound');
    expect(error.message).toBe(`${kind} snapshot "cdkbdr-missing-${suffix}" does not exist in ${DR_REGION}`);
  });
});

describe('faults', () => {
  test('a snapshot of a database that does not exist fails with the RDS error', async () => {
    const error = await handler({ action: 'create', kind: 'instance', identifier: `nope-${suffix}`, tiers: ['daily'] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toMatch(/^DBInstanceNotFound/);
  });

  test('copy with a DR key from another region is refused by RDS, and nothing is copied', async () => {
    const created = await handler({ action: 'create', kind: 'instance', identifier: INSTANCE, tiers: ['monthly'] });
    const wrongKey = await createKmsKey('key in the primary region');
    process.env.DR_KMS_KEY_ARN = wrongKey.arn;
    try {
      const error = await rejection({ action: 'copy', kind: 'instance', snapshotArn: created.snapshotArn, tiers: ['monthly'] }, 'KMSKeyNotAccessibleFault');
      expect(error.message).toContain(wrongKey.arn);
    } finally {
      process.env.DR_KMS_KEY_ARN = drKey.arn;
    }
    await rejection({ action: 'wait', kind: 'instance', snapshotId: created.snapshotId, region: DR_REGION }, 'SnapshotNotFound');
  });

  test('copy without DR_KMS_KEY_ARN fails with MissingConfiguration before calling RDS', async () => {
    delete process.env.DR_KMS_KEY_ARN;
    try {
      const error = await rejection(
        { action: 'copy', kind: 'instance', snapshotArn: `arn:aws:rds:us-east-1:123456789012:snapshot:cdkbdr-${INSTANCE}-x`, tiers: ['daily'] },
        'MissingConfiguration',
      );
      expect(error.message).toContain('DR_KMS_KEY_ARN');
    } finally {
      process.env.DR_KMS_KEY_ARN = drKey.arn;
    }
  });

  test('a malformed event fails with InvalidInput and creates nothing', async () => {
    await rejection({ action: 'create', kind: 'instance', identifier: INSTANCE, tiers: ['hourly'] }, 'InvalidInput');
    const ids = (await primary.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: INSTANCE }))).DBSnapshots?.map(
      (s) => s.DBSnapshotIdentifier,
    );
    // Only the two snapshots the tests above created (the 2024 one and the monthly one), none from this call.
    expect(ids?.filter((id) => id?.startsWith('cdkbdr-'))).toHaveLength(2);
  });
});
