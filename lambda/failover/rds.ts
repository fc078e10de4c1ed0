/**
 * The RDS calls of a failover that lambda/rds/instances does not cover: finding recovery points in the DR region
 * (snapshot copies, replicated automated backups, the read replica, an Aurora global secondary), restoring to a
 * point in time (an instance from replicated backups, an Aurora cluster in its own region), promoting a read replica, and failing over / detaching an Aurora global database.
 *
 * Every function takes the region explicitly and uses the per-region clients of lambda/rds/client. Calls that change something
 * are safe to retry: a restore that finds its identifier taken by the same execution returns that resource, a
 * promotion of an instance that is no longer a replica reports `already-promoted`.
 */
import {
  DBInstanceAutomatedBackup,
  DescribeDBClustersCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSubnetGroupsCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  GlobalCluster,
  PromoteReadReplicaCommand,
  RemoveFromGlobalClusterCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { ReplicaNotFound } from '../common/errors';
import { SnapshotFacts } from './plan';
import {
  DbEndpoint,
  DbPlacement,
  DbResourceState,
  InstanceConfiguration,
  NO_TAG_COPY,
  clusterState,
  findDbCluster,
  findDbInstance,
  instanceState,
  newInstanceSettings,
  startOrResume,
} from '../rds/instances';
import { isInvalidState, isNotFound, listSnapshots, rdsClient } from '../rds/client';
import { RdsTag } from '../rds/snapshot';

/** The DR region answered a describe call; how long it took. */
export interface RegionCheck {
  readonly call: string;
  readonly milliseconds: number;
}

/** What the region check describes: the subnet group a restore uses, else the replica to promote. */
export interface RegionCheckTarget {
  readonly subnetGroupName?: string;
  readonly instanceIdentifier?: string;
  readonly clusterIdentifier?: string;
}

/**
 * The cheapest proof that the DR region's RDS API answers: DescribeDBSubnetGroups of the subnet group a restore
 * would use (which also proves it exists), else DescribeDBInstances / DescribeDBClusters of the replica (a "not found"
 * is an answer too: the preflight reports the missing replica itself). Always a named resource, so IAM stays scoped.
 *
 * @throws the SDK error as it comes (the caller turns it into DrRegionUnavailable)
 */
export async function checkRegionAnswers(region: string, target: RegionCheckTarget): Promise<RegionCheck> {
  const started = Date.now();
  const done = (call: string): RegionCheck => ({ call, milliseconds: Date.now() - started });
  if (target.subnetGroupName !== undefined) {
    await rdsClient(region).send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: target.subnetGroupName }));
    return done(`DescribeDBSubnetGroups(${target.subnetGroupName})`);
  }
  try {
    if (target.instanceIdentifier !== undefined) {
      await rdsClient(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: target.instanceIdentifier }));
      return done(`DescribeDBInstances(${target.instanceIdentifier})`);
    }
    if (target.clusterIdentifier !== undefined) {
      await rdsClient(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: target.clusterIdentifier }));
      return done(`DescribeDBClusters(${target.clusterIdentifier})`);
    }
  } catch (error) {
    if (isNotFound(error)) return done(`${target.instanceIdentifier !== undefined ? 'DescribeDBInstances' : 'DescribeDBClusters'} (answered: not found)`);
    throw error;
  }
  throw new Error('checkRegionAnswers needs a subnet group, an instance or a cluster to describe');
}

/**
 * The manual snapshots of `sourceIdentifier` in `region` (the DR copies keep the source's identifier), all pages.
 */
export async function listSnapshotsOf(region: string, kind: 'instance' | 'cluster', sourceIdentifier: string): Promise<SnapshotFacts[]> {
  return listSnapshots(region, kind, { sourceIdentifier });
}

/** A read replica (or a promoted one) as the preflight and the act step see it. */
export interface ReplicaFacts {
  readonly state: DbResourceState;
  /** `ReadReplicaSourceDBInstanceIdentifier`: set while the instance replicates from a source. */
  readonly replicatesFrom?: string;
  /** `StatusInfos` of type `read replication`, e.g. `replicating (normal)`, `error (abnormal): …`. */
  readonly replication: readonly string[];
  /** Whether a StatusInfo says replication is broken (`Normal: false`, or status error / stopped / terminated). */
  readonly replicationBroken: boolean;
}

/** Describes the read replica `identifier` in `region`; undefined when it does not exist. */
export async function describeReplica(region: string, identifier: string): Promise<ReplicaFacts | undefined> {
  const found = await findDbInstance(region, identifier);
  if (!found) return undefined;
  const infos = (found.StatusInfos ?? []).filter((i) => (i.StatusType ?? '').toLowerCase() === 'read replication');
  const replication = infos.map((i) => `${i.Status ?? 'unknown'} (${i.Normal === false ? 'abnormal' : 'normal'})${i.Message ? `: ${i.Message}` : ''}`);
  const replicationBroken = infos.some((i) => i.Normal === false || ['error', 'stopped', 'terminated'].includes((i.Status ?? '').toLowerCase()));
  return {
    state: instanceState(region, found),
    ...(found.ReadReplicaSourceDBInstanceIdentifier ? { replicatesFrom: found.ReadReplicaSourceDBInstanceIdentifier } : {}),
    replication,
    replicationBroken,
  };
}

/** An Aurora global database member as the failover sees it. */
export interface GlobalMemberFacts {
  readonly cluster: DbResourceState;
  readonly clusterArn: string;
  /** The cluster's reader endpoint: where a secondary serves reads before it is promoted. */
  readonly readerEndpoint?: DbEndpoint;
  /** Whether the cluster is (still) a member of the global cluster. */
  readonly member: boolean;
  /** Whether it is the global cluster's writer (primary). */
  readonly writer: boolean;
  /** The global cluster's failover/switchover state, when one is under way (`pending`, `failing-over`, …). */
  readonly failoverState?: string;
  readonly globalStatus?: string;
}

/** Membership of `cluster` (ARN) in `global`. Pure. */
export function globalMembership(global: GlobalCluster | undefined, clusterArn: string): { member: boolean; writer: boolean; failoverState?: string; status?: string } {
  const member = global?.GlobalClusterMembers?.find((m) => m.DBClusterArn === clusterArn);
  return {
    member: member !== undefined,
    writer: member?.IsWriter === true,
    ...(global?.FailoverState?.Status ? { failoverState: global.FailoverState.Status.toLowerCase() } : {}),
    ...(global?.Status ? { status: global.Status.toLowerCase() } : {}),
  };
}

/** Describes an Aurora global secondary in `region` and its membership; undefined when the cluster does not exist. */
export async function describeGlobalMember(region: string, globalClusterIdentifier: string, clusterIdentifier: string): Promise<GlobalMemberFacts | undefined> {
  const cluster = await findDbCluster(region, clusterIdentifier);
  if (!cluster) return undefined;
  const clusterArn = cluster.DBClusterArn ?? '';
  let global: GlobalCluster | undefined;
  try {
    const out = await rdsClient(region).send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalClusterIdentifier }));
    global = out.GlobalClusters?.[0];
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const membership = globalMembership(global, clusterArn);
  return {
    cluster: clusterState(region, cluster),
    clusterArn,
    ...(cluster.ReaderEndpoint ? { readerEndpoint: { host: cluster.ReaderEndpoint, port: cluster.Port ?? 5432 } } : {}),
    member: membership.member,
    writer: membership.writer,
    ...(membership.failoverState !== undefined ? { failoverState: membership.failoverState } : {}),
    ...(membership.status !== undefined ? { globalStatus: membership.status } : {}),
  };
}

/** Replicated automated backups of the source instance in the DR region. */
export interface ReplicatedBackups {
  readonly arn: string;
  readonly status: string;
  readonly earliestRestorableTime?: Date;
  readonly latestRestorableTime: Date;
  readonly masterUsername?: string;
  readonly engine?: string;
  readonly sourceRegion?: string;
}

/** The usable replicated backups among `backups` (pure): with an ARN and a restore window, newest window first. */
export function usableReplicatedBackups(backups: readonly DBInstanceAutomatedBackup[], sourceIdentifier: string): ReplicatedBackups[] {
  return backups
    .filter((b) => (b.DBInstanceIdentifier ?? '').toLowerCase() === sourceIdentifier.toLowerCase())
    .filter((b) => b.DBInstanceAutomatedBackupsArn !== undefined && b.RestoreWindow?.LatestTime !== undefined)
    .map((b) => ({
      arn: b.DBInstanceAutomatedBackupsArn as string,
      status: (b.Status ?? 'unknown').toLowerCase(),
      ...(b.RestoreWindow?.EarliestTime ? { earliestRestorableTime: new Date(b.RestoreWindow.EarliestTime) } : {}),
      latestRestorableTime: new Date(b.RestoreWindow?.LatestTime as Date),
      ...(b.MasterUsername ? { masterUsername: b.MasterUsername } : {}),
      ...(b.Engine ? { engine: b.Engine } : {}),
      ...(b.Region ? { sourceRegion: b.Region } : {}),
    }))
    .sort((a, b) => b.latestRestorableTime.getTime() - a.latestRestorableTime.getTime());
}

/**
 * The automated backups of `sourceIdentifier` replicated into `region` (cross-region automated backup replication
 * must be turned on for the source instance), newest restore window first; empty when there are none.
 */
export async function findReplicatedBackups(region: string, sourceIdentifier: string): Promise<ReplicatedBackups[]> {
  const all: DBInstanceAutomatedBackup[] = [];
  let marker: string | undefined;
  do {
    const page = await rdsClient(region).send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: sourceIdentifier, Marker: marker }));
    all.push(...(page.DBInstanceAutomatedBackups ?? []));
    marker = page.Marker;
  } while (marker !== undefined && marker !== '');
  return usableReplicatedBackups(all, sourceIdentifier);
}

/** Options of {@link restoreDbInstanceToPointInTime}. */
export interface PointInTimeRestoreOptions extends DbPlacement, InstanceConfiguration {
  readonly identifier: string;
  /** ARN of the (replicated) automated backups to restore from. */
  readonly automatedBackupsArn: string;
  /** The moment to restore to. */
  readonly restoreTime: Date;
  /** @default - the source's instance class */
  readonly instanceClass?: string;
  readonly tags: readonly RdsTag[];
  /** @default false */
  readonly deletionProtection?: boolean;
}

/**
 * Restores a new DB instance from replicated automated backups to a point in time, not publicly accessible. Returns
 * at once (status `creating`); a retry that finds the identifier taken by the same execution returns that instance.
 */
export async function restoreDbInstanceToPointInTime(region: string, options: PointInTimeRestoreOptions): Promise<DbResourceState> {
  return startOrResume(region, 'instance', options, async () => {
    const out = await rdsClient(region).send(
      new RestoreDBInstanceToPointInTimeCommand({
        SourceDBInstanceAutomatedBackupsArn: options.automatedBackupsArn,
        TargetDBInstanceIdentifier: options.identifier,
        RestoreTime: options.restoreTime,
        ...(options.instanceClass !== undefined ? { DBInstanceClass: options.instanceClass } : {}),
        ...newInstanceSettings(options),
      }),
    );
    if (!out.DBInstance) throw new Error('RestoreDBInstanceToPointInTime returned no instance');
    return instanceState(region, out.DBInstance, options.tags);
  });
}

/** An Aurora cluster's own restore window (continuous backups), as RestoreDBClusterToPointInTime sees it. */
export interface ClusterRestoreWindow {
  readonly clusterArn: string;
  readonly engine: string;
  readonly earliestRestorableTime?: Date;
  readonly latestRestorableTime: Date;
  readonly masterUsername?: string;
}

/**
 * The restore window of the Aurora cluster `identifier` in `region`; undefined when the cluster does not exist or
 * RDS reports no latest restorable time (backups not started yet).
 */
export async function clusterRestoreWindow(region: string, identifier: string): Promise<ClusterRestoreWindow | undefined> {
  const cluster = await findDbCluster(region, identifier);
  if (!cluster?.DBClusterArn || !cluster.LatestRestorableTime) return undefined;
  return {
    clusterArn: cluster.DBClusterArn,
    engine: cluster.Engine ?? 'aurora-postgresql',
    ...(cluster.EarliestRestorableTime ? { earliestRestorableTime: new Date(cluster.EarliestRestorableTime) } : {}),
    latestRestorableTime: new Date(cluster.LatestRestorableTime),
    ...(cluster.MasterUsername ? { masterUsername: cluster.MasterUsername } : {}),
  };
}

/** Options of {@link restoreDbClusterToPointInTime}. */
export interface ClusterPointInTimeRestoreOptions extends DbPlacement {
  readonly identifier: string;
  /** The cluster whose continuous backups are restored (same region). */
  readonly sourceClusterIdentifier: string;
  /** The moment to restore to. */
  readonly restoreTime: Date;
  readonly tags: readonly RdsTag[];
  /** @default false */
  readonly deletionProtection?: boolean;
  /** @default - the source cluster's key */
  readonly kmsKeyId?: string;
}

/**
 * Restores a new Aurora cluster (without instances: add a writer with createClusterInstance) from the continuous
 * backups of a cluster in the same region, to a point in time. Returns at once; a retry that finds the identifier
 * taken by the same execution returns that cluster.
 */
export async function restoreDbClusterToPointInTime(region: string, options: ClusterPointInTimeRestoreOptions): Promise<DbResourceState> {
  return startOrResume(region, 'cluster', options, async () => {
    const out = await rdsClient(region).send(
      new RestoreDBClusterToPointInTimeCommand({
        DBClusterIdentifier: options.identifier,
        SourceDBClusterIdentifier: options.sourceClusterIdentifier,
        RestoreToTime: options.restoreTime,
        RestoreType: 'full-copy',
        DBSubnetGroupName: options.subnetGroupName,
        VpcSecurityGroupIds: [...options.securityGroupIds],
        DeletionProtection: options.deletionProtection ?? false,
        ...(options.kmsKeyId !== undefined ? { KmsKeyId: options.kmsKeyId } : {}),
        Tags: [...options.tags],
        ...NO_TAG_COPY,
      }),
    );
    if (!out.DBCluster) throw new Error('RestoreDBClusterToPointInTime returned no cluster');
    return clusterState(region, out.DBCluster, options.tags);
  });
}

/** What {@link promoteReadReplica} did. */
export interface PromotionStarted {
  readonly identifier: string;
  /** `promoting`: PromoteReadReplica was accepted now; `already-promoted`: the instance is no longer a replica. */
  readonly outcome: 'promoting' | 'already-promoted';
  readonly status: string;
}

/**
 * Promotes a read replica to a standalone instance (irreversible) with `backupRetentionDays` of automated backups.
 * An instance that is no longer a replica (a retried step) is `already-promoted`.
 *
 * @throws ReplicaNotFound when the instance does not exist
 */
export async function promoteReadReplica(region: string, identifier: string, backupRetentionDays: number): Promise<PromotionStarted> {
  const before = await describeReplica(region, identifier);
  if (!before) throw new ReplicaNotFound(`read replica ${identifier} does not exist in ${region}`);
  if (before.replicatesFrom === undefined) return { identifier, outcome: 'already-promoted', status: before.state.status };
  try {
    const out = await rdsClient(region).send(
      new PromoteReadReplicaCommand({ DBInstanceIdentifier: identifier, BackupRetentionPeriod: backupRetentionDays }),
    );
    return { identifier, outcome: 'promoting', status: (out.DBInstance?.DBInstanceStatus ?? 'unknown').toLowerCase() };
  } catch (error) {
    // A promotion that a previous attempt started leaves the instance "modifying" and no longer a replica.
    if (isInvalidState(error)) {
      const now = await describeReplica(region, identifier);
      if (now && now.replicatesFrom === undefined) return { identifier, outcome: 'already-promoted', status: now.state.status };
    }
    throw error;
  }
}

/** How an Aurora global database is moved to the DR region. */
export type GlobalClusterAction = 'switchover' | 'failover' | 'detach';

/** What {@link moveGlobalCluster} did. */
export interface GlobalMoveStarted {
  readonly action: GlobalClusterAction;
  /** `started`: the call was accepted now; `already-done`: the secondary already is the writer / detached. */
  readonly outcome: 'started' | 'already-done';
  readonly clusterIdentifier: string;
}

/**
 * Makes the Aurora global secondary `clusterIdentifier` (in `region`) writable:
 * - `switchover`: FailoverGlobalCluster without data loss (needs the primary region; the old primary becomes a
 *   secondary);
 * - `failover`: FailoverGlobalCluster with `AllowDataLoss` (the primary region is lost; unreplicated writes are lost);
 * - `detach`: RemoveFromGlobalCluster (the secondary becomes a standalone cluster; the global database keeps the rest).
 * A secondary that already is the writer (switchover/failover) or no longer a member (detach) is `already-done`.
 *
 * @throws ReplicaNotFound when the cluster does not exist
 */
export async function moveGlobalCluster(
  region: string,
  globalClusterIdentifier: string,
  clusterIdentifier: string,
  action: GlobalClusterAction,
): Promise<GlobalMoveStarted> {
  const facts = await describeGlobalMember(region, globalClusterIdentifier, clusterIdentifier);
  if (!facts) throw new ReplicaNotFound(`Aurora cluster ${clusterIdentifier} does not exist in ${region}`);
  const done = action === 'detach' ? !facts.member : facts.writer;
  if (done) return { action, outcome: 'already-done', clusterIdentifier };
  if (!facts.member) {
    throw new ReplicaNotFound(`Aurora cluster ${clusterIdentifier} is not a member of global cluster ${globalClusterIdentifier}; nothing to fail over to`);
  }
  if (action === 'detach') {
    await rdsClient(region).send(new RemoveFromGlobalClusterCommand({ GlobalClusterIdentifier: globalClusterIdentifier, DbClusterIdentifier: facts.clusterArn }));
  } else {
    await rdsClient(region).send(
      new FailoverGlobalClusterCommand({
        GlobalClusterIdentifier: globalClusterIdentifier,
        TargetDbClusterIdentifier: facts.clusterArn,
        ...(action === 'failover' ? { AllowDataLoss: true } : { Switchover: true }),
      }),
    );
  }
  return { action, outcome: 'started', clusterIdentifier };
}

/**
 * Whether a global move has finished: the cluster is available and is the writer (switchover/failover) or no longer a
 * member (detach), and no failover is under way. Pure.
 */
export function globalMoveDone(facts: GlobalMemberFacts, action: GlobalClusterAction): boolean {
  if (facts.cluster.status !== 'available') return false;
  if (facts.failoverState !== undefined && facts.failoverState !== 'cancelled') return false;
  return action === 'detach' ? !facts.member : facts.writer;
}

