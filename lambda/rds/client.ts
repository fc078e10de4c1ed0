/**
 * The RDS client of every handler (one per region, reused across invocations) and what its errors mean: "no such
 * resource", "that identifier is taken", "not in a state that allows this now", for every kind of RDS resource this
 * package touches (instances, clusters, snapshots of either, global clusters). Each call site asks about the one
 * call it made, so one set of names per meaning serves them all.
 */
import { DBClusterSnapshot, DBSnapshot, DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribedSnapshot, SnapshotKind, describedSnapshot } from './snapshot';

/** One RDS client per region, created on first use and reused across invocations. */
const clients = new Map<string, RDSClient>();

/** The RDS client for `region`; without one, for the SDK's default region (the Lambda's own). */
export function rdsClient(region?: string): RDSClient {
  const key = region ?? '';
  let client = clients.get(key);
  if (!client) {
    client = new RDSClient(region !== undefined ? { region } : {});
    clients.set(key, client);
  }
  return client;
}

/** Error names RDS (and the emulator) use for "no such instance / cluster / snapshot / global cluster". */
const NOT_FOUND = new Set([
  'DBInstanceNotFound',
  'DBInstanceNotFoundFault',
  'DBClusterNotFound',
  'DBClusterNotFoundFault',
  'DBSnapshotNotFound',
  'DBSnapshotNotFoundFault',
  'DBClusterSnapshotNotFound',
  'DBClusterSnapshotNotFoundFault',
  'GlobalClusterNotFound',
  'GlobalClusterNotFoundFault',
]);
/** … for "that identifier is taken". */
const ALREADY_EXISTS = new Set([
  'DBInstanceAlreadyExists',
  'DBInstanceAlreadyExistsFault',
  'DBClusterAlreadyExists',
  'DBClusterAlreadyExistsFault',
  'DBSnapshotAlreadyExists',
  'DBSnapshotAlreadyExistsFault',
  'DBClusterSnapshotAlreadyExists',
  'DBClusterSnapshotAlreadyExistsFault',
]);
/** … for "not in a state that allows this now" (creating, members still deleting, …). */
const INVALID_STATE = new Set(['InvalidDBInstanceState', 'InvalidDBInstanceStateFault', 'InvalidDBClusterState', 'InvalidDBClusterStateFault']);

function errorNamed(error: unknown, names: ReadonlySet<string>): boolean {
  return error instanceof Error && names.has(error.name);
}

/** Whether `error` says the resource the call named does not exist. */
export function isNotFound(error: unknown): boolean {
  return errorNamed(error, NOT_FOUND);
}

/** Whether `error` says the identifier is already taken. */
export function isAlreadyExists(error: unknown): boolean {
  return errorNamed(error, ALREADY_EXISTS);
}

/** Whether `error` says the resource is in a state that does not allow the call yet. */
export function isInvalidState(error: unknown): boolean {
  return errorNamed(error, INVALID_STATE);
}

/** Which snapshots {@link listSnapshots} describes: the manual ones of a source, or the one named. */
export type SnapshotQuery = { readonly sourceIdentifier: string } | { readonly snapshotId: string };

/**
 * The snapshots of `kind` that `query` names in `region` (default: the Lambda's own), all pages; none when the
 * snapshot named does not exist.
 */
export async function listSnapshots(region: string | undefined, kind: SnapshotKind, query: SnapshotQuery): Promise<DescribedSnapshot[]> {
  const client = rdsClient(region);
  const out: DescribedSnapshot[] = [];
  let marker: string | undefined;
  try {
    do {
      let page: { readonly Marker?: string; readonly snapshots?: (DBSnapshot | DBClusterSnapshot)[] };
      if (kind === 'instance') {
        const answer = await client.send(
          new DescribeDBSnapshotsCommand(
            'snapshotId' in query
              ? { DBSnapshotIdentifier: query.snapshotId, Marker: marker }
              : { DBInstanceIdentifier: query.sourceIdentifier, SnapshotType: 'manual', Marker: marker },
          ),
        );
        page = { Marker: answer.Marker, snapshots: answer.DBSnapshots };
      } else {
        const answer = await client.send(
          new DescribeDBClusterSnapshotsCommand(
            'snapshotId' in query
              ? { DBClusterSnapshotIdentifier: query.snapshotId, Marker: marker }
              : { DBClusterIdentifier: query.sourceIdentifier, SnapshotType: 'manual', Marker: marker },
          ),
        );
        page = { Marker: answer.Marker, snapshots: answer.DBClusterSnapshots };
      }
      out.push(...(page.snapshots ?? []).map((s) => describedSnapshot(kind, s)));
      marker = page.Marker;
    } while (marker !== undefined && marker !== '');
  } catch (error) {
    if ('snapshotId' in query && isNotFound(error)) return [];
    throw error;
  }
  return out;
}
