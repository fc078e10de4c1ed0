import { InvalidInput, RecoveryPointTooOld } from '../../../lambda/common/errors';
import {
  SnapshotFacts,
  checkRestoreWindow,
  datedRecoveryPoint,
  enforceRpo,
  formatSeconds,
  newestUsableSnapshot,
  planSteps,
  plannedNames,
  snapshotDataAsOf,
  snapshotIdTime,
  snapshotUnusable,
} from '../../../lambda/failover/plan';
import { globalMembership, globalMoveDone, usableReplicatedBackups } from '../../../lambda/failover/rds';
import { NOT_OWN_SNAPSHOT } from '../../../lambda/rds/snapshot';

const NOW = new Date('2024-05-01T12:00:00Z');

function snapshot(id: string, overrides: Partial<SnapshotFacts> = {}): SnapshotFacts {
  return {
    kind: 'instance',
    snapshotId: id,
    snapshotArn: `arn:aws:rds:us-west-2:111111111111:snapshot:${id}`,
    status: 'available',
    tags: { 'cdk-backup-dr:creator': 'cdk-backup-dr', 'cdk-backup-dr:tiers': 'daily', 'cdk-backup-dr:source': 'orders-db' },
    sourceIdentifier: 'orders-db',
    snapshotCreateTime: new Date('2024-05-01T03:10:00Z'),
    masterUsername: 'app',
    engine: 'postgres',
    ...overrides,
  };
}

describe('snapshot data age', () => {
  it('reads the time in a cdkbdr- snapshot id', () => {
    expect(snapshotIdTime('cdkbdr-orders-db-20240501030000')).toEqual(new Date('2024-05-01T03:00:00Z'));
    expect(snapshotIdTime('manual-orders-20240501030000')).toBeUndefined();
    expect(snapshotIdTime('cdkbdr-orders-db-20240231030000')).toBeUndefined();
    expect(snapshotIdTime('cdkbdr-orders-db')).toBeUndefined();
  });

  it('takes the earliest of the original creation, the id time and the creation time, so the age is never understated', () => {
    // A copy made at 03:40 of a snapshot taken at 03:05 by the run that started at 03:00.
    const copy = snapshot('cdkbdr-orders-db-20240501030000', { snapshotCreateTime: new Date('2024-05-01T03:40:00Z'), originalCreateTime: new Date('2024-05-01T03:05:00Z') });
    expect(snapshotDataAsOf(copy)).toEqual(new Date('2024-05-01T03:00:00Z'));
    expect(snapshotDataAsOf(snapshot('other', { snapshotCreateTime: new Date('2024-05-01T03:40:00Z'), originalCreateTime: new Date('2024-05-01T03:05:00Z') }))).toEqual(
      new Date('2024-05-01T03:05:00Z'),
    );
    expect(snapshotDataAsOf(snapshot('other', { snapshotCreateTime: undefined }))).toBeUndefined();
  });

  it('uses only available snapshots of this source created by cdk-backup-dr, newest first, and says why others were skipped', () => {
    const at = (time: string) => ({ snapshotCreateTime: new Date(`2024-05-01T${time}Z`) });
    const own = snapshot('cdkbdr-orders-db-20240501030000', at('03:05:00'));
    const newerForeign = snapshot('cdkbdr-orders-db-20240501090000', { ...at('09:05:00'), tags: {} });
    const newerCopying = snapshot('cdkbdr-orders-db-20240501060000', { ...at('06:05:00'), status: 'copying' });
    const otherSource = snapshot('cdkbdr-billing-20240501100000', {
      ...at('10:05:00'),
      tags: { 'cdk-backup-dr:creator': 'cdk-backup-dr', 'cdk-backup-dr:tiers': 'daily', 'cdk-backup-dr:source': 'billing' },
      sourceIdentifier: 'billing',
    });
    const { snapshot: picked, skipped } = newestUsableSnapshot([own, newerForeign, newerCopying, otherSource], 'orders-db');
    expect(picked).toBe(own);
    expect(skipped).toEqual([
      'cdkbdr-billing-20240501100000: a snapshot of billing, not of orders-db',
      `cdkbdr-orders-db-20240501090000: ${NOT_OWN_SNAPSHOT}`,
      'cdkbdr-orders-db-20240501060000: it is "copying", not available',
    ]);
    expect(snapshotUnusable(snapshot('cdkbdr-orders-db-20240501030000', { masterUsername: '' }), 'orders-db')).toBe('RDS reports no master user name for it');
    expect(newestUsableSnapshot([], 'orders-db')).toEqual({ skipped: [] });
  });
});

describe('RPO', () => {
  it('judges a recovery point against the RPO', () => {
    expect(datedRecoveryPoint('dump', 'k', new Date('2024-05-01T02:00:00Z'), 86400, NOW, 'd')).toEqual({
      kind: 'dump',
      id: 'k',
      dataAsOf: '2024-05-01T02:00:00.000Z',
      ageSeconds: 36000,
      rpoSeconds: 86400,
      withinRpo: true,
      detail: 'd',
    });
    expect(datedRecoveryPoint('dump', 'k', new Date('2024-04-29T12:00:00Z'), 86400, NOW, 'd').withinRpo).toBe(false);
  });

  it('refuses an old or unmeasurable recovery point unless data loss is accepted, saying how old and what to pass', () => {
    const old = datedRecoveryPoint('snapshot', 'cdkbdr-x-20240429120000', new Date('2024-04-29T11:00:00Z'), 86400, NOW, 'd');
    expect(() => enforceRpo(old, false)).toThrow(RecoveryPointTooOld);
    expect(() => enforceRpo(old, false)).toThrow(
      'the freshest recovery point (snapshot cdkbdr-x-20240429120000, data as of 2024-04-29T11:00:00.000Z) is 2 d 1 h old, more than the RPO of 1 d; ' +
        'pass acceptDataLoss: true to fail over anyway and lose up to 2 d 1 h of data',
    );
    expect(enforceRpo(old, true)).toBe(old);
    const unknown = { kind: 'replica' as const, id: 'orders-dr', rpoSeconds: 3600, detail: 'the replica is not in recovery' };
    expect(() => enforceRpo(unknown, false)).toThrow(/data age of replica orders-dr cannot be measured \(the replica is not in recovery\), so it may be older than the RPO of 1 h/);
    expect(enforceRpo(unknown, true)).toBe(unknown);
    const fresh = datedRecoveryPoint('dump', 'k', new Date('2024-05-01T11:00:00Z'), 86400, NOW, 'd');
    expect(enforceRpo(fresh, false)).toBe(fresh);
  });

  it('formats durations for people', () => {
    expect(formatSeconds(0)).toBe('0 s');
    expect(formatSeconds(59.6)).toBe('1 min');
    expect(formatSeconds(90061)).toBe('1 d 1 h 1 min 1 s');
    expect(formatSeconds(7200)).toBe('2 h');
  });
});

describe('the plan', () => {
  const scope = { executionId: 'arn:aws:states:us-west-2:111111111111:execution:Failover:drill', executionName: 'drill' };

  it('creates an instance for a dump and an instance snapshot, a cluster for an Aurora snapshot, nothing for a promotion', () => {
    expect(plannedNames(scope, 'restore-dump', 'cluster')?.resource).toBe('instance');
    expect(plannedNames(scope, 'restore-snapshot', 'instance')?.resource).toBe('instance');
    expect(plannedNames(scope, 'restore-snapshot', 'cluster')?.resource).toBe('cluster');
    expect(plannedNames(scope, 'point-in-time', 'cluster')?.resource).toBe('cluster');
    expect(plannedNames(scope, 'point-in-time', 'instance')?.resource).toBe('instance');
    expect(plannedNames(scope, 'promote-replica', 'instance')).toBeUndefined();
  });

  it('says in words what will happen', () => {
    const names = plannedNames(scope, 'restore-snapshot', 'instance');
    const point = datedRecoveryPoint('snapshot', 'cdkbdr-x-20240501030000', new Date('2024-05-01T03:00:00Z'), 86400, NOW, 'd');
    const steps = planSteps({ strategy: 'restore-snapshot', dryRun: true, acceptDataLoss: false, reason: 'r' }, names, point);
    expect(steps[0]).toBe(`restore snapshot cdkbdr-x-20240501030000 (data as of 2024-05-01T03:00:00.000Z) into instance ${names?.identifier} and secret ${names?.secretName}`);
    expect(steps.at(-1)).toMatch(/^dry run: no repoint; delete everything created/);
    const promote = planSteps({ strategy: 'promote-replica', dryRun: false, acceptDataLoss: false, reason: 'r' }, undefined, { ...point, kind: 'replica', id: 'orders-dr' });
    expect(promote[0]).toBe('promote read replica orders-dr to a standalone primary (PromoteReadReplica: irreversible)');
    expect(promote.at(-1)).toMatch(/^repoint the configured SSM parameters, secrets and DNS records/);
    const global = planSteps({ strategy: 'promote-replica', dryRun: false, acceptDataLoss: true, reason: 'r' }, undefined, { ...point, kind: 'global-cluster', id: 'orders-dr' }, {
      kind: 'global-cluster',
      identifier: 'orders-dr',
      globalClusterIdentifier: 'orders-global',
      endpoint: { host: 'h', port: 5432 },
      secretArn: 's',
      status: 'available',
      replication: [],
    });
    expect(global[0]).toBe('fail over global cluster orders-global to orders-dr allowing data loss (FailoverGlobalCluster, AllowDataLoss)');
  });
});

describe('replicated backups and Aurora global membership (pure)', () => {
  it('keeps backups of the source with an ARN and a restore window, newest window first', () => {
    const backups = usableReplicatedBackups(
      [
        { DBInstanceIdentifier: 'orders-db', DBInstanceAutomatedBackupsArn: 'arn:old', RestoreWindow: { LatestTime: new Date('2024-05-01T10:00:00Z') }, Status: 'replicating' },
        { DBInstanceIdentifier: 'orders-db', DBInstanceAutomatedBackupsArn: 'arn:new', RestoreWindow: { EarliestTime: new Date('2024-04-24T10:00:00Z'), LatestTime: new Date('2024-05-01T11:55:00Z') }, MasterUsername: 'app' },
        { DBInstanceIdentifier: 'orders-db', Status: 'active' },
        { DBInstanceIdentifier: 'billing', DBInstanceAutomatedBackupsArn: 'arn:billing', RestoreWindow: { LatestTime: new Date('2024-05-01T11:59:00Z') } },
      ],
      'orders-db',
    );
    expect(backups.map((b) => b.arn)).toEqual(['arn:new', 'arn:old']);
    expect(backups[0]).toMatchObject({ masterUsername: 'app', earliestRestorableTime: new Date('2024-04-24T10:00:00Z'), status: 'unknown' });
  });

  it('knows when a global switchover, failover or detach has finished', () => {
    const global = {
      Status: 'available',
      GlobalClusterMembers: [
        { DBClusterArn: 'arn:primary', IsWriter: false },
        { DBClusterArn: 'arn:dr', IsWriter: true },
      ],
    };
    expect(globalMembership(global, 'arn:dr')).toEqual({ member: true, writer: true, status: 'available' });
    expect(globalMembership(global, 'arn:other')).toEqual({ member: false, writer: false, status: 'available' });
    const cluster = { kind: 'cluster' as const, identifier: 'dr', region: 'us-west-2', status: 'available', pendingChanges: [], tags: {} };
    const facts = { cluster, clusterArn: 'arn:dr', member: true, writer: true };
    expect(globalMoveDone(facts, 'failover')).toBe(true);
    expect(globalMoveDone({ ...facts, failoverState: 'failing-over' }, 'failover')).toBe(false);
    expect(globalMoveDone({ ...facts, cluster: { ...cluster, status: 'modifying' } }, 'switchover')).toBe(false);
    expect(globalMoveDone(facts, 'detach')).toBe(false);
    expect(globalMoveDone({ ...facts, member: false, writer: false }, 'detach')).toBe(true);
  });
});

describe('checkRestoreWindow', () => {
  const window = { earliestRestorableTime: new Date('2026-05-01T00:00:00Z'), latestRestorableTime: new Date('2026-05-08T00:00:00Z') };

  it('accepts a target within the window, bounds included', () => {
    for (const t of ['2026-05-01T00:00:00Z', '2026-05-04T12:00:00Z', '2026-05-08T00:00:00Z']) {
      expect(() => checkRestoreWindow(new Date(t), window, 'Aurora cluster orders')).not.toThrow();
    }
  });

  it('refuses a target after the latest restorable time, naming it and the backups', () => {
    expect(() => checkRestoreWindow(new Date('2026-05-08T00:00:01Z'), window, 'Aurora cluster orders')).toThrow(
      /targetTime 2026-05-08T00:00:01.000Z is after the latest restorable time 2026-05-08T00:00:00.000Z of Aurora cluster orders; pick a targetTime at or before it/,
    );
  });

  it('refuses a target before the earliest restorable time, and checks no lower bound when RDS reports none', () => {
    expect(() => checkRestoreWindow(new Date('2026-04-30T23:59:59Z'), window, 'the replicated backups in us-west-2')).toThrow(InvalidInput);
    expect(() => checkRestoreWindow(new Date('2026-04-30T23:59:59Z'), window, 'the replicated backups in us-west-2')).toThrow(/before the earliest restorable time .* within the retention window/);
    expect(() => checkRestoreWindow(new Date('2020-01-01T00:00:00Z'), { latestRestorableTime: window.latestRestorableTime }, 'x')).not.toThrow();
  });
});
