import {
  MAX_SNAPSHOT_ID_LENGTH,
  SNAPSHOT_TAGS,
  compactUtcTimestamp,
  isOwnSnapshot,
  parseRdsArn,
  parseTierTag,
  snapshotDecision,
  snapshotIdentifier,
  snapshotTags,
  tagRecord,
  tierTagValue,
} from '../../../lambda/rds/snapshot';
import { resourceTags } from '../../../lambda/rds/instances';
import { isRdsIdentifier } from '../../../lambda/common/names';

const AT = new Date('2024-01-31T02:03:04.567Z');

/** RDS's documented rule for tag keys and values (Java regex ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$). */
const RDS_TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

describe('snapshotIdentifier', () => {
  test('is cdkbdr-<identifier>-<yyyymmddhhmmss> in UTC, lowercase', () => {
    expect(snapshotIdentifier('instance', 'Prod-DB1', AT)).toBe('cdkbdr-prod-db1-20240131020304');
    expect(snapshotIdentifier('cluster', 'aurora-main', AT)).toBe('cdkbdr-aurora-main-20240131020304');
  });

  test('is deterministic, and differs by second and by source', () => {
    expect(snapshotIdentifier('instance', 'db1', AT)).toBe(snapshotIdentifier('instance', 'db1', new Date(AT)));
    expect(snapshotIdentifier('instance', 'db1', new Date(AT.getTime() + 1000))).not.toBe(snapshotIdentifier('instance', 'db1', AT));
    expect(snapshotIdentifier('instance', 'db2', AT)).not.toBe(snapshotIdentifier('instance', 'db1', AT));
  });

  test('keeps a 63-character instance identifier whole (DB snapshot ids may have 255 characters)', () => {
    const id = `a${'b'.repeat(62)}`;
    const snapshotId = snapshotIdentifier('instance', id, AT);
    expect(snapshotId).toBe(`cdkbdr-${id}-20240131020304`);
    expect(isRdsIdentifier(snapshotId, MAX_SNAPSHOT_ID_LENGTH.instance)).toBe(true);
  });

  test('shortens long cluster identifiers to 63 characters with a hash that keeps them apart', () => {
    const a = `orders-${'x'.repeat(50)}-a`;
    const b = `orders-${'x'.repeat(50)}-b`;
    const idA = snapshotIdentifier('cluster', a, AT);
    const idB = snapshotIdentifier('cluster', b, AT);
    expect(idA.length).toBeLessThanOrEqual(63);
    expect(idB.length).toBeLessThanOrEqual(63);
    expect(idA).not.toBe(idB);
    expect(idA).toMatch(/^cdkbdr-orders-x+-[0-9a-f]{8}-20240131020304$/);
    expect(isRdsIdentifier(idA, MAX_SNAPSHOT_ID_LENGTH.cluster)).toBe(true);
  });

  test('a shortened identifier never ends its source part with a hyphen (no double hyphen)', () => {
    // The cut falls right after a hyphen in the source.
    for (let n = 25; n < 45; n++) {
      const id = `${'a'.repeat(n)}-${'b'.repeat(30)}`;
      const snapshotId = snapshotIdentifier('cluster', id, AT);
      expect(isRdsIdentifier(snapshotId, 63)).toBe(true);
    }
  });

  test('compactUtcTimestamp drops separators and milliseconds', () => {
    expect(compactUtcTimestamp(new Date('1999-12-31T23:59:59.999Z'))).toBe('19991231235959');
  });
});

describe('isRdsIdentifier', () => {
  test.each([
    ['db1', true],
    ['a', true],
    ['A-b-C', true],
    ['1db', false],
    ['db-', false],
    ['db--1', false],
    ['db_1', false],
    ['', false],
    ['arn:aws:rds:us-east-1:123456789012:db:db1', false],
  ])('%s → %s', (id, valid) => {
    expect(isRdsIdentifier(id, 63)).toBe(valid);
  });

  test('enforces the length limit', () => {
    expect(isRdsIdentifier('a'.repeat(63), 63)).toBe(true);
    expect(isRdsIdentifier('a'.repeat(64), 63)).toBe(false);
  });
});

describe('tags', () => {
  test('tiers are joined with + in canonical order, and read back', () => {
    expect(tierTagValue(['weekly', 'daily'])).toBe('daily+weekly');
    expect(tierTagValue(['yearly', 'monthly', 'weekly', 'daily'])).toBe('daily+weekly+monthly+yearly');
    expect(parseTierTag('daily+weekly')).toEqual(['daily', 'weekly']);
    expect(parseTierTag('weekly+bogus+daily')).toEqual(['daily', 'weekly']);
    expect(parseTierTag(undefined)).toEqual([]);
  });

  test('a snapshot gets creator, tiers and source tags; a copy also gets copied-from', () => {
    const tags = snapshotTags({ sourceIdentifier: 'db1', tiers: ['daily', 'monthly'] });
    expect(tagRecord(tags)).toEqual({
      'cdk-backup-dr:creator': 'cdk-backup-dr',
      'cdk-backup-dr:tiers': 'daily+monthly',
      'cdk-backup-dr:source': 'db1',
    });
    const arn = 'arn:aws:rds:us-east-1:123456789012:snapshot:cdkbdr-db1-20240131020304';
    const copyTags = tagRecord(snapshotTags({ sourceIdentifier: 'db1', tiers: ['daily'], copiedFrom: arn }));
    expect(copyTags[SNAPSHOT_TAGS.copiedFrom]).toBe(arn);
    expect(isOwnSnapshot(copyTags)).toBe(true);
  });

  test('every key and value uses only characters RDS accepts in tags, within the length limits', () => {
    const arn = 'arn:aws:rds:us-east-1:123456789012:cluster-snapshot:cdkbdr-aurora-1-20240131020304';
    for (const tag of snapshotTags({ sourceIdentifier: 'aurora-1', tiers: ['daily', 'weekly', 'monthly', 'yearly'], copiedFrom: arn })) {
      expect(tag.Key).toMatch(RDS_TAG_CHARS);
      expect(tag.Value).toMatch(RDS_TAG_CHARS);
      expect(tag.Key.length).toBeLessThanOrEqual(128);
      expect(tag.Value.length).toBeLessThanOrEqual(256);
      expect(tag.Key).not.toMatch(/^(aws|rds):/);
    }
  });

  test('isOwnSnapshot needs the creator tag with its exact value, and the tiers and source tags', () => {
    expect(isOwnSnapshot({})).toBe(false);
    const own = tagRecord(snapshotTags({ sourceIdentifier: 'db1', tiers: ['daily'] }));
    expect(isOwnSnapshot(own)).toBe(true);
    expect(isOwnSnapshot({ ...own, 'cdk-backup-dr:creator': 'someone-else' })).toBe(false);
    for (const key of [SNAPSHOT_TAGS.tiers, SNAPSHOT_TAGS.source]) {
      const without = { ...own };
      delete without[key];
      expect(isOwnSnapshot(without)).toBe(false);
    }
  });

  test('a snapshot carrying the tags of an instance this package created is not its own', () => {
    // What CopyTagsToSnapshot would put on an operator's snapshot of a failover's new primary.
    const instanceTags = tagRecord(resourceTags({ purpose: 'failover', executionId: 'arn:aws:states:us-east-1:123456789012:execution:Failover:x' }));
    expect(instanceTags['cdk-backup-dr:creator']).toBe('cdk-backup-dr');
    expect(isOwnSnapshot(instanceTags)).toBe(false);
  });

  test('tagRecord keeps keyed tags only', () => {
    expect(tagRecord([{ Key: 'a', Value: 'b' }, { Value: 'no key' }, { Key: 'empty' }])).toEqual({ a: 'b', empty: '' });
  });
});

describe('snapshotDecision (what `wait` does with a status)', () => {
  test.each([
    ['available', 'ready'],
    ['AVAILABLE', 'ready'],
    ['creating', 'pending'],
    ['copying', 'pending'],
    ['pending', 'pending'],
    ['modifying', 'pending'],
    ['upgrading', 'pending'],
    [undefined, 'pending'],
    ['failed', 'failed'],
    ['deleting', 'failed'],
    ['deleted', 'failed'],
    ['incompatible-restore', 'failed'],
    ['something-new', 'failed'],
  ] as const)('%s → %s', (status, decision) => {
    expect(snapshotDecision(status)).toBe(decision);
  });
});

describe('parseRdsArn', () => {
  test('reads the parts of snapshot and cluster snapshot ARNs', () => {
    expect(parseRdsArn('arn:aws:rds:eu-west-1:123456789012:snapshot:cdkbdr-db1-20240131020304')).toEqual({
      partition: 'aws',
      region: 'eu-west-1',
      account: '123456789012',
      resourceType: 'snapshot',
      resourceName: 'cdkbdr-db1-20240131020304',
    });
    expect(parseRdsArn('arn:aws-cn:rds:cn-north-1:123456789012:cluster-snapshot:x')?.resourceType).toBe('cluster-snapshot');
  });

  test('rejects what is not an RDS ARN', () => {
    expect(parseRdsArn('cdkbdr-db1-20240131020304')).toBeUndefined();
    expect(parseRdsArn('arn:aws:s3:::bucket')).toBeUndefined();
    expect(parseRdsArn('arn:aws:rds:us-east-1:12345:snapshot:x')).toBeUndefined();
  });
});
