import { parsePickInput } from '../../../lambda/selection/recovery-pick.handler';
import { parseRecoveryVerifyInput, tablesPresentCheck } from '../../../lambda/restore/recovery-verify.handler';
import { parseScratchEvent, scratchNames } from '../../../lambda/rds/scratch-input';
import { InvalidInput } from '../../../lambda/common/errors';
import { scratchIdentifier } from '../../../lambda/rds/instances';
import { scratchSecretName } from '../../../lambda/aws/secrets';
import { isRdsIdentifier, SCRATCH_ID_PREFIX, SCRATCH_SECRET_PREFIX } from '../../../lambda/common/names';

const EXECUTION = 'arn:aws:states:us-east-1:111111111111:execution:RecoveryTest:run-1';
const scope = { executionId: EXECUTION, executionName: 'run-1' };

describe('scratch handler input', () => {
  it('derives every name from the execution, with the cluster\'s instance next to it', () => {
    const id = scratchIdentifier(EXECUTION, 'run-1');
    expect(scratchNames({ ...scope, resource: 'instance' })).toEqual({
      resource: 'instance',
      identifier: id,
      instanceIdentifier: id,
      secretName: `cdk-backup-dr/scratch/${id}`,
    });
    const cluster = scratchNames({ ...scope, resource: 'cluster' });
    expect(cluster).toEqual({ resource: 'cluster', identifier: id, clusterIdentifier: id, instanceIdentifier: `${id}-1`, secretName: `cdk-backup-dr/scratch/${id}` });
    expect(isRdsIdentifier(cluster.instanceIdentifier, 63)).toBe(true);
  });

  it('accepts each action with its fields', () => {
    expect(parseScratchEvent({ action: 'create', ...scope, resource: 'instance', source: { type: 'empty' } })).toEqual({
      action: 'create',
      ...scope,
      resource: 'instance',
      source: { type: 'empty' },
    });
    expect(
      parseScratchEvent({
        action: 'create',
        ...scope,
        resource: 'cluster',
        source: { type: 'snapshot', snapshotId: 'cdkbdr-prod-20240101000000', masterUsername: 'app', engine: 'aurora-postgresql' },
      }),
    ).toMatchObject({ source: { type: 'snapshot', engine: 'aurora-postgresql' } });
    for (const action of ['wait', 'set-password', 'delete-database', 'delete-secret']) {
      expect(parseScratchEvent({ action, ...scope, resource: 'instance', extra: 'ignored' })).toEqual({ action, ...scope, resource: 'instance' });
    }
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ action: 'drop' }, /action must be one of 'create', 'wait', 'set-password', 'delete-database', 'delete-secret'/],
    [{ executionId: 'run-1' }, /executionId must be a Step Functions execution ARN/],
    [{ executionName: 'x'.repeat(81) }, /executionName must be at most 80 characters/],
    [{ resource: 'table' }, /resource must be one of 'instance', 'cluster'/],
    [{ action: 'create' }, /source must be an object/],
    [{ action: 'create', source: { type: 'empty' }, resource: 'cluster' }, /source.type "empty" needs resource "instance"/],
    [{ action: 'create', source: { type: 'snapshot', snapshotId: 'arn:aws:rds:x', masterUsername: 'a' } }, /source.snapshotId must be a snapshot identifier/],
    [{ action: 'create', source: { type: 'snapshot', snapshotId: 's1', masterUsername: 'a b' } }, /source.masterUsername must be a PostgreSQL master user name/],
    [{ action: 'create', resource: 'cluster', source: { type: 'snapshot', snapshotId: 's1', masterUsername: 'a' } }, /source.engine is required to restore a cluster snapshot/],
  ])('refuses %j before any AWS call', (override, message) => {
    const event = { action: 'wait', ...scope, resource: 'instance', ...override };
    expect(() => parseScratchEvent(event)).toThrow(InvalidInput);
    expect(() => parseScratchEvent(event)).toThrow(message);
  });
});

describe('recovery-pick input', () => {
  it('defaults the selection and checks it against the kind', () => {
    expect(parsePickInput({ kind: 'dump' })).toEqual({ kind: 'dump', selection: { latest: true } });
    expect(parsePickInput({ kind: 'snapshot', selection: { randomWithinDays: 7 } })).toEqual({ kind: 'snapshot', selection: { randomWithinDays: 7 } });
    expect(() => parsePickInput({ kind: 'tape' })).toThrow(/kind must be one of 'dump', 'snapshot'/);
    expect(() => parsePickInput({ kind: 'dump', selection: { snapshotId: 'cdkbdr-x' } })).toThrow(InvalidInput);
  });
});

describe('recovery-verify input', () => {
  const target = { secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cdk-backup-dr/scratch/x-AbCdEf', host: 'h', port: 5432, database: 'app' };
  it('accepts a target with queries and options', () => {
    expect(parseRecoveryVerifyInput({ target, validationQueries: [{ name: 'q', sql: 'SELECT true' }], throwOnFailure: false, queryTimeoutMs: 500 })).toEqual({
      target: { ...target, sslMode: undefined },
      validationQueries: [{ name: 'q', sql: 'SELECT true' }],
      throwOnFailure: false,
      queryTimeoutMs: 500,
    });
  });
  it.each<[Record<string, unknown>, RegExp]>([
    [{ target: { ...target, secretArn: 'nope' } }, /target.secretArn must be a Secrets Manager secret ARN/],
    [{ validationQueries: {} }, /validationQueries must be an array of \{ name, sql \}/],
    [{ validationQueries: [{ name: 'a', sql: 'x' }, { name: 'a', sql: 'y' }] }, /"a" is used twice/],
    [{ throwOnFailure: 'no' }, /throwOnFailure must be true or false/],
    [{ queryTimeoutMs: 0 }, /queryTimeoutMs must be a whole number of milliseconds/],
  ])('refuses %j', (override, message) => {
    expect(() => parseRecoveryVerifyInput({ target, ...override })).toThrow(message);
  });
  it('judges the table check', () => {
    expect(tablesPresentCheck(3)).toEqual({ name: 'tables present', passed: true, actual: 3, detail: '3 user tables' });
    expect(tablesPresentCheck(0)).toMatchObject({ passed: false, detail: expect.stringMatching(/no user tables/) });
  });
});

describe('names the handlers derive, against the one set of name rules (lambda/common/names) the constructs scope IAM to', () => {
  it('a scratch identifier and its secret carry the prefixes and are RDS identifiers', () => {
    const identifier = scratchIdentifier(EXECUTION, 'run-1');
    expect(identifier.startsWith(SCRATCH_ID_PREFIX)).toBe(true);
    expect(isRdsIdentifier(identifier)).toBe(true);
    expect(scratchSecretName(identifier)).toBe(`${SCRATCH_SECRET_PREFIX}${identifier}`);
  });

  it('isRdsIdentifier applies RDS rules: letter first, single hyphens, no trailing hyphen, 63 characters by default', () => {
    const verdicts = ['a', 'a-b', 'a--b', 'a-', '1a', 'A1', 'x'.repeat(63), 'x'.repeat(64)].map((id) => isRdsIdentifier(id));
    expect(verdicts).toEqual([true, true, false, false, false, true, true, false]);
    expect(isRdsIdentifier('x'.repeat(64), 255)).toBe(true);
  });
});
