/**
 * A backup that a running recovery test or failover picked is never deleted: the running executions of the given
 * state machines are asked of Step Functions (moto keeps an execution RUNNING, as a restore in progress is), and what
 * their input names is kept, with the execution as its reason, although the policy would delete it. A stopped
 * execution protects nothing.
 */
import { randomBytes } from 'node:crypto';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { backupKeys } from '../../../lambda/backup/manifest';
import { snapshotIdentifier, snapshotTags } from '../../../lambda/rds/snapshot';
import { cleanDumps, cleanSnapshots } from '../../../lambda/retention/cleanup-core';
import { backupsInUse } from '../../../lambda/retention/in-use';
import type { RetentionRules } from '../../../lambda/retention/policy';
import { harnessEnv } from '../../support/env';
import { createTestBucket } from '../../support/moto';
import { createTestStateMachine, type TestStateMachine } from '../../support/stepfunctions';

const DAY = 86_400_000;
const NOW = new Date(Date.UTC(2024, 5, 30, 12));
const TIMES = [0, 1, 2, 3].map((i) => NOW.getTime() - 10 * 3_600_000 - i * DAY);
const RULES: RetentionRules = { last: 1, minimumKeep: 1, timeZone: 'UTC' };
const SOURCE = 'inuse';

let s3: S3Client;
let bucket: string;
let recoveryTest: TestStateMachine;
let failover: TestStateMachine;
const manifest = (i: number) => backupKeys(SOURCE, 'app', new Date(TIMES[i])).manifestKey;
const dump = (i: number) => backupKeys(SOURCE, 'app', new Date(TIMES[i])).dumpKey;

beforeAll(async () => {
  s3 = new S3Client({});
  bucket = await createTestBucket({ prefix: 'in-use' });
  for (let i = 0; i < TIMES.length; i++) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump(i), Body: 'dump' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifest(i), Body: '{}' }));
  }
  recoveryTest = await createTestStateMachine('RecoveryTest');
  failover = await createTestStateMachine('Failover', 'us-west-2');
});

afterAll(() => s3.destroy());

describe('backups in use by running executions', () => {
  it('keeps what running executions picked (by manifest key, by dump key, by snapshot), in their regions; a stopped one protects nothing', async () => {
    const running = await recoveryTest.start({ selection: { manifestKey: manifest(2) } }, 'weekly-test');
    const stopped = await recoveryTest.start({ selection: { manifestKey: manifest(3) } });
    await recoveryTest.stop(stopped);
    await failover.start({ strategy: 'restore-dump', dumpKey: dump(1), dryRun: true }, 'rehearsal');

    const check = await backupsInUse([recoveryTest.arn, failover.arn]);
    expect(check.runningExecutions).toEqual([running, `arn:aws:states:us-west-2:123456789012:execution:${failover.name}:rehearsal`]);
    expect(check.inUse.get(manifest(2))).toBe(`execution weekly-test of ${recoveryTest.name}`);
    expect(check.inUse.get(manifest(1))).toBe(`execution rehearsal of ${failover.name}`);
    expect(check.inUse.has(manifest(3))).toBe(false);
    expect(check.calls).toMatchObject({ ListExecutions: 2, DescribeExecution: 2, GetExecutionHistory: 2 });

    const result = await cleanDumps({ s3, bucket, source: SOURCE, rules: RULES, now: NOW, dryRun: false, orphanGraceSeconds: 86_400, objectLock: false, removeVersions: false, inUse: check.inUse });
    const items = result.series[0].items;
    expect(items.map((i) => [i.id, i.keep, i.reasons])).toEqual([
      [manifest(0), true, ['last 1 of 1', 'newest verified']],
      [manifest(1), true, [`in use by execution rehearsal of ${failover.name}`]],
      [manifest(2), true, [`in use by execution weekly-test of ${recoveryTest.name}`]],
      [manifest(3), false, []],
    ]);
    expect(result.objectsDeleted).toBe(2);
  });

  it('keeps a snapshot a running execution picked', async () => {
    const instance = `db-${randomBytes(4).toString('hex')}`;
    const rds = new RDSClient({});
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: instance, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'postgres', MasterUserPassword: 'not-a-real-password-1' }));
    const ids = TIMES.map((t) => snapshotIdentifier('instance', instance, new Date(t)));
    for (const id of ids) await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: instance, DBSnapshotIdentifier: id, Tags: snapshotTags({ sourceIdentifier: instance, tiers: ['daily'] }) }));
    rds.destroy();
    await recoveryTest.start({ selection: { snapshotId: ids[3] } });

    const check = await backupsInUse([recoveryTest.arn]);
    const result = await cleanSnapshots({ region: harnessEnv().awsRegion, kind: 'instance', sourceIdentifier: instance, rules: RULES, now: NOW, dryRun: false, inUse: check.inUse });
    expect(result.series.items.map((i) => [i.id, i.keep])).toEqual([[ids[0], true], [ids[1], false], [ids[2], false], [ids[3], true]]);
    expect(result.series.items[3].reasons).toEqual([expect.stringMatching(new RegExp(`^in use by execution run-[0-9a-f]+ of ${recoveryTest.name}$`))]);
    expect(result.snapshotsDeleted).toBe(2);
  });

  it('fails when Step Functions cannot answer (a state machine that does not exist), so the caller deletes nothing', async () => {
    await expect(backupsInUse([`arn:aws:states:${harnessEnv().awsRegion}:123456789012:stateMachine:Gone-${randomBytes(3).toString('hex')}`])).rejects.toThrow(/StateMachineDoesNotExist|does not exist/i);
  });
});
