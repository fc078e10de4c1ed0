/**
 * CreateDBSnapshot / CreateDBClusterSnapshot while the source is busy (another snapshot, the automated backup window):
 * RDS answers InvalidDBInstanceState / InvalidDBClusterStateFault, which moto never produces, so the RDS client is
 * mocked here. The handler turns it into NotReady, which the BackupWorkflow retries (bounded; see the construct test).
 */
import { CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { handler } from '../../../lambda/rds/snapshot.handler';
import { rdsClient } from '../../../lambda/rds/client';
import { NotReady } from '../../../lambda/common/errors';
import { logger } from '../../../lambda/common/logger';

const REGION = 'eu-central-1';

function rdsError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

const savedRegion = process.env.AWS_REGION;
beforeAll(() => {
  logger.setLogLevel('SILENT');
  process.env.AWS_REGION = REGION;
});
afterAll(() => {
  process.env.AWS_REGION = savedRegion;
});
afterEach(() => jest.restoreAllMocks());

describe('snapshot handler, create, on a busy source', () => {
  it.each([
    ['instance', 'InvalidDBInstanceState', CreateDBSnapshotCommand, 'Cannot create a snapshot because the database instance db1 is not currently in the available state.'],
    ['cluster', 'InvalidDBClusterStateFault', CreateDBClusterSnapshotCommand, 'Cannot create a snapshot because the DB cluster db1 is backing-up.'],
  ] as const)('%s: %s becomes NotReady naming the source and the RDS error', async (kind, errorName, command, message) => {
    const sent: string[] = [];
    jest.spyOn(rdsClient(REGION), 'send').mockImplementation((async (cmd: object) => {
      sent.push(cmd.constructor.name);
      throw rdsError(errorName, message);
    }) as never);

    const attempt = handler({ action: 'create', kind, identifier: 'db1', tiers: ['daily'], requestedAt: '2024-06-01T03:00:00Z' });

    await expect(attempt).rejects.toThrow(NotReady);
    await expect(attempt).rejects.toMatchObject({ name: NotReady.NAME, message: expect.stringContaining(`${kind} db1 in ${REGION} cannot be snapshotted now (${errorName}`) });
    expect(sent).toEqual([command.name]);
  });

  it('other RDS errors still fail as they are (a missing instance is not retried)', async () => {
    jest.spyOn(rdsClient(REGION), 'send').mockImplementation((async () => {
      throw rdsError('DBInstanceNotFound', 'DBInstance db1 not found.');
    }) as never);
    await expect(handler({ action: 'create', kind: 'instance', identifier: 'db1', tiers: ['daily'] })).rejects.toMatchObject({ name: 'DBInstanceNotFound' });
  });
});
