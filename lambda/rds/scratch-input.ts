/**
 * Input and output shapes of the scratch handler and the validation of its input (pure).
 *
 * Every action names the execution (`executionId` = `$$.Execution.Id`, `executionName` = `$$.Execution.Name`) and
 * the kind of scratch resource; the identifiers are derived from them (rds-restore's `scratchIdentifier`), so a
 * cleanup that runs after any failure — even one before `create` returned — knows what to delete, and the handler
 * can never be pointed at a resource outside the `cdkbdr-rt-` prefix.
 */
import { InvalidInput } from '../common/errors';
import { DbEndpoint, scratchIdentifier } from './instances';
import { scratchSecretName } from '../aws/secrets';
import { expectObject, expectOneOf, expectString, optionalString } from '../common/validate';
import { isRdsIdentifier } from '../common/names';

/** What a scratch database is: an RDS instance (dump restores, instance snapshots) or an Aurora cluster. */
export type ScratchResource = 'instance' | 'cluster';

/** Fields every action takes. */
export interface ScratchScope {
  /** `$$.Execution.Id`: the execution ARN (recorded in the resources' execution tag). */
  readonly executionId: string;
  /** `$$.Execution.Name`. */
  readonly executionName: string;
  readonly resource: ScratchResource;
}

/** Create an empty PostgreSQL instance (engine version and class from the function's environment). */
export interface EmptyDatabaseSource {
  readonly type: 'empty';
}

/** Restore a snapshot picked by the recovery-pick handler. */
export interface SnapshotDatabaseSource {
  readonly type: 'snapshot';
  /** Snapshot identifier (instance snapshot for resource `instance`, cluster snapshot for `cluster`). */
  readonly snapshotId: string;
  /** The snapshot's master user name: the restored database keeps it, with a new password. */
  readonly masterUsername: string;
  /** The snapshot's engine (required to restore a cluster), e.g. `aurora-postgresql`. */
  readonly engine?: string;
}

/** `create`: the scratch secret (generated password), then the instance, restored cluster + instance. */
export interface CreateScratchInput extends ScratchScope {
  readonly action: 'create';
  readonly source: EmptyDatabaseSource | SnapshotDatabaseSource;
}

/** `wait`: returns the endpoint once available, throws NotReady before. */
export interface WaitScratchInput extends ScratchScope {
  readonly action: 'wait';
}

/** `set-password`: gives a restored snapshot the scratch secret's password (and, for an instance, no backups). */
export interface SetPasswordInput extends ScratchScope {
  readonly action: 'set-password';
}

/** `delete-database`: deletes instance (and cluster) without a final snapshot; NotReady until gone. */
export interface DeleteDatabaseInput extends ScratchScope {
  readonly action: 'delete-database';
}

/** `delete-secret`: deletes the scratch secret without a recovery window. */
export interface DeleteSecretInput extends ScratchScope {
  readonly action: 'delete-secret';
}

/** Every input the scratch handler accepts. */
export type ScratchEvent = CreateScratchInput | WaitScratchInput | SetPasswordInput | DeleteDatabaseInput | DeleteSecretInput;

/** The actions, for validation messages. */
export const SCRATCH_ACTIONS = ['create', 'wait', 'set-password', 'delete-database', 'delete-secret'] as const;

/** The names of one execution's scratch resources. */
export interface ScratchNames {
  readonly resource: ScratchResource;
  /** The instance (resource `instance`) or the cluster (resource `cluster`): what `wait` watches. */
  readonly identifier: string;
  /** The DB instance: the same as `identifier`, or the cluster's instance `<identifier>-1`. */
  readonly instanceIdentifier: string;
  /** The cluster, for resource `cluster`. */
  readonly clusterIdentifier?: string;
  readonly secretName: string;
}

/** The scratch resource names of an execution (pure, deterministic). */
export function scratchNames(scope: ScratchScope): ScratchNames {
  const identifier = scratchIdentifier(scope.executionId, scope.executionName);
  if (scope.resource === 'instance') {
    return { resource: 'instance', identifier, instanceIdentifier: identifier, secretName: scratchSecretName(identifier) };
  }
  return {
    resource: 'cluster',
    identifier,
    instanceIdentifier: `${identifier}-1`,
    clusterIdentifier: identifier,
    secretName: scratchSecretName(identifier),
  };
}

/** `create`'s result. No password: that stays in the secret. */
export interface CreateScratchOutput extends ScratchNames {
  readonly secretArn: string;
  /** RDS status right after the call (`creating`, or whatever a previous attempt reached). */
  readonly status: string;
  /** When this call started (ISO-8601): the start of the measured recovery time. */
  readonly startedAt: string;
  /** False when a previous attempt of this execution had already created the resources. */
  readonly created: boolean;
}

/** `wait`'s result. */
export interface WaitScratchOutput {
  readonly identifier: string;
  readonly endpoint: DbEndpoint;
  readonly status: string;
  readonly engineVersion?: string;
  /** When the resource was seen available (ISO-8601). */
  readonly availableAt: string;
}

/** `set-password`'s result. */
export interface SetPasswordOutput {
  readonly identifier: string;
  readonly status: string;
  readonly at: string;
}

/** A cleanup action's result. */
export interface CleanupOutput {
  readonly what: 'database' | 'secret';
  /** The instance/cluster identifiers, or the secret name. */
  readonly names: readonly string[];
  /** Always `gone`: the resource no longer exists (deleted now, by an earlier attempt, or never created). */
  readonly status: 'gone';
  readonly at: string;
}

/** Every result of the scratch handler. */
export type ScratchResult = CreateScratchOutput | WaitScratchOutput | SetPasswordOutput | CleanupOutput;

const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(execution|express):[^:]+:[^:]+(:[^:]+)?$/;

function parseSource(value: unknown, resource: ScratchResource): EmptyDatabaseSource | SnapshotDatabaseSource {
  const v = expectObject(value, 'source');
  const type = expectOneOf(v.type, 'source.type', ['empty', 'snapshot'] as const);
  if (type === 'empty') {
    if (resource !== 'instance') throw new InvalidInput('source.type "empty" needs resource "instance": an empty scratch database is an RDS instance');
    return { type };
  }
  const snapshotId = expectString(v.snapshotId, 'source.snapshotId');
  if (!isRdsIdentifier(snapshotId, 255)) {
    throw new InvalidInput(`source.snapshotId must be a snapshot identifier (letters, digits, hyphens; not an ARN); got ${JSON.stringify(snapshotId)}`);
  }
  const masterUsername = expectString(v.masterUsername, 'source.masterUsername', /^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'must be a PostgreSQL master user name');
  const engine = optionalString(v.engine, 'source.engine', /^[a-z][a-z0-9-]*$/, 'must be an RDS engine name such as aurora-postgresql');
  if (resource === 'cluster' && engine === undefined) {
    throw new InvalidInput('source.engine is required to restore a cluster snapshot (e.g. "aurora-postgresql"); pass the snapshot\'s engine');
  }
  return { type, snapshotId, masterUsername, ...(engine !== undefined ? { engine } : {}) };
}

/**
 * Validates a scratch handler event before any AWS call.
 *
 * @throws InvalidInput naming the field and what to change.
 */
export function parseScratchEvent(event: unknown): ScratchEvent {
  const v = expectObject(event, 'event');
  const action = expectOneOf(v.action, 'action', SCRATCH_ACTIONS);
  const executionId = expectString(v.executionId, 'executionId', EXECUTION_ARN, 'must be a Step Functions execution ARN ($$.Execution.Id)');
  const executionName = expectString(v.executionName, 'executionName');
  if (executionName.length > 80) throw new InvalidInput(`executionName must be at most 80 characters ($$.Execution.Name); got ${executionName.length}`);
  const resource = expectOneOf(v.resource, 'resource', ['instance', 'cluster'] as const);
  const scope = { executionId, executionName, resource };
  if (action === 'create') return { action, ...scope, source: parseSource(v.source, resource) };
  return { action, ...scope };
}
