import {
  dbResourceDecision,
  executionScopedIdentifier,
  generatePassword,
  instanceState,
  clusterState,
  executionTag,
  isCreatedBy,
  newInstanceSettings,
  resourceTags,
  scratchIdentifier,
  RESOURCE_TAGS,
} from '../../../lambda/rds/instances';
import { tagRecord } from '../../../lambda/rds/snapshot';
import { isRdsIdentifier, SCRATCH_ID_PREFIX } from '../../../lambda/common/names';

const arn = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:RecoveryTest:${name}`;

describe('scratchIdentifier', () => {
  it('is the fixed prefix, the cleaned execution name and a hash of the execution ARN', () => {
    const id = scratchIdentifier(arn('Weekly_Run 2024-05-01'), 'Weekly_Run 2024-05-01');
    expect(id).toMatch(/^cdkbdr-rt-weekly-run-2024-05-0-[0-9a-f]{8}$/);
    expect(isRdsIdentifier(id, 63)).toBe(true);
  });

  it('is stable for one execution and differs between executions with the same name prefix', () => {
    const a = scratchIdentifier(arn('nightly-recovery-test-000000001'), 'nightly-recovery-test-000000001');
    expect(scratchIdentifier(arn('nightly-recovery-test-000000001'), 'nightly-recovery-test-000000001')).toBe(a);
    const b = scratchIdentifier(arn('nightly-recovery-test-000000002'), 'nightly-recovery-test-000000002');
    expect(b).not.toBe(a);
    expect(a.slice(0, -9)).toBe(b.slice(0, -9));
  });

  it('stays a valid RDS identifier for names that are all symbols, start with digits or are 80 characters long', () => {
    for (const name of ['!!!---***', '0123456789', 'x'.repeat(80), 'a--b', '-leading', 'UUID-5f0c2f8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f']) {
      const id = scratchIdentifier(arn(name), name);
      expect(id.startsWith(SCRATCH_ID_PREFIX)).toBe(true);
      expect(isRdsIdentifier(id, 63)).toBe(true);
      expect(id.length).toBeLessThanOrEqual(39);
    }
    expect(scratchIdentifier(arn('***'), '***')).toMatch(/^cdkbdr-rt-[0-9a-f]{8}$/);
  });

  it('refuses prefixes RDS would not accept', () => {
    expect(() => executionScopedIdentifier('1abc-', 'id', 'n')).toThrow(/prefix must be/);
    expect(() => executionScopedIdentifier('abc', 'id', 'n')).toThrow(/end with "-"/);
    expect(() => executionScopedIdentifier('a--b-', 'id', 'n')).toThrow(/prefix must be/);
    expect(() => executionScopedIdentifier('cdkbdr-dr-', 'id', 'n', 12)).toThrow(/no room/);
  });
});

describe('resource tags', () => {
  it('carry creator, purpose and execution, and recognise only the same execution', () => {
    const tags = resourceTags({ purpose: 'recovery-test', executionId: arn('a'), extra: { 'cdk-backup-dr:source': 'db1' } });
    const record = tagRecord(tags);
    expect(record).toEqual({
      [RESOURCE_TAGS.creator]: 'cdk-backup-dr',
      [RESOURCE_TAGS.purpose]: 'recovery-test',
      [RESOURCE_TAGS.execution]: arn('a'),
      'cdk-backup-dr:source': 'db1',
    });
    expect(isCreatedBy(record, arn('a'))).toBe(true);
    expect(isCreatedBy(record, arn('b'))).toBe(false);
    expect(isCreatedBy({ ...record, [RESOURCE_TAGS.creator]: 'someone' }, arn('a'))).toBe(false);
  });

  it('cut values to the 256 characters RDS allows, consistently with isCreatedBy', () => {
    const long = arn('x'.repeat(300));
    const record = tagRecord(resourceTags({ purpose: 'p', executionId: long }));
    expect(record[RESOURCE_TAGS.execution]).toHaveLength(256);
    expect(isCreatedBy(record, long)).toBe(true);
  });
});

describe('executionTag', () => {
  it('is the tag that names the execution, and a list without one is a programming error', () => {
    const tags = resourceTags({ purpose: 'failover', executionId: arn('a'), extra: { 'cdk-backup-dr:dry-run': 'true' } });
    expect(executionTag(tags)).toEqual({ Key: RESOURCE_TAGS.execution, Value: arn('a') });
    expect(() => executionTag(tags.filter((t) => t.Key !== RESOURCE_TAGS.execution))).toThrow(/resourceTags wrote no cdk-backup-dr:execution tag/);
  });
});

describe('newInstanceSettings', () => {
  it('places the instance privately, single-AZ, without automatic minor upgrades or tag copies to snapshots, protected only when asked', () => {
    const tags = resourceTags({ purpose: 'recovery-test', executionId: arn('a') });
    const settings = newInstanceSettings({ subnetGroupName: 'isolated', securityGroupIds: ['sg-1', 'sg-2'], tags });
    expect(settings).toEqual({
      DBSubnetGroupName: 'isolated',
      VpcSecurityGroupIds: ['sg-1', 'sg-2'],
      PubliclyAccessible: false,
      MultiAZ: false,
      DeletionProtection: false,
      AutoMinorVersionUpgrade: false,
      Tags: tags,
      CopyTagsToSnapshot: false,
    });
    expect(newInstanceSettings({ subnetGroupName: 'isolated', securityGroupIds: ['sg-1'], tags, deletionProtection: true }).DeletionProtection).toBe(true);
  });
});

describe('dbResourceDecision', () => {
  it.each([
    ['available', 'ready'],
    ['Available', 'ready'],
    ['creating', 'pending'],
    ['backing-up', 'pending'],
    ['modifying', 'pending'],
    ['resetting-master-credentials', 'pending'],
    [undefined, 'pending'],
    ['', 'pending'],
    ['failed', 'failed'],
    ['incompatible-restore', 'failed'],
    ['incompatible-parameters', 'failed'],
    ['storage-full', 'failed'],
    ['deleting', 'failed'],
    ['stopped', 'failed'],
  ])('%s → %s', (status, decision) => {
    expect(dbResourceDecision(status)).toBe(decision);
  });
});

describe('generatePassword', () => {
  it('draws letters and digits only, of the asked length, differently each time', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generatePassword(40)).toHaveLength(40);
    expect(generatePassword()).not.toBe(a);
    expect(() => generatePassword(8)).toThrow(RangeError);
  });
});

describe('instanceState / clusterState', () => {
  it('read the endpoint, status and tags, falling back to the tags sent when the response has none', () => {
    const sent = resourceTags({ purpose: 'recovery-test', executionId: arn('a') });
    const state = instanceState('us-east-1', {
      DBInstanceIdentifier: 'cdkbdr-rt-a',
      DBInstanceStatus: 'Creating',
      Endpoint: { Address: 'cdkbdr-rt-a.xyz.us-east-1.rds.amazonaws.com', Port: 5433 },
      Engine: 'postgres',
      EngineVersion: '15.8',
    }, sent);
    expect(state).toMatchObject({
      kind: 'instance',
      status: 'creating',
      endpoint: { host: 'cdkbdr-rt-a.xyz.us-east-1.rds.amazonaws.com', port: 5433 },
      engineVersion: '15.8',
    });
    expect(isCreatedBy(state.tags, arn('a'))).toBe(true);
    expect(instanceState('us-east-1', { DBInstanceIdentifier: 'x', DBInstanceStatus: 'creating' }).endpoint).toBeUndefined();
    expect(clusterState('us-east-1', { DBClusterIdentifier: 'c', Status: 'available', Endpoint: 'c.cluster-xyz', Port: 5432 })).toMatchObject({
      kind: 'cluster',
      endpoint: { host: 'c.cluster-xyz', port: 5432 },
    });
  });
});
