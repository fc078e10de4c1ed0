import { InvalidInput } from '../../../lambda/common/errors';
import {
  FAILOVER_STRATEGIES,
  type FailoverStrategyName,
  failoverNames,
  parseConfiguredStrategies,
  parseExecutionScope,
  parseFailoverInput,
  parseFailoverRequest,
} from '../../../lambda/failover/request';

const NOW = new Date('2024-05-01T12:00:00Z');
const ALL: readonly FailoverStrategyName[] = FAILOVER_STRATEGIES;

function problems(value: unknown, configured = ALL): string {
  try {
    parseFailoverInput(value, configured, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInput);
    return (error as Error).message;
  }
  throw new Error('the input was accepted');
}

describe('parseFailoverInput', () => {
  it('accepts a rehearsal and applies the defaults', () => {
    expect(parseFailoverInput({ strategy: 'restore-snapshot', dryRun: true, reason: '  quarterly drill ' }, ALL, NOW)).toEqual({
      strategy: 'restore-snapshot',
      dryRun: true,
      acceptDataLoss: false,
      reason: 'quarterly drill',
    });
  });

  it('normalizes targetTime of a point-in-time failover to UTC', () => {
    const request = parseFailoverInput({ strategy: 'point-in-time', targetTime: '2024-05-01T13:30:00+02:00', dryRun: false, acceptDataLoss: true, reason: 'bad migration' }, ALL, NOW);
    expect(request).toEqual({ strategy: 'point-in-time', targetTime: '2024-05-01T11:30:00.000Z', dryRun: false, acceptDataLoss: true, reason: 'bad migration' });
  });

  it('refuses anything but an object, with an example', () => {
    expect(problems('restore-snapshot')).toMatch(/must be a JSON object such as \{ "strategy": "restore-snapshot", "dryRun": true/);
    expect(problems(null)).toMatch(/got null/);
    expect(problems([])).toMatch(/got an array/);
  });

  it('requires dryRun explicitly', () => {
    expect(problems({ strategy: 'restore-dump', reason: 'x' })).toMatch(/dryRun must be given explicitly: true to rehearse .* or false for a real failover; got nothing/);
    expect(problems({ strategy: 'restore-dump', reason: 'x', dryRun: 'yes' })).toMatch(/dryRun must be given explicitly.*got "yes"/);
  });

  it('requires a reason', () => {
    expect(problems({ strategy: 'restore-dump', dryRun: true })).toMatch(/reason must be a non-empty string/);
    expect(problems({ strategy: 'restore-dump', dryRun: true, reason: '   ' })).toMatch(/reason must be a non-empty string/);
    expect(problems({ strategy: 'restore-dump', dryRun: true, reason: 'x'.repeat(1001) })).toMatch(/reason must be at most 1000 characters; got 1001/);
  });

  it('refuses unknown strategies and strategies the construct was not configured with', () => {
    expect(problems({ strategy: 'magic', dryRun: true, reason: 'x' })).toMatch(/strategy must be one of "promote-replica", "restore-snapshot", "restore-dump", "point-in-time"; got "magic"/);
    expect(problems({ strategy: 'promote-replica', dryRun: true, reason: 'x' }, ['restore-snapshot'])).toMatch(
      /strategy "promote-replica" is not configured for this Failover \(configured: "restore-snapshot"\); pick a configured one/,
    );
  });

  it('requires targetTime for point-in-time only, as a zoned ISO time not in the future', () => {
    expect(problems({ strategy: 'point-in-time', dryRun: true, reason: 'x' })).toMatch(/targetTime is required for strategy "point-in-time"/);
    expect(problems({ strategy: 'restore-dump', targetTime: '2024-05-01T10:00:00Z', dryRun: true, reason: 'x' })).toMatch(
      /targetTime is only for strategy "point-in-time"; remove it/,
    );
    expect(problems({ strategy: 'point-in-time', targetTime: '2024-05-01 10:00', dryRun: true, reason: 'x' })).toMatch(/targetTime must be an ISO-8601 time with a zone/);
    expect(problems({ strategy: 'point-in-time', targetTime: '2024-05-01T10:00:00', dryRun: true, reason: 'x' })).toMatch(/with a zone/);
    expect(problems({ strategy: 'point-in-time', targetTime: '2024-05-01T12:05:00Z', dryRun: true, reason: 'x' })).toMatch(/is in the future/);
    // Within the clock-skew allowance.
    expect(parseFailoverInput({ strategy: 'point-in-time', targetTime: '2024-05-01T12:00:30Z', dryRun: true, reason: 'x' }, ALL, NOW).targetTime).toBe('2024-05-01T12:00:30.000Z');
  });

  it('refuses unknown fields (a typo must not silently become a real failover) and reports every problem at once', () => {
    const message = problems({ strategy: 'restore-snapshot', dryrun: true, acceptDataLoss: 'no' });
    expect(message).toMatch(/unknown field\(s\) "dryrun": the input takes only strategy, targetTime, dryRun, acceptDataLoss, reason/);
    expect(message).toMatch(/dryRun must be given explicitly/);
    expect(message).toMatch(/acceptDataLoss must be true or false when given; got "no"/);
    expect(message).toMatch(/reason must be a non-empty string/);
  });
});

describe('parseFailoverRequest, parseConfiguredStrategies, parseExecutionScope', () => {
  it('re-validates a request a later step receives', () => {
    expect(parseFailoverRequest({ strategy: 'restore-dump', dryRun: true, acceptDataLoss: false, reason: 'r' })).toEqual({
      strategy: 'restore-dump',
      dryRun: true,
      acceptDataLoss: false,
      reason: 'r',
    });
    expect(() => parseFailoverRequest({ strategy: 'restore-dump', dryRun: true, reason: 'r' })).toThrow(/request.acceptDataLoss must be true or false/);
  });

  it('reads the configured strategies', () => {
    expect(parseConfiguredStrategies('restore-snapshot, promote-replica')).toEqual(['restore-snapshot', 'promote-replica']);
    expect(() => parseConfiguredStrategies('')).toThrow(/STRATEGIES must list/);
    expect(() => parseConfiguredStrategies('restore-snapshot,teleport')).toThrow(/STRATEGIES must list/);
  });

  it('requires the execution ARN and name', () => {
    const arn = 'arn:aws:states:us-west-2:111111111111:execution:Failover:drill-1';
    expect(parseExecutionScope({ executionId: arn, executionName: 'drill-1' })).toEqual({ executionId: arn, executionName: 'drill-1' });
    expect(() => parseExecutionScope({ executionId: 'drill-1', executionName: 'drill-1' })).toThrow(/executionId must be a Step Functions execution ARN/);
    expect(() => parseExecutionScope({ executionId: arn, executionName: 'x'.repeat(81) })).toThrow(/executionName must be the execution's name/);
  });
});

describe('failoverNames', () => {
  const scope = { executionId: 'arn:aws:states:us-west-2:111111111111:execution:Failover:Region Outage 2024-05-01', executionName: 'Region Outage 2024-05-01' };

  it('derives prefixed, deterministic names from the execution', () => {
    const names = failoverNames(scope, 'instance');
    expect(names.identifier).toMatch(/^cdkbdr-fo-region-outage-2024-0-[0-9a-f]{8}$/);
    expect(names).toEqual({ resource: 'instance', identifier: names.identifier, instanceIdentifier: names.identifier, secretName: `cdk-backup-dr/failover/${names.identifier}` });
    expect(failoverNames(scope, 'instance')).toEqual(names);
    expect(failoverNames({ ...scope, executionId: `${scope.executionId}-2` }, 'instance').identifier).not.toBe(names.identifier);
  });

  it('names an Aurora cluster and its writer', () => {
    const names = failoverNames(scope, 'cluster');
    expect(names.clusterIdentifier).toBe(names.identifier);
    expect(names.instanceIdentifier).toBe(`${names.identifier}-1`);
    expect(names.instanceIdentifier.length).toBeLessThanOrEqual(63);
  });
});

describe('names a failover derives, against the one set of name rules (lambda/common/names) the construct scopes IAM to', () => {
  it('identifiers and secrets carry the failover prefixes; the dry-run tag is the one IAM conditions name', async () => {
    const names = await import('../../../lambda/common/names');
    const { failoverNames, FAILOVER_TAGS } = await import('../../../lambda/failover/request');
    const scope = { executionId: 'arn:aws:states:us-west-2:111111111111:execution:Failover:drill-1', executionName: 'drill-1' };
    const cluster = failoverNames(scope, 'cluster');
    expect(cluster.identifier.startsWith(names.FAILOVER_ID_PREFIX)).toBe(true);
    expect(names.isRdsIdentifier(cluster.identifier)).toBe(true);
    expect(cluster.secretName).toBe(`${names.FAILOVER_SECRET_PREFIX}${cluster.identifier}`);
    expect(FAILOVER_TAGS.dryRun).toBe(names.DRY_RUN_TAG);
  });
});
