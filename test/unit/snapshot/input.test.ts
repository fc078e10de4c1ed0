import { InvalidInput } from '../../../lambda/common/errors';
import { parseSnapshotEvent } from '../../../lambda/rds/snapshot-input';

const SNAPSHOT_ARN = 'arn:aws:rds:us-east-1:123456789012:snapshot:cdkbdr-db1-20240131020304';
const CLUSTER_SNAPSHOT_ARN = 'arn:aws:rds:us-east-1:123456789012:cluster-snapshot:cdkbdr-aurora1-20240131020304';

function invalid(event: unknown): InvalidInput {
  try {
    parseSnapshotEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as Error).name).toBe('InvalidInput');
    return error as InvalidInput;
  }
  throw new Error(`expected ${JSON.stringify(event)} to be rejected`);
}

describe('parseSnapshotEvent', () => {
  test('create: keeps the fields it needs, normalizes tiers, drops the rest', () => {
    expect(
      parseSnapshotEvent({ action: 'create', kind: 'instance', identifier: 'db1', tiers: ['weekly', 'daily', 'weekly'], extra: 1 }),
    ).toEqual({ action: 'create', kind: 'instance', identifier: 'db1', tiers: ['daily', 'weekly'] });
    expect(
      parseSnapshotEvent({ action: 'create', kind: 'cluster', identifier: 'aurora1', tiers: ['daily'], requestedAt: '2024-01-31T02:00:00Z' }),
    ).toEqual({ action: 'create', kind: 'cluster', identifier: 'aurora1', tiers: ['daily'], requestedAt: '2024-01-31T02:00:00Z' });
  });

  test('wait: region is optional and must look like a region', () => {
    expect(parseSnapshotEvent({ action: 'wait', kind: 'instance', snapshotId: 'cdkbdr-db1-20240131020304' })).toEqual({
      action: 'wait',
      kind: 'instance',
      snapshotId: 'cdkbdr-db1-20240131020304',
    });
    expect(parseSnapshotEvent({ action: 'wait', kind: 'cluster', snapshotId: 'x1', region: 'us-west-2' })).toMatchObject({ region: 'us-west-2' });
    expect(invalid({ action: 'wait', kind: 'cluster', snapshotId: 'x1', region: 'mars' }).message).toContain('region');
  });

  test('copy: the ARN must be a snapshot ARN of the given kind; extra fields from the state machine are ignored', () => {
    expect(
      parseSnapshotEvent({ action: 'copy', kind: 'instance', snapshotArn: SNAPSHOT_ARN, snapshotId: 'ignored', tiers: ['daily'] }),
    ).toEqual({ action: 'copy', kind: 'instance', snapshotArn: SNAPSHOT_ARN, tiers: ['daily'] });
    expect(
      parseSnapshotEvent({ action: 'copy', kind: 'cluster', snapshotArn: CLUSTER_SNAPSHOT_ARN, tiers: ['daily'], sourceIdentifier: 'aurora1' }),
    ).toMatchObject({ sourceIdentifier: 'aurora1' });
    expect(invalid({ action: 'copy', kind: 'cluster', snapshotArn: SNAPSHOT_ARN, tiers: ['daily'] }).message).toContain(
      'ARN of a cluster snapshot',
    );
    expect(invalid({ action: 'copy', kind: 'instance', snapshotArn: 'cdkbdr-db1', tiers: ['daily'] }).message).toContain('snapshotArn');
  });

  test.each([
    { event: null, message: 'event must be an object' },
    { event: [], message: 'event must be an object' },
    { event: { action: 'delete', kind: 'instance' }, message: "action must be one of 'create', 'wait', 'copy'" },
    { event: { action: 'create', kind: 'proxy', identifier: 'db1', tiers: ['daily'] }, message: "kind must be one of 'instance', 'cluster'" },
    { event: { action: 'create', kind: 'instance', tiers: ['daily'] }, message: 'identifier must be a non-empty string' },
    { event: { action: 'create', kind: 'instance', identifier: 'arn:aws:rds:us-east-1:123456789012:db:db1', tiers: ['daily'] }, message: 'not an ARN' },
    { event: { action: 'create', kind: 'instance', identifier: 'db1', tiers: [] }, message: 'tiers must be a non-empty array' },
    { event: { action: 'create', kind: 'instance', identifier: 'db1', tiers: ['hourly'] }, message: "tiers[0] must be one of 'daily'" },
    { event: { action: 'create', kind: 'instance', identifier: 'db1', tiers: ['daily'], requestedAt: 'yesterday' }, message: 'requestedAt must be an ISO-8601' },
    { event: { action: 'wait', kind: 'instance', snapshotId: 'bad--id' }, message: 'snapshotId must be an RDS identifier' },
  ])('rejects with a message that says what to change: $message', ({ event, message }) => {
    expect(invalid(event).message).toContain(message);
  });
});
