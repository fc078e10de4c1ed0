/**
 * lambda/rds/instances.ts against moto: create, describe, restore from snapshots (instance and Aurora cluster),
 * set the master password, delete idempotently, and wait for / delete an execution's whole database. moto makes resources `available` at once, so the NotReady paths of
 * waiting are covered by the workflow tests with a mapped handler instead.
 */
import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { DbResourceMissing } from '../../../lambda/common/errors';
import {
  createClusterInstance,
  createDbInstance,
  deleteDbCluster,
  deleteDbInstance,
  deleteOwnedDatabase,
  describeDbCluster,
  describeDbInstance,
  findDbCluster,
  findDbInstance,
  generatePassword,
  requireAvailable,
  requireDatabaseAvailable,
  requireGone,
  resourceTags,
  restoreDbClusterFromSnapshot,
  restoreDbInstanceFromSnapshot,
  scratchIdentifier,
  setMasterPassword,
  RESOURCE_TAGS,
} from '../../../lambda/rds/instances';
import { rdsClient } from '../../../lambda/rds/client';
import { NotReady } from '../../../lambda/common/errors';
import { isOwnSnapshot, tagRecord } from '../../../lambda/rds/snapshot';
import { harnessEnv } from '../../support/env';
import { createScratchNetwork } from './network';

const { awsRegion: region } = harnessEnv();
let placement: { subnetGroupName: string; securityGroupIds: string[] };

beforeAll(async () => {
  const network = await createScratchNetwork(`rds-restore-${Math.random().toString(36).slice(2, 8)}`);
  placement = { subnetGroupName: network.subnetGroupName, securityGroupIds: [network.securityGroupId] };
});
const unique = () => Math.random().toString(36).slice(2, 8);

function executionArn(name: string): string {
  return `arn:aws:states:${region}:123456789012:execution:RecoveryTest:${name}`;
}

/** An Aurora PostgreSQL cluster (not this package's) and a snapshot of it to restore from; returns the snapshot id. */
async function sourceClusterSnapshot(): Promise<string> {
  const source = `srccl-${unique()}`;
  await rdsClient(region).send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: source,
      Engine: 'aurora-postgresql',
      EngineVersion: '15.4',
      MasterUsername: 'app',
      MasterUserPassword: generatePassword(),
    }),
  );
  const snapshotId = `cdkbdr-${source}-20240101000000`;
  await rdsClient(region).send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: source, DBClusterSnapshotIdentifier: snapshotId }));
  return snapshotId;
}

describe('rds-restore against moto', () => {
  it('creates an empty instance with the scratch settings and tags, then deletes it idempotently', async () => {
    const name = `run-${unique()}`;
    const id = scratchIdentifier(executionArn(name), name);
    const tags = resourceTags({ purpose: 'recovery-test', executionId: executionArn(name) });
    const created = await createDbInstance(region, {
      ...placement,
      identifier: id,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'cdkbdr',
      masterPassword: generatePassword(),
      tags,
    });
    expect(created).toMatchObject({ kind: 'instance', identifier: id, region });
    expect(created.tags[RESOURCE_TAGS.purpose]).toBe('recovery-test');

    // A retried create by the same execution returns the instance the first attempt started.
    const again = await createDbInstance(region, {
      ...placement,
      identifier: id,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'cdkbdr',
      masterPassword: generatePassword(),
      tags,
    });
    expect(again.identifier).toBe(id);
    // Another execution may not take it over.
    await expect(
      createDbInstance(region, {
        ...placement,
        identifier: id,
        engineVersion: '15',
        instanceClass: 'db.t4g.micro',
        masterUsername: 'cdkbdr',
        masterPassword: generatePassword(),
        tags: resourceTags({ purpose: 'recovery-test', executionId: executionArn('other') }),
      }),
    ).rejects.toThrow(/already exists/i);

    const available = await requireAvailable(region, 'instance', id);
    expect(available.endpoint?.host).toEqual(expect.any(String));
    expect(available.endpoint?.port).toBe(5432);
    const described = await describeDbInstance(region, id);
    expect(described?.tags[RESOURCE_TAGS.execution]).toBe(executionArn(name));

    await expect(requireGone(region, 'instance', id)).rejects.toBeInstanceOf(NotReady);
    expect(await deleteDbInstance(region, id)).toBe('deleting');
    expect(await deleteDbInstance(region, id)).toBe('gone');
    expect(await describeDbInstance(region, id)).toBeUndefined();
    expect(await requireGone(region, 'instance', id)).toBe('gone');
    await expect(requireAvailable(region, 'instance', id)).rejects.toBeInstanceOf(DbResourceMissing);
  });

  it('restores an instance from a snapshot and sets a new master password', async () => {
    const source = `src-${unique()}`;
    await createDbInstance(region, {
      ...placement,
      identifier: source,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'app',
      masterPassword: generatePassword(),
      tags: [],
    });
    const snapshotId = `cdkbdr-${source}-20240101000000`;
    await rdsClient(region).send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: source, DBSnapshotIdentifier: snapshotId }));
    const name = `run-${unique()}`;
    const id = scratchIdentifier(executionArn(name), name);
    const restored = await restoreDbInstanceFromSnapshot(region, {
      ...placement,
      identifier: id,
      snapshotIdentifier: snapshotId,
      instanceClass: 'db.t4g.micro',
      tags: resourceTags({ purpose: 'recovery-test', executionId: executionArn(name) }),
    });
    expect(restored.identifier).toBe(id);
    const modified = await setMasterPassword(region, 'instance', id, generatePassword());
    expect(modified.identifier).toBe(id);
    expect(await deleteDbInstance(region, id)).toBe('deleting');
    expect(await deleteDbInstance(region, source)).toBe('deleting');
  });

  it("does not copy its tags to an operator's snapshots of what it created, so they never pass as its own", async () => {
    // A failover's new primary serves production afterwards; its snapshots must not look like this package's backups.
    const name = `run-${unique()}`;
    const tags = resourceTags({ purpose: 'failover', executionId: executionArn(name) });
    const instanceId = `prim-${unique()}`;
    await createDbInstance(region, {
      ...placement,
      identifier: instanceId,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'app',
      masterPassword: generatePassword(),
      tags,
    });
    const instanceSnapshot = await rdsClient(region).send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: instanceId, DBSnapshotIdentifier: `operator-${instanceId}` }),
    );
    const instanceSnapshotTags = tagRecord(instanceSnapshot.DBSnapshot?.TagList);
    expect(instanceSnapshotTags).not.toHaveProperty(RESOURCE_TAGS.creator);
    expect(isOwnSnapshot(instanceSnapshotTags)).toBe(false);

    const sourceSnapshotId = await sourceClusterSnapshot();
    const clusterId = `primcl-${unique()}`;
    await restoreDbClusterFromSnapshot(region, { ...placement, identifier: clusterId, snapshotIdentifier: sourceSnapshotId, engine: 'aurora-postgresql', tags });
    const clusterSnapshot = await rdsClient(region).send(
      new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: clusterId, DBClusterSnapshotIdentifier: `operator-${clusterId}` }),
    );
    const clusterSnapshotTags = tagRecord(clusterSnapshot.DBClusterSnapshot?.TagList);
    expect(clusterSnapshotTags).not.toHaveProperty(RESOURCE_TAGS.creator);
    expect(isOwnSnapshot(clusterSnapshotTags)).toBe(false);

    expect(await deleteDbInstance(region, instanceId)).toBe('deleting');
    expect(await deleteDbCluster(region, clusterId)).toBe('deleting');
  });

  it('restores an Aurora cluster from a cluster snapshot, adds an instance, and deletes instance then cluster', async () => {
    const snapshotId = await sourceClusterSnapshot();
    const name = `run-${unique()}`;
    const id = scratchIdentifier(executionArn(name), name);
    const tags = resourceTags({ purpose: 'recovery-test', executionId: executionArn(name) });
    const cluster = await restoreDbClusterFromSnapshot(region, { ...placement, identifier: id, snapshotIdentifier: snapshotId, engine: 'aurora-postgresql', tags });
    expect(cluster).toMatchObject({ kind: 'cluster', identifier: id });
    const instance = await createClusterInstance(region, {
      identifier: `${id}-1`,
      clusterIdentifier: id,
      engine: 'aurora-postgresql',
      instanceClass: 'db.t4g.medium',
      tags,
    });
    expect(instance.clusterIdentifier).toBe(id);
    const available = await requireAvailable(region, 'cluster', id);
    expect(available.endpoint?.host).toEqual(expect.any(String));
    await setMasterPassword(region, 'cluster', id, generatePassword());

    // The cluster still has an instance: RDS refuses, which is NotReady for the state machine's Retry.
    await expect(deleteDbCluster(region, id)).rejects.toBeInstanceOf(NotReady);
    expect(await deleteDbInstance(region, `${id}-1`)).toBe('deleting');
    expect(await deleteDbCluster(region, id)).toBe('deleting');
    expect(await deleteDbCluster(region, id)).toBe('gone');
    expect(await describeDbCluster(region, id)).toBeUndefined();
    const left = await rdsClient(region).send(new DescribeDBClustersCommand({}));
    expect(left.DBClusters?.map((c) => c.DBClusterIdentifier)).not.toContain(id);
  });

  it('says NotReady while a restored cluster refuses its writer (RDS: InvalidDBClusterStateFault, injected), then adds it; a real run\'s password change sets backup retention', async () => {
    const snapshotId = await sourceClusterSnapshot();
    const name = `run-${unique()}`;
    const id = scratchIdentifier(executionArn(name), name);
    const tags = resourceTags({ purpose: 'recovery-test', executionId: executionArn(name) });
    await restoreDbClusterFromSnapshot(region, { ...placement, identifier: id, snapshotIdentifier: snapshotId, engine: 'aurora-postgresql', tags });
    // moto makes a restored cluster available at once; real RDS refuses instances until it is.
    const client = rdsClient(region);
    const middleware = 'rds-restore-test-cluster-creating';
    let refusals = 1;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CreateDBInstanceCommand' && refusals > 0) {
          refusals -= 1;
          throw Object.assign(new Error(`DB cluster ${id} is not in available state`), { name: 'InvalidDBClusterStateFault' });
        }
        return next(args);
      },
      { step: 'initialize', name: middleware },
    );
    const writer = { identifier: `${id}-1`, clusterIdentifier: id, engine: 'aurora-postgresql', instanceClass: 'db.t4g.medium', tags };
    try {
      await expect(createClusterInstance(region, writer)).rejects.toThrow(new NotReady(`cluster ${id} in ${region} does not accept its writer yet: DB cluster ${id} is not in available state`));
      expect(await describeDbInstance(region, `${id}-1`)).toBeUndefined();
      expect((await createClusterInstance(region, writer)).clusterIdentifier).toBe(id);
    } finally {
      client.middlewareStack.remove(middleware);
    }
    await setMasterPassword(region, 'cluster', id, generatePassword(), { backupRetentionDays: 7 });
    const described = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    expect(described.DBClusters?.[0]?.BackupRetentionPeriod).toBe(7);
    expect(await deleteDbInstance(region, `${id}-1`)).toBe('deleting');
    expect(await deleteDbCluster(region, id)).toBe('deleting');
  });

  it("waits for and deletes an execution's cluster database: its instance first, each only once assertOwned accepts it", async () => {
    const name = `run-${unique()}`;
    const id = scratchIdentifier(executionArn(name), name);
    const tags = resourceTags({ purpose: 'recovery-test', executionId: executionArn(name) });
    await rdsClient(region).send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: id,
        Engine: 'aurora-postgresql',
        EngineVersion: '15.4',
        MasterUsername: 'app',
        MasterUserPassword: generatePassword(),
        Tags: tags,
      }),
    );
    await createClusterInstance(region, { identifier: `${id}-1`, clusterIdentifier: id, engine: 'aurora-postgresql', instanceClass: 'db.t4g.medium', tags });
    const names = { resource: 'cluster' as const, identifier: id, instanceIdentifier: `${id}-1`, clusterIdentifier: id };
    expect(await requireDatabaseAvailable(region, names)).toMatchObject({ kind: 'cluster', identifier: id });
    expect((await findDbCluster(region, id))?.DBClusterIdentifier).toBe(id);
    expect(await findDbInstance(region, `missing-${unique()}`)).toBeUndefined();

    const refuse = (): never => {
      throw new Error('not ours');
    };
    await expect(deleteOwnedDatabase(region, names, refuse)).rejects.toThrow('not ours');
    expect(await describeDbInstance(region, `${id}-1`)).toBeDefined();

    const seen: string[] = [];
    expect(await deleteOwnedDatabase(region, names, (state) => seen.push(`${state.kind} ${state.identifier}`))).toEqual([`${id}-1`, id]);
    expect(seen).toEqual([`instance ${id}-1`, `cluster ${id}`]);
    expect(await describeDbCluster(region, id)).toBeUndefined();
    // Nothing is left to ask about: a retried step succeeds.
    expect(await deleteOwnedDatabase(region, names, refuse)).toEqual([`${id}-1`, id]);
  });
});
