/**
 * Scratch handler: the throw-away database of a recovery test, from creation to deletion.
 *
 * One handler, one `action` per call (see {@link ScratchEvent}); names derive from the execution
 * (`cdkbdr-rt-<name>-<hash>`, secret `cdk-backup-dr/scratch/<same>`):
 * - `create` generates a password, stores it in a NEW Secrets Manager secret, then creates an empty PostgreSQL
 *   instance with it, or restores an instance snapshot, or restores a cluster snapshot and adds an instance. All
 *   resources are tagged (`cdk-backup-dr:creator`, `cdk-backup-dr:purpose=recovery-test`, execution), placed in the
 *   isolated DB subnet group and security group of the environment, not publicly accessible, without deletion
 *   protection and, for a new instance, without automated backups. Returns at once with the secret's ARN: the
 *   password never leaves the secret and RDS.
 * - `wait` returns the endpoint once the database is available (and has no pending password change), throws
 *   `NotReady` before (the state machine retries on that name), `DbResourceFailed` for a status that will not
 *   become available.
 * - `set-password` (snapshot restores, which keep the source's unknown password) sets the secret's password.
 * - `delete-database` deletes instance (then cluster) without a final snapshot and throws `NotReady` until they are
 *   gone; nothing there is success. A database with these names that this package did not create for a recovery
 *   test is never deleted (`ScratchNotOwned`).
 * - `delete-secret` deletes the secret without a recovery window, only when it carries the same ownership tags
 *   (`ScratchNotOwned` otherwise); nothing there is success.
 *
 * Environment: SCRATCH_SUBNET_GROUP_NAME, SCRATCH_SECURITY_GROUP_IDS (comma-separated), SCRATCH_INSTANCE_CLASS,
 * SCRATCH_ENGINE_VERSION (empty instances), SCRATCH_ALLOCATED_STORAGE_GIB (default 20), SCRATCH_MASTER_USERNAME
 * (default `cdkbdr_admin`), SCRATCH_SECRET_KMS_KEY_ARN (optional).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DbResourceMissing, InvalidInput, NotReady, requireEnv, requireEnvList, ScratchNotOwned, wholeNumberEnv } from '../common/errors';
import { logger } from '../common/logger';
import {
  RECOVERY_TEST_PURPOSE,
  RESOURCE_TAGS,
  type DbResourceState,
  type RdsTag,
  createClusterInstance,
  createDbInstance,
  deleteOwnedDatabase,
  executionTag,
  generatePassword,
  isOwnedBy,
  requireDatabaseAvailable,
  resourceTags,
  restoreDbClusterFromSnapshot,
  restoreDbInstanceFromSnapshot,
  setMasterPassword,
} from './instances';
import { createCredentialsSecret, deleteOwnedSecretNow } from '../aws/secrets';
import { getDatabaseSecret } from '../aws/secrets';
import {
  CleanupOutput,
  CreateScratchInput,
  CreateScratchOutput,
  ScratchEvent,
  ScratchResult,
  ScratchScope,
  SetPasswordOutput,
  WaitScratchOutput,
  parseScratchEvent,
  scratchNames,
} from './scratch-input';

export type {
  CleanupOutput,
  CreateScratchInput,
  CreateScratchOutput,
  ScratchEvent,
  ScratchNames,
  ScratchResource,
  ScratchResult,
  SetPasswordOutput,
  WaitScratchOutput,
} from './scratch-input';

/** Default master user of an empty scratch instance (`postgres` and `rdsadmin` are reserved or confusing on RDS). */
export const DEFAULT_MASTER_USERNAME = 'cdkbdr_admin';

const secrets = new SecretsManagerClient({});

function region(): string {
  return requireEnv('AWS_REGION');
}

function tagsFor(scope: ScratchScope): RdsTag[] {
  return resourceTags({ purpose: RECOVERY_TEST_PURPOSE, executionId: scope.executionId });
}

async function create(input: CreateScratchInput): Promise<CreateScratchOutput> {
  const startedAt = new Date().toISOString();
  const names = scratchNames(input);
  const where = region();
  const tags = tagsFor(input);
  const placement = { subnetGroupName: requireEnv('SCRATCH_SUBNET_GROUP_NAME'), securityGroupIds: requireEnvList('SCRATCH_SECURITY_GROUP_IDS') };
  const instanceClass = requireEnv('SCRATCH_INSTANCE_CLASS');
  const username = input.source.type === 'snapshot' ? input.source.masterUsername : process.env.SCRATCH_MASTER_USERNAME || DEFAULT_MASTER_USERNAME;
  const kmsKeyId = process.env.SCRATCH_SECRET_KMS_KEY_ARN || undefined;
  // Read before anything is created, so a deployment error leaves nothing behind.
  const engineVersion = input.source.type === 'empty' ? requireEnv('SCRATCH_ENGINE_VERSION') : undefined;
  const storage = input.source.type === 'empty' ? wholeNumberEnv('SCRATCH_ALLOCATED_STORAGE_GIB', 20, { min: 20, max: 65536, unit: 'GiB' }) : undefined;

  const secret = await createCredentialsSecret(secrets, {
    name: names.secretName,
    description: `cdk-backup-dr recovery test scratch credentials of ${names.identifier} (deleted by the same execution)`,
    username,
    password: generatePassword(),
    tags,
    ownerTag: executionTag(tags),
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
  });

  let state: DbResourceState;
  if (input.source.type === 'empty') {
    state = await createDbInstance(where, {
      ...placement,
      identifier: names.instanceIdentifier,
      engineVersion: engineVersion ?? requireEnv('SCRATCH_ENGINE_VERSION'),
      instanceClass,
      allocatedStorageGiB: storage,
      masterUsername: username,
      masterPassword: secret.password,
      tags,
    });
  } else if (names.resource === 'instance') {
    state = await restoreDbInstanceFromSnapshot(where, {
      ...placement,
      identifier: names.instanceIdentifier,
      snapshotIdentifier: input.source.snapshotId,
      instanceClass,
      tags,
    });
  } else {
    const { engine, snapshotId } = input.source;
    const clusterIdentifier = names.clusterIdentifier;
    // Both guaranteed by parseScratchEvent / scratchNames for resource 'cluster'.
    if (engine === undefined || clusterIdentifier === undefined) throw new InvalidInput('source.engine is required to restore a cluster snapshot');
    state = await restoreDbClusterFromSnapshot(where, { ...placement, identifier: clusterIdentifier, snapshotIdentifier: snapshotId, engine, tags });
    await createClusterInstance(where, { identifier: names.instanceIdentifier, clusterIdentifier, engine, instanceClass, tags });
  }
  logger.info('scratch database requested', {
    identifier: names.identifier,
    resource: names.resource,
    source: input.source.type,
    status: state.status,
    secretCreated: secret.created,
  });
  return { ...names, secretArn: secret.arn, status: state.status, startedAt, created: secret.created };
}

async function wait(scope: ScratchScope): Promise<WaitScratchOutput> {
  const names = scratchNames(scope);
  const where = region();
  const main = await requireDatabaseAvailable(where, names);
  if (!main.endpoint) throw new NotReady(`${names.resource} ${names.identifier} is available but has no endpoint yet`);
  logger.info('scratch database available', { identifier: names.identifier, host: main.endpoint.host, port: main.endpoint.port });
  return {
    identifier: names.identifier,
    endpoint: main.endpoint,
    status: main.status,
    ...(main.engineVersion ? { engineVersion: main.engineVersion } : {}),
    availableAt: new Date().toISOString(),
  };
}

async function setPassword(scope: ScratchScope): Promise<SetPasswordOutput> {
  const names = scratchNames(scope);
  const where = region();
  const secret = await getDatabaseSecret(secrets, names.secretName);
  const state = await setMasterPassword(where, names.resource, names.identifier, secret.password);
  logger.info('scratch master password set', { identifier: names.identifier, status: state.status });
  return { identifier: names.identifier, status: state.status, at: new Date().toISOString() };
}

/** Whether `tags` mark this execution's recovery-test scratch database or secret. */
function isOwnScratch(tags: Readonly<Record<string, string>>, scope: ScratchScope): boolean {
  return isOwnedBy(tags, { purpose: RECOVERY_TEST_PURPOSE, executionId: scope.executionId });
}

/** The tags a scratch resource must carry to be deleted, for the refusal's message. */
function ownerTags(scope: ScratchScope): string {
  return `${RESOURCE_TAGS.creator}, ${RESOURCE_TAGS.purpose}=${RECOVERY_TEST_PURPOSE}, ${RESOURCE_TAGS.execution}=${scope.executionId}`;
}

/** Refuses to touch a database with a scratch name that is not this execution's recovery-test scratch database. */
function assertOwned(state: DbResourceState, scope: ScratchScope): void {
  if (!isOwnScratch(state.tags, scope)) {
    throw new ScratchNotOwned(
      `${state.kind} ${state.identifier} in ${state.region} is not tagged as this execution's recovery-test scratch database (${ownerTags(scope)}); it was left alone`,
    );
  }
}

async function deleteDatabase(scope: ScratchScope): Promise<CleanupOutput> {
  const names = scratchNames(scope);
  const all = await deleteOwnedDatabase(region(), names, (state) => assertOwned(state, scope));
  logger.info('scratch database gone', { identifier: names.identifier, resource: names.resource });
  return { what: 'database', names: all, status: 'gone', at: new Date().toISOString() };
}

async function deleteSecret(scope: ScratchScope): Promise<CleanupOutput> {
  const names = scratchNames(scope);
  const outcome = await deleteOwnedSecretNow(
    secrets,
    names.secretName,
    (tags) => isOwnScratch(tags, scope),
    () => new ScratchNotOwned(`secret ${names.secretName} is not tagged as this execution's recovery-test scratch secret (${ownerTags(scope)}); it was left alone`),
  );
  logger.info('scratch secret gone', { secretName: names.secretName, outcome });
  return { what: 'secret', names: [names.secretName], status: 'gone', at: new Date().toISOString() };
}

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed event (before any AWS call), NotReady while waiting, DbResourceFailed /
 *   DbResourceMissing when the database will not become available, ScratchNotOwned when a scratch name belongs to
 *   someone else, and AWS errors as they come.
 * @example
 * { "action": "create", "resource": "instance", "source": { "type": "empty" },
 *   "executionId": "arn:aws:states:us-east-1:111111111111:execution:RecoveryTest:weekly-2024-05-05",
 *   "executionName": "weekly-2024-05-05" }
 */
export async function handler(event: unknown): Promise<ScratchResult> {
  const input: ScratchEvent = parseScratchEvent(event);
  switch (input.action) {
    case 'create':
      return create(input);
    case 'wait':
      return wait(input);
    case 'set-password':
      return setPassword(input);
    case 'delete-database':
      return deleteDatabase(input);
    case 'delete-secret':
      return deleteSecret(input);
  }
}

export { DbResourceMissing };
export type { ScratchScope };
