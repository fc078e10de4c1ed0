/**
 * Failover act handler: what a failover changes in the DR region. One `action` per call (see {@link ActEvent}):
 * - `create`: restores the planned snapshot, point in time (an Aurora cluster: in its own region, plus a writer) or
 *   (for a dump) an empty instance, named
 *   `cdkbdr-fo-<execution>-<hash>`, tagged (creator, purpose `failover`, execution, `cdk-backup-dr:dry-run`,
 *   strategy), in the configured DB subnet group and security groups, never public; its master credentials go into a
 *   NEW secret `cdk-backup-dr/failover/<identifier>`. A real failover's database gets deletion protection and
 *   automated backups; a dry run's gets neither (it is deleted at the end).
 * - `wait`: returns the endpoint once the created database (or the promoted replica / global secondary) is
 *   available; throws `NotReady` before, so the state machine's Retry polls.
 * - `set-password`: gives a restored snapshot / point in time (which keep the source's unknown password) the secret's
 *   password.
 * - `promote`: PromoteReadReplica, or for an Aurora global secondary FailoverGlobalCluster (switchover; with
 *   `acceptDataLoss` a failover allowing data loss) / RemoveFromGlobalCluster. Irreversible: never in a dry run.
 * - `confirm-writable`: connects to the promoted database and throws `NotReady` while it is still in recovery.
 * - `delete-database` / `delete-secret`: the dry-run cleanup. Only what this execution created as a dry run is ever
 *   deleted (tags checked here, and by IAM); anything else is refused with `FailoverResourceNotOwned`.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { FailoverResourceNotOwned, InvalidInput, MissingConfiguration, NotReady, requireEnv, requireEnvList, RestoreFailed, wholeNumberEnv } from '../common/errors';
import { NewDatabaseSettings, readFailoverConfig, readNewDatabaseSettings } from './config';
import {
  ExecutionScope,
  FAILOVER_PURPOSE,
  FAILOVER_TAGS,
  FailoverNames,
  FailoverResource,
  failoverNames,
  parseExecutionScope,
} from './request';
import { FailoverPlan } from './plan';
import {
  GlobalClusterAction,
  describeGlobalMember,
  globalMoveDone,
  moveGlobalCluster,
  promoteReadReplica,
  restoreDbClusterToPointInTime,
  restoreDbInstanceToPointInTime,
} from './rds';
import { logger } from '../common/logger';
import { connect, scrubSecrets } from '../postgres/target';
import {
  DbEndpoint,
  DbResourceState,
  InstanceConfiguration,
  RESOURCE_TAGS,
  type RdsTag,
  createClusterInstance,
  createDbInstance,
  deleteOwnedDatabase,
  executionTag,
  generatePassword,
  isOwnedBy,
  requireAvailable,
  requireDatabaseAvailable,
  resourceTags,
  restoreDbClusterFromSnapshot,
  restoreDbInstanceFromSnapshot,
  setMasterPassword,
} from '../rds/instances';
import { parseRestoreTarget, resolveRestoreTarget, type RestoreTargetInput } from '../restore/restore-target';
import { createCredentialsSecret, deleteOwnedSecretNow } from '../aws/secrets';
import { getDatabaseSecret } from '../aws/secrets';
import { expectObject, expectOneOf, expectString } from '../common/validate';

/** `create`: what the preflight planned. */
export interface CreateEvent extends ExecutionScope {
  readonly action: 'create';
  readonly plan: FailoverPlan;
}

/** `wait`: the created database, or the replica being promoted. */
export interface WaitEvent extends ExecutionScope {
  readonly action: 'wait';
  readonly subject: 'created' | 'replica';
  /** For `created`: instance or cluster. */
  readonly resource?: FailoverResource;
  /** Echoed into the result, so the next steps find endpoint and credentials in one place. */
  readonly secretArn: string;
  /** For an Aurora global secondary: what `promote` did. */
  readonly globalAction?: GlobalClusterAction;
}

/** `set-password`: the created database gets the secret's password. */
export interface SetPasswordEvent extends ExecutionScope {
  readonly action: 'set-password';
  readonly resource: FailoverResource;
  readonly dryRun: boolean;
}

/** `promote`: the configured replica (never in a dry run). */
export interface PromoteEvent {
  readonly action: 'promote';
  readonly acceptDataLoss: boolean;
}

/** `confirm-writable`: the promoted database accepts writes. */
export interface ConfirmWritableEvent {
  readonly action: 'confirm-writable';
  readonly target: RestoreTargetInput;
}

/** `delete-database` / `delete-secret`: the dry-run cleanup. */
export interface CleanupEvent extends ExecutionScope {
  readonly action: 'delete-database' | 'delete-secret';
  readonly resource: FailoverResource;
}

/** Every input of the act handler. */
export type ActEvent = CreateEvent | WaitEvent | SetPasswordEvent | PromoteEvent | ConfirmWritableEvent | CleanupEvent;

/** `create`'s result (no password: that stays in the secret). */
export interface CreatedDatabase extends FailoverNames {
  readonly secretArn: string;
  readonly masterUsername: string;
  readonly status: string;
  /** When this call started: the start of the measured provisioning time. */
  readonly startedAt: string;
  /** False when a previous attempt of this execution had already created it. */
  readonly created: boolean;
}

/** `wait`'s result: where the (new) primary is. */
export interface ReadyDatabase {
  readonly identifier: string;
  readonly kind: 'instance' | 'cluster';
  readonly endpoint: DbEndpoint;
  readonly secretArn: string;
  readonly status: string;
  readonly engineVersion?: string;
  readonly availableAt: string;
}

/** `promote`'s result. */
export interface PromotionResult {
  readonly identifier: string;
  readonly kind: 'instance' | 'global-cluster';
  /** For a global secondary: switchover, failover or detach. */
  readonly globalAction?: GlobalClusterAction;
  readonly outcome: string;
  readonly startedAt: string;
}

/** A cleanup action's result. */
export interface CleanupResult {
  readonly what: 'database' | 'secret';
  readonly names: readonly string[];
  /** `gone`: deleted now, by an earlier attempt, or never created. */
  readonly status: 'gone';
  readonly at: string;
}

const secrets = new SecretsManagerClient({});

const RESOURCES = ['instance', 'cluster'] as const;

/** Validates the handler's event before any AWS call. */
export function parseActEvent(event: unknown): ActEvent {
  const v = expectObject(event, 'event');
  const action = expectOneOf(v.action, 'action', ['create', 'wait', 'set-password', 'promote', 'confirm-writable', 'delete-database', 'delete-secret'] as const);
  switch (action) {
    case 'create': {
      const plan = expectObject(v.plan, 'plan') as unknown as FailoverPlan;
      expectOneOf(plan.strategy, 'plan.strategy', ['restore-snapshot', 'restore-dump', 'point-in-time'] as const);
      if (typeof plan.dryRun !== 'boolean') throw new InvalidInput('plan.dryRun must be true or false');
      return { action, ...parseExecutionScope(v), plan };
    }
    case 'wait': {
      const subject = expectOneOf(v.subject, 'subject', ['created', 'replica'] as const);
      const secretArn = expectString(v.secretArn, 'secretArn');
      const resource = subject === 'created' ? expectOneOf(v.resource, 'resource', RESOURCES) : undefined;
      const globalAction = v.globalAction === undefined ? undefined : expectOneOf(v.globalAction, 'globalAction', ['switchover', 'failover', 'detach'] as const);
      return {
        action,
        ...parseExecutionScope(v),
        subject,
        secretArn,
        ...(resource !== undefined ? { resource } : {}),
        ...(globalAction !== undefined ? { globalAction } : {}),
      };
    }
    case 'set-password':
      if (typeof v.dryRun !== 'boolean') throw new InvalidInput('dryRun must be true or false');
      return { action, ...parseExecutionScope(v), resource: expectOneOf(v.resource, 'resource', RESOURCES), dryRun: v.dryRun };
    case 'promote':
      if (typeof v.acceptDataLoss !== 'boolean') throw new InvalidInput('acceptDataLoss must be true or false');
      return { action, acceptDataLoss: v.acceptDataLoss };
    case 'confirm-writable':
      return { action, target: parseRestoreTarget(v.target) };
    case 'delete-database':
    case 'delete-secret':
      return { action, ...parseExecutionScope(v), resource: expectOneOf(v.resource, 'resource', RESOURCES) };
  }
}

function region(): string {
  return requireEnv('AWS_REGION');
}

/** Automated backup retention of a real failover's database (days); a dry run's has none. */
function backupRetentionDays(dryRun: boolean): number {
  return dryRun ? 0 : wholeNumberEnv('BACKUP_RETENTION_DAYS', 7, { min: 1, max: 35, unit: 'days' });
}

/** The tags of everything an execution creates. */
export function failoverTags(scope: ExecutionScope, dryRun: boolean, strategy: string): RdsTag[] {
  return resourceTags({
    purpose: FAILOVER_PURPOSE,
    executionId: scope.executionId,
    extra: { [FAILOVER_TAGS.dryRun]: dryRun ? 'true' : 'false', [FAILOVER_TAGS.strategy]: strategy },
  });
}

/**
 * How a failover's new instance runs (pure): as a production primary — Multi-AZ unless configured off, automatic minor
 * version upgrades, the configured parameter and option groups. A dry run's instance is single-AZ: it is deleted at the
 * end of the rehearsal.
 */
export function newDatabaseConfiguration(settings: NewDatabaseSettings, dryRun: boolean): InstanceConfiguration & { readonly autoMinorVersionUpgrade: boolean } {
  return {
    multiAz: settings.multiAz && !dryRun,
    autoMinorVersionUpgrade: true,
    ...(settings.parameterGroupName !== undefined ? { parameterGroupName: settings.parameterGroupName } : {}),
    ...(settings.optionGroupName !== undefined ? { optionGroupName: settings.optionGroupName } : {}),
  };
}

async function create(event: CreateEvent): Promise<CreatedDatabase> {
  const startedAt = new Date().toISOString();
  const { plan } = event;
  const where = region();
  const names = failoverNames(event, plan.names?.resource ?? 'instance');
  if (plan.names !== undefined && plan.names.identifier !== names.identifier) {
    throw new InvalidInput(`plan.names.identifier ${plan.names.identifier} is not this execution's (${names.identifier}); start a new execution`);
  }
  const tags = failoverTags(event, plan.dryRun, plan.strategy);
  const placement = { subnetGroupName: requireEnv('DB_SUBNET_GROUP'), securityGroupIds: requireEnvList('DB_SECURITY_GROUP_IDS') };
  const settings = readNewDatabaseSettings(process.env, plan.strategy);
  const instanceClass = settings.instanceClass;
  const configuration = newDatabaseConfiguration(settings, plan.dryRun);
  const deletionProtection = !plan.dryRun;
  const description = `cdk-backup-dr failover ${plan.dryRun ? 'rehearsal' : ''} master credentials of ${names.identifier}`.replace(/\s+/g, ' ');
  const secretFor = (username: string, password: string) =>
    createCredentialsSecret(secrets, {
      name: names.secretName,
      description,
      username,
      password,
      tags,
      ownerTag: executionTag(tags),
    });

  // A restored Aurora cluster has no instance: its writer is created beside it, with the strategy's settings.
  const addWriter = (engine: string) =>
    createClusterInstance(where, {
      identifier: names.instanceIdentifier,
      clusterIdentifier: names.clusterIdentifier as string,
      engine,
      instanceClass,
      tags,
      autoMinorVersionUpgrade: configuration.autoMinorVersionUpgrade,
      ...(configuration.parameterGroupName !== undefined ? { parameterGroupName: configuration.parameterGroupName } : {}),
    });

  let state: DbResourceState;
  let secret;
  switch (plan.strategy) {
    case 'restore-dump': {
      const username = process.env.MASTER_USERNAME || 'cdkbdr_admin';
      secret = await secretFor(username, generatePassword());
      state = await createDbInstance(where, {
        ...placement,
        identifier: names.instanceIdentifier,
        engineVersion: requireEnv('ENGINE_VERSION'),
        instanceClass,
        allocatedStorageGiB: wholeNumberEnv('ALLOCATED_STORAGE_GIB', 20, { min: 20, max: 65536, unit: 'GiB' }),
        masterUsername: secret.username,
        masterPassword: secret.password,
        tags,
        backupRetentionDays: backupRetentionDays(plan.dryRun),
        deletionProtection,
        ...configuration,
        ...(settings.kmsKeyId !== undefined ? { kmsKeyId: settings.kmsKeyId } : {}),
      });
      break;
    }
    case 'restore-snapshot': {
      const snapshot = plan.snapshot;
      if (!snapshot) throw new InvalidInput('plan.snapshot is missing: run the preflight first');
      if (names.resource === 'instance') {
        state = await restoreDbInstanceFromSnapshot(where, {
          ...placement,
          identifier: names.instanceIdentifier,
          snapshotIdentifier: snapshot.snapshotId,
          instanceClass,
          tags,
          deletionProtection,
          ...configuration,
        });
      } else {
        const clusterIdentifier = names.clusterIdentifier as string;
        state = await restoreDbClusterFromSnapshot(where, {
          ...placement,
          identifier: clusterIdentifier,
          snapshotIdentifier: snapshot.snapshotId,
          engine: snapshot.engine,
          tags,
          deletionProtection,
          ...(settings.kmsKeyId !== undefined ? { kmsKeyId: settings.kmsKeyId } : {}),
        });
        await addWriter(snapshot.engine);
      }
      secret = await secretFor(state.masterUsername ?? snapshot.masterUsername, generatePassword());
      break;
    }
    case 'point-in-time': {
      const pit = plan.pointInTime;
      if (!pit) throw new InvalidInput('plan.pointInTime is missing: run the preflight first');
      if (names.resource === 'instance') {
        if (pit.automatedBackupsArn === undefined) throw new InvalidInput('plan.pointInTime.automatedBackupsArn is missing: run the preflight first');
        state = await restoreDbInstanceToPointInTime(where, {
          ...placement,
          identifier: names.instanceIdentifier,
          automatedBackupsArn: pit.automatedBackupsArn,
          restoreTime: new Date(pit.restoreTime),
          instanceClass,
          tags,
          deletionProtection,
          ...configuration,
        });
      } else {
        if (pit.sourceClusterIdentifier === undefined) throw new InvalidInput('plan.pointInTime.sourceClusterIdentifier is missing: run the preflight first');
        const clusterIdentifier = names.clusterIdentifier as string;
        state = await restoreDbClusterToPointInTime(where, {
          ...placement,
          identifier: clusterIdentifier,
          sourceClusterIdentifier: pit.sourceClusterIdentifier,
          restoreTime: new Date(pit.restoreTime),
          tags,
          deletionProtection,
          ...(settings.kmsKeyId !== undefined ? { kmsKeyId: settings.kmsKeyId } : {}),
        });
        await addWriter(pit.engine ?? 'aurora-postgresql');
      }
      const username = state.masterUsername ?? pit.masterUsername;
      if (username === undefined) throw new InvalidInput(`RDS reports no master user name for ${names.identifier}`);
      secret = await secretFor(username, generatePassword());
      break;
    }
    default:
      throw new InvalidInput(`strategy ${String(plan.strategy)} creates nothing`);
  }
  logger.info('failover database requested', {
    identifier: names.identifier,
    resource: names.resource,
    strategy: plan.strategy,
    dryRun: plan.dryRun,
    status: state.status,
    secretCreated: secret.created,
  });
  return { ...names, secretArn: secret.arn, masterUsername: secret.username, status: state.status, startedAt, created: secret.created };
}

function ready(kind: 'instance' | 'cluster', state: DbResourceState, secretArn: string, endpoint = state.endpoint): ReadyDatabase {
  if (!endpoint) throw new NotReady(`${kind} ${state.identifier} is available but has no endpoint yet`);
  return {
    identifier: state.identifier,
    kind,
    endpoint,
    secretArn,
    status: state.status,
    ...(state.engineVersion ? { engineVersion: state.engineVersion } : {}),
    availableAt: new Date().toISOString(),
  };
}

async function wait(event: WaitEvent): Promise<ReadyDatabase> {
  const where = region();
  if (event.subject === 'created') {
    const names = failoverNames(event, event.resource ?? 'instance');
    const main = await requireDatabaseAvailable(where, names);
    logger.info('failover database available', { identifier: names.identifier });
    return ready(names.resource, main, event.secretArn);
  }
  const replica = readFailoverConfig(process.env).replica;
  if (!replica) throw new MissingConfiguration('REPLICA_IDENTIFIER is not set');
  if (replica.kind === 'instance') {
    const state = await requireAvailable(where, 'instance', replica.identifier);
    logger.info('promoted replica available', { identifier: replica.identifier });
    return ready('instance', state, event.secretArn);
  }
  const facts = await describeGlobalMember(where, replica.globalClusterIdentifier as string, replica.identifier);
  if (!facts) throw new NotReady(`Aurora cluster ${replica.identifier} is not visible in ${where} yet`);
  const action = event.globalAction ?? 'failover';
  if (!globalMoveDone(facts, action)) {
    throw new NotReady(
      `Aurora cluster ${replica.identifier} is ${JSON.stringify(facts.cluster.status)}, ${facts.member ? (facts.writer ? 'writer' : 'secondary') : 'detached'}` +
        `${facts.failoverState !== undefined ? `, global failover ${facts.failoverState}` : ''}; waiting for the ${action} to finish`,
    );
  }
  return ready('cluster', facts.cluster, event.secretArn);
}

async function setPassword(event: SetPasswordEvent): Promise<{ identifier: string; status: string; at: string }> {
  const names = failoverNames(event, event.resource);
  const secret = await getDatabaseSecret(secrets, names.secretName);
  const state = await setMasterPassword(region(), names.resource, names.identifier, secret.password, { backupRetentionDays: backupRetentionDays(event.dryRun) });
  logger.info('failover master password set', { identifier: names.identifier, status: state.status });
  return { identifier: names.identifier, status: state.status, at: new Date().toISOString() };
}

async function promote(event: PromoteEvent): Promise<PromotionResult> {
  const startedAt = new Date().toISOString();
  const replica = readFailoverConfig(process.env).replica;
  if (!replica) throw new MissingConfiguration('REPLICA_IDENTIFIER is not set');
  const where = region();
  if (replica.kind === 'instance') {
    const result = await promoteReadReplica(where, replica.identifier, backupRetentionDays(false));
    logger.info('read replica promotion', { identifier: replica.identifier, outcome: result.outcome });
    return { identifier: replica.identifier, kind: 'instance', outcome: result.outcome, startedAt };
  }
  const configured = process.env.GLOBAL_CLUSTER_ACTION === 'detach' ? 'detach' : 'failover';
  const action: GlobalClusterAction = configured === 'detach' ? 'detach' : event.acceptDataLoss ? 'failover' : 'switchover';
  const result = await moveGlobalCluster(where, replica.globalClusterIdentifier as string, replica.identifier, action);
  logger.info('global cluster move', { identifier: replica.identifier, action, outcome: result.outcome });
  return { identifier: replica.identifier, kind: 'global-cluster', globalAction: action, outcome: result.outcome, startedAt };
}

async function confirmWritable(event: ConfirmWritableEvent): Promise<{ writable: true; at: string }> {
  const target = await resolveRestoreTarget(secrets, event.target);
  const client = await connect(target);
  let inRecovery: boolean;
  try {
    inRecovery = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new RestoreFailed(scrubSecrets(`checking ${target.host}/${target.database} failed: ${message}`, [target.password]));
  } finally {
    await client.end();
  }
  if (inRecovery) throw new NotReady(`${target.host} is still in recovery (read-only): the promotion has not finished`);
  logger.info('promoted database accepts writes', { host: target.host });
  return { writable: true, at: new Date().toISOString() };
}

/** Whether tags mark this execution's dry-run failover resource (pure). */
export function isOwnDryRunResource(tags: Readonly<Record<string, string>>, executionId: string): boolean {
  return isOwnedBy(tags, { purpose: FAILOVER_PURPOSE, executionId }) && tags[FAILOVER_TAGS.dryRun] === 'true';
}

/** Refuses to delete a database with a failover name that is not this execution's dry-run database. */
function assertOwnDryRun(state: DbResourceState, scope: ExecutionScope): void {
  if (!isOwnDryRunResource(state.tags, scope.executionId)) {
    throw new FailoverResourceNotOwned(
      `${state.kind} ${state.identifier} in ${state.region} is not tagged as this execution's dry-run database (${FAILOVER_TAGS.dryRun}=true, ` +
        `${RESOURCE_TAGS.execution}=${scope.executionId}); it was left alone`,
    );
  }
}

async function deleteDatabase(event: CleanupEvent): Promise<CleanupResult> {
  const names = failoverNames(event, event.resource);
  const all = await deleteOwnedDatabase(region(), names, (state) => assertOwnDryRun(state, event));
  logger.info('dry-run database gone', { identifier: names.identifier });
  return { what: 'database', names: all, status: 'gone', at: new Date().toISOString() };
}

async function deleteSecret(event: CleanupEvent): Promise<CleanupResult> {
  const names = failoverNames(event, event.resource);
  const outcome = await deleteOwnedSecretNow(
    secrets,
    names.secretName,
    (tags) => isOwnDryRunResource(tags, event.executionId),
    () => new FailoverResourceNotOwned(`secret ${names.secretName} is not tagged as this execution's dry-run secret; it was left alone`),
  );
  logger.info('dry-run secret gone', { secretName: names.secretName, outcome });
  return { what: 'secret', names: [names.secretName], status: 'gone', at: new Date().toISOString() };
}

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed event (before any AWS call), NotReady while waiting, DbResourceFailed /
 *   DbResourceMissing when the database will not become available, FailoverResourceNotOwned when a cleanup finds
 *   something that is not this execution's dry-run resource, and AWS errors as they come.
 * @example
 * { "action": "wait", "subject": "created", "resource": "instance", "secretArn": "arn:aws:secretsmanager:…",
 *   "executionId": "arn:aws:states:us-west-2:111111111111:execution:Failover:rehearsal-2024-05", "executionName": "rehearsal-2024-05" }
 */
export async function handler(event: unknown): Promise<CreatedDatabase | ReadyDatabase | PromotionResult | CleanupResult | { identifier: string; status: string; at: string } | { writable: true; at: string }> {
  const input = parseActEvent(event);
  switch (input.action) {
    case 'create':
      return create(input);
    case 'wait':
      return wait(input);
    case 'set-password':
      return setPassword(input);
    case 'promote':
      return promote(input);
    case 'confirm-writable':
      return confirmWritable(input);
    case 'delete-database':
      return deleteDatabase(input);
    case 'delete-secret':
      return deleteSecret(input);
  }
}
