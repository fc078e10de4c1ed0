/**
 * The scratch handler against moto: an empty instance with a generated password kept only in a new secret, a
 * restored instance snapshot and a restored Aurora cluster snapshot, waits, password resets, idempotent retries,
 * deletion (never of a database the execution does not own) and secret deletion.
 */
import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ScratchNotOwned } from '../../../lambda/common/errors';
import { handler } from '../../../lambda/rds/scratch.handler';
import type { CreateScratchOutput, WaitScratchOutput } from '../../../lambda/rds/scratch.handler';
import { createDbInstance, describeDbCluster, describeDbInstance, generatePassword, resourceTags, scratchIdentifier } from '../../../lambda/rds/instances';
import { rdsClient } from '../../../lambda/rds/client';
import { harnessEnv } from '../../support/env';
import { secretExists } from '../../workflows/recovery-test-support';
import { createScratchNetwork, type ScratchNetwork } from './network';

const { awsRegion: region } = harnessEnv();
const secrets = new SecretsManagerClient({});
let network: ScratchNetwork;
const saved = { ...process.env };
let n = 0;

function scope(resource: 'instance' | 'cluster') {
  n += 1;
  const executionName = `scratch-${n}-${Date.now().toString(36)}`;
  return { executionId: `arn:aws:states:${region}:123456789012:execution:RecoveryTest:${executionName}`, executionName, resource };
}

beforeAll(async () => {
  network = await createScratchNetwork(`scratch-${Date.now().toString(36)}`);
  process.env.SCRATCH_SUBNET_GROUP_NAME = network.subnetGroupName;
  process.env.SCRATCH_SECURITY_GROUP_IDS = ` ${network.securityGroupId} `;
  process.env.SCRATCH_INSTANCE_CLASS = 'db.t4g.micro';
  process.env.SCRATCH_ENGINE_VERSION = '15';
});

afterAll(() => {
  for (const name of ['SCRATCH_SUBNET_GROUP_NAME', 'SCRATCH_SECURITY_GROUP_IDS', 'SCRATCH_INSTANCE_CLASS', 'SCRATCH_ENGINE_VERSION']) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  secrets.destroy();
});

describe('scratch handler', () => {
  it('creates an empty, private, tagged instance whose password lives only in the new scratch secret, and deletes both', async () => {
    const s = scope('instance');
    const id = scratchIdentifier(s.executionId, s.executionName);
    const created = (await handler({ action: 'create', ...s, source: { type: 'empty' } })) as CreateScratchOutput;
    expect(created).toMatchObject({ identifier: id, resource: 'instance', secretName: `cdk-backup-dr/scratch/${id}`, created: true });
    expect(JSON.stringify(created)).not.toMatch(/password/i);

    const secret = await secrets.send(new GetSecretValueCommand({ SecretId: created.secretArn }));
    const stored = JSON.parse(secret.SecretString ?? '{}') as Record<string, unknown>;
    expect(stored).toEqual({ username: 'cdkbdr_admin', password: expect.stringMatching(/^[A-Za-z0-9]{32}$/), engine: 'postgres', port: 5432, dbname: 'postgres' });
    const secretTags = (await secrets.send(new DescribeSecretCommand({ SecretId: created.secretArn }))).Tags;
    // The creator and purpose tags are what RecoveryTest's IAM requires on the secret for delete-secret to be allowed.
    expect(secretTags).toEqual(
      expect.arrayContaining([
        { Key: 'cdk-backup-dr:creator', Value: 'cdk-backup-dr' },
        { Key: 'cdk-backup-dr:purpose', Value: 'recovery-test' },
        { Key: 'cdk-backup-dr:execution', Value: s.executionId },
      ]),
    );

    const [instance] = (await rdsClient(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances ?? [];
    expect(instance).toMatchObject({
      DBInstanceClass: 'db.t4g.micro',
      Engine: 'postgres',
      PubliclyAccessible: false,
      DeletionProtection: false,
      BackupRetentionPeriod: 0,
      StorageEncrypted: true,
      MasterUsername: 'cdkbdr_admin',
      DBSubnetGroup: expect.objectContaining({ DBSubnetGroupName: network.subnetGroupName }),
      VpcSecurityGroups: [expect.objectContaining({ VpcSecurityGroupId: network.securityGroupId })],
    });
    expect(instance.TagList).toEqual(
      expect.arrayContaining([
        { Key: 'cdk-backup-dr:creator', Value: 'cdk-backup-dr' },
        { Key: 'cdk-backup-dr:purpose', Value: 'recovery-test' },
        { Key: 'cdk-backup-dr:execution', Value: s.executionId },
      ]),
    );

    // A retried create (lost response) returns what the first attempt made, with the same secret.
    const again = (await handler({ action: 'create', ...s, source: { type: 'empty' } })) as CreateScratchOutput;
    expect(again).toMatchObject({ identifier: id, secretArn: created.secretArn, created: false });
    const stillStored = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: created.secretArn }))).SecretString ?? '{}') as { password: string };
    expect(stillStored.password).toBe(stored.password);

    const ready = (await handler({ action: 'wait', ...s })) as WaitScratchOutput;
    expect(ready).toMatchObject({ identifier: id, status: 'available', endpoint: { host: expect.stringContaining(id), port: 5432 } });

    await expect(handler({ action: 'delete-database', ...s })).resolves.toMatchObject({ what: 'database', names: [id], status: 'gone' });
    await expect(handler({ action: 'delete-database', ...s })).resolves.toMatchObject({ status: 'gone' });
    await expect(handler({ action: 'delete-secret', ...s })).resolves.toMatchObject({ what: 'secret', names: [`cdk-backup-dr/scratch/${id}`], status: 'gone' });
    await expect(handler({ action: 'delete-secret', ...s })).resolves.toMatchObject({ status: 'gone' });
    expect(await describeDbInstance(region, id)).toBeUndefined();
    expect(await secretExists(`cdk-backup-dr/scratch/${id}`)).toBe(false);
  });

  it.each([
    ['without our tags', () => [{ Key: 'team', Value: 'payments' }]],
    ['of another execution', (other: string) => resourceTags({ purpose: 'recovery-test', executionId: other })],
    ['of a failover', (_other: string, own: string) => resourceTags({ purpose: 'failover', executionId: own })],
  ])('never deletes a secret under the scratch prefix %s (ScratchNotOwned)', async (_case, tagsOf) => {
    const s = scope('instance');
    const name = `cdk-backup-dr/scratch/${scratchIdentifier(s.executionId, s.executionName)}`;
    const tags = (tagsOf as (other: string, own: string) => Array<{ Key: string; Value: string }>)(`${s.executionId}-other`, s.executionId);
    await secrets.send(new CreateSecretCommand({ Name: name, SecretString: '{"username":"app","password":"keep-me"}', Tags: tags }));
    await expect(handler({ action: 'delete-secret', ...s })).rejects.toThrow(ScratchNotOwned);
    await expect(handler({ action: 'delete-secret', ...s })).rejects.toThrow(/secret cdk-backup-dr\/scratch\/.* is not tagged as this execution's recovery-test scratch secret .* it was left alone/);
    expect(await secretExists(name)).toBe(true);
    await secrets.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  it('never deletes a database with the scratch name that this execution did not create for a recovery test', async () => {
    const s = scope('instance');
    const id = scratchIdentifier(s.executionId, s.executionName);
    await createDbInstance(region, {
      subnetGroupName: network.subnetGroupName,
      securityGroupIds: [network.securityGroupId],
      identifier: id,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'someone',
      masterPassword: generatePassword(),
      tags: resourceTags({ purpose: 'failover', executionId: s.executionId }),
    });
    await expect(handler({ action: 'delete-database', ...s })).rejects.toThrow(ScratchNotOwned);
    await expect(handler({ action: 'delete-database', ...s })).rejects.toThrow(/is not tagged as this execution's recovery-test scratch database .* it was left alone/);
    expect(await describeDbInstance(region, id)).toBeDefined();
    await rdsClient(region).send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
  });

  it('restores an instance snapshot with its master user, resets the password to the secret\'s and cleans up', async () => {
    const source = `scratch-src-${Date.now().toString(36)}`;
    await createDbInstance(region, {
      subnetGroupName: network.subnetGroupName,
      securityGroupIds: [network.securityGroupId],
      identifier: source,
      engineVersion: '15',
      instanceClass: 'db.t4g.micro',
      masterUsername: 'app_owner',
      masterPassword: generatePassword(),
      tags: [],
    });
    const snapshotId = `cdkbdr-${source}-20240101000000`;
    await rdsClient(region).send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: source, DBSnapshotIdentifier: snapshotId }));
    const s = scope('instance');
    const id = scratchIdentifier(s.executionId, s.executionName);
    const created = (await handler({ action: 'create', ...s, source: { type: 'snapshot', snapshotId, masterUsername: 'app_owner' } })) as CreateScratchOutput;
    const stored = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: created.secretArn }))).SecretString ?? '{}') as Record<string, unknown>;
    expect(stored.username).toBe('app_owner');
    await handler({ action: 'wait', ...s });
    await expect(handler({ action: 'set-password', ...s })).resolves.toMatchObject({ identifier: id });
    const restored = await describeDbInstance(region, id);
    expect(restored?.tags['cdk-backup-dr:purpose']).toBe('recovery-test');
    expect(restored?.masterUsername).toBe('app_owner');
    await handler({ action: 'delete-database', ...s });
    await handler({ action: 'delete-secret', ...s });
    expect(await describeDbInstance(region, id)).toBeUndefined();
    expect(await describeDbInstance(region, source)).toBeDefined();
  });

  it('restores an Aurora cluster snapshot with one instance, waits for both and deletes instance then cluster', async () => {
    const source = `scratch-aurora-${Date.now().toString(36)}`;
    await rdsClient(region).send(
      new CreateDBClusterCommand({ DBClusterIdentifier: source, Engine: 'aurora-postgresql', EngineVersion: '15.4', MasterUsername: 'app', MasterUserPassword: generatePassword() }),
    );
    const snapshotId = `cdkbdr-${source}-20240101000000`;
    await rdsClient(region).send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: source, DBClusterSnapshotIdentifier: snapshotId }));
    process.env.SCRATCH_INSTANCE_CLASS = 'db.t4g.medium';
    try {
      const s = scope('cluster');
      const id = scratchIdentifier(s.executionId, s.executionName);
      const created = (await handler({
        action: 'create',
        ...s,
        source: { type: 'snapshot', snapshotId, masterUsername: 'app', engine: 'aurora-postgresql' },
      })) as CreateScratchOutput;
      expect(created).toMatchObject({ resource: 'cluster', clusterIdentifier: id, instanceIdentifier: `${id}-1` });
      expect((await describeDbInstance(region, `${id}-1`))?.clusterIdentifier).toBe(id);
      const ready = (await handler({ action: 'wait', ...s })) as WaitScratchOutput;
      expect(ready.identifier).toBe(id);
      await handler({ action: 'set-password', ...s });
      await expect(handler({ action: 'delete-database', ...s })).resolves.toMatchObject({ names: [`${id}-1`, id], status: 'gone' });
      expect(await describeDbCluster(region, id)).toBeUndefined();
      expect(await describeDbInstance(region, `${id}-1`)).toBeUndefined();
      await handler({ action: 'delete-secret', ...s });
    } finally {
      process.env.SCRATCH_INSTANCE_CLASS = 'db.t4g.micro';
    }
  });

  it('says which configuration is missing, before creating anything', async () => {
    const s = scope('instance');
    const id = scratchIdentifier(s.executionId, s.executionName);
    delete process.env.SCRATCH_ENGINE_VERSION;
    try {
      await expect(handler({ action: 'create', ...s, source: { type: 'empty' } })).rejects.toThrow(/environment variable SCRATCH_ENGINE_VERSION is not set/);
    } finally {
      process.env.SCRATCH_ENGINE_VERSION = '15';
    }
    process.env.SCRATCH_ALLOCATED_STORAGE_GIB = '5';
    try {
      await expect(handler({ action: 'create', ...s, source: { type: 'empty' } })).rejects.toThrow(/SCRATCH_ALLOCATED_STORAGE_GIB must be a whole number of GiB from 20/);
    } finally {
      delete process.env.SCRATCH_ALLOCATED_STORAGE_GIB;
    }
    expect(await secretExists(`cdk-backup-dr/scratch/${id}`)).toBe(false);
    expect(await describeDbInstance(region, id)).toBeUndefined();
  });
});
