/**
 * Creating, restoring, describing and deleting RDS DB instances and Aurora clusters: the scratch resources of a
 * recovery test, and the DR-region restores of a failover. Every function takes the region and the identifier
 * explicitly, so the same helpers serve the home region and the DR region.
 *
 * Pure helpers (identifiers, tags, status decisions, passwords) come first and are unit-tested on their own; the I/O
 * functions below them are thin wrappers around `@aws-sdk/client-rds` that make retries safe:
 * - a create or restore that finds its identifier taken by a resource carrying the same execution tag returns that
 *   resource (a retried task after a lost response), anything else is an error;
 * - a delete of a resource that is already gone succeeds (`gone`), and a delete refused because of the resource's
 *   current state (still creating, a cluster whose instances are still deleting) throws `NotReady`, so the state
 *   machine's `Retry` tries again later.
 *
 * Nothing here logs; callers log identifiers, never passwords.
 */
import { createHash, randomInt } from 'node:crypto';
import {
  CreateDBInstanceCommand,
  DBCluster,
  DBInstance,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { DbResourceFailed, DbResourceMissing, NotReady } from '../common/errors';
import { isAlreadyExists, isInvalidState, isNotFound, rdsClient } from './client';
import { CREATOR_TAG_VALUE, RdsTag, SNAPSHOT_TAGS, tagRecord } from './snapshot';
import { isRdsIdentifier, MAX_DB_IDENTIFIER_LENGTH, PURPOSE_TAG, RECOVERY_TEST_PURPOSE, SCRATCH_ID_PREFIX } from '../common/names';

export type { RdsTag } from './snapshot';

/** Which RDS API family a database resource belongs to. */
export type DbResourceKind = 'instance' | 'cluster';

/** Tag keys written on every database resource this package creates. */
export const RESOURCE_TAGS = {
  /** Always `cdk-backup-dr`, as on snapshots: only resources carrying it are ever deleted by this package. */
  creator: SNAPSHOT_TAGS.creator,
  /** Why the resource exists: `recovery-test`, `failover`, … */
  purpose: PURPOSE_TAG,
  /** The Step Functions execution ARN that created it. */
  execution: 'cdk-backup-dr:execution',
} as const;

export { RECOVERY_TEST_PURPOSE };

/** A host and port to connect to. */
export interface DbEndpoint {
  readonly host: string;
  readonly port: number;
}

/** What the I/O functions return about an instance or cluster. */
export interface DbResourceState {
  readonly kind: DbResourceKind;
  readonly identifier: string;
  readonly region: string;
  /** RDS status (`creating`, `available`, `deleting`, …), lowercase. */
  readonly status: string;
  readonly arn?: string;
  /** The writer endpoint, once RDS has assigned one. */
  readonly endpoint?: DbEndpoint;
  readonly engine?: string;
  readonly engineVersion?: string;
  /** For an instance in a cluster: the cluster identifier. */
  readonly clusterIdentifier?: string;
  /** The master user name. */
  readonly masterUsername?: string;
  /** Names of the changes RDS has accepted but not applied yet (`MasterUserPassword`, …); empty when none. */
  readonly pendingChanges: readonly string[];
  readonly tags: Record<string, string>;
}

/** What to do about a DB instance or cluster in a given status. */
export type DbResourceDecision = 'ready' | 'pending' | 'failed';

/** Statuses that move towards `available` by themselves. */
const PENDING_STATUSES = new Set([
  'creating',
  'backing-up',
  'modifying',
  'configuring-enhanced-monitoring',
  'configuring-iam-database-auth',
  'configuring-log-exports',
  'resetting-master-credentials',
  'rebooting',
  'renaming',
  'starting',
  'upgrading',
  'maintenance',
  'storage-optimization',
  'migrating',
  'preparing-data-migration',
  'promoting',
  'converting-to-vpc',
  'moving-to-vpc',
  'backtracking',
  'update-iam-db-auth',
]);

/**
 * `available` → ready; a transitional status (creating, backing-up, modifying, resetting-master-credentials, …) →
 * pending; anything else (`failed`, `incompatible-restore`, `incompatible-parameters`, `storage-full`, `deleting`,
 * `stopped`, …) → failed, which no amount of waiting fixes. A missing status is pending: the Retry bounds the wait.
 */
export function dbResourceDecision(status: string | undefined): DbResourceDecision {
  if (status === undefined || status === '') return 'pending';
  const normalized = status.toLowerCase();
  if (normalized === 'available') return 'ready';
  return PENDING_STATUSES.has(normalized) ? 'pending' : 'failed';
}

/**
 * A unique, readable identifier for a resource of one execution: `<prefix><name>-<hash>`, where `name` is the
 * execution name lowercased with everything but letters and digits turned into single hyphens (shortened to fit)
 * and `hash` is the first 8 hex digits of SHA-256 of the execution ARN. Two executions never share an identifier
 * (their ARNs differ) and a retried task computes the same one.
 *
 * @param prefix starts with a letter and ends with `-`, e.g. {@link SCRATCH_ID_PREFIX}
 * @throws RangeError for a prefix RDS would not accept or that leaves no room
 */
export function executionScopedIdentifier(prefix: string, executionId: string, executionName: string, maxLength = MAX_DB_IDENTIFIER_LENGTH): string {
  if (!/^[a-z][a-z0-9-]*-$/.test(prefix) || prefix.includes('--')) {
    throw new RangeError(`prefix must be lowercase letters, digits and single hyphens, start with a letter and end with "-"; got ${JSON.stringify(prefix)}`);
  }
  const hash = createHash('sha256').update(executionId).digest('hex').slice(0, 8);
  const budget = Math.min(20, maxLength - prefix.length - hash.length - 1);
  if (budget < 0) throw new RangeError(`prefix ${JSON.stringify(prefix)} leaves no room within ${maxLength} characters`);
  const name = executionName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, budget)
    .replace(/-+$/, '');
  const id = name === '' ? `${prefix}${hash}` : `${prefix}${name}-${hash}`;
  if (!isRdsIdentifier(id, maxLength)) throw new RangeError(`cannot build a valid RDS identifier from ${JSON.stringify(executionName)}`);
  return id;
}

/** The scratch identifier of a recovery-test execution: `cdkbdr-rt-<name>-<hash>` ({@link executionScopedIdentifier}). */
export function scratchIdentifier(executionId: string, executionName: string): string {
  return executionScopedIdentifier(SCRATCH_ID_PREFIX, executionId, executionName);
}

/** The tags of a database resource created for `purpose` by `executionId`. RDS tag values are at most 256 chars. */
export function resourceTags(props: { readonly purpose: string; readonly executionId: string; readonly extra?: Readonly<Record<string, string>> }): RdsTag[] {
  const tags: RdsTag[] = [
    { Key: RESOURCE_TAGS.creator, Value: CREATOR_TAG_VALUE },
    { Key: RESOURCE_TAGS.purpose, Value: props.purpose },
    { Key: RESOURCE_TAGS.execution, Value: props.executionId.slice(0, 256) },
  ];
  for (const [Key, Value] of Object.entries(props.extra ?? {})) tags.push({ Key, Value: Value.slice(0, 256) });
  return tags;
}

/** The execution tag among `tags` (as {@link resourceTags} writes them): what marks a secret as the same execution's. */
export function executionTag(tags: readonly RdsTag[]): RdsTag {
  const tag = tags.find((t) => t.Key === RESOURCE_TAGS.execution);
  if (!tag) throw new Error(`resourceTags wrote no ${RESOURCE_TAGS.execution} tag`);
  return tag;
}

/** True when `tags` mark a resource created by this package for the execution `executionId`. */
export function isCreatedBy(tags: Readonly<Record<string, string>>, executionId: string): boolean {
  return tags[RESOURCE_TAGS.creator] === CREATOR_TAG_VALUE && tags[RESOURCE_TAGS.execution] === executionId.slice(0, 256);
}

/**
 * The ownership rule of everything an execution creates and later deletes (databases and their secrets): created by
 * this package (creator tag), for `purpose`, by the execution `executionId`.
 */
export function isOwnedBy(tags: Readonly<Record<string, string>>, owner: { readonly purpose: string; readonly executionId: string }): boolean {
  return isCreatedBy(tags, owner.executionId) && tags[RESOURCE_TAGS.purpose] === owner.purpose;
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/**
 * A random master password: `length` characters of letters and digits (no look-alikes), drawn with
 * `crypto.randomInt`. Letters and digits only, because RDS refuses `/`, `"`, `@` and spaces, and because the
 * password then needs no quoting in a libpq connection string. 32 characters carry about 185 bits.
 */
export function generatePassword(length = 32): string {
  if (!Number.isInteger(length) || length < 16 || length > 128) throw new RangeError('length must be a whole number from 16 to 128');
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/** The names of the fields set in an RDS `PendingModifiedValues` (changes accepted but not applied yet). */
export function pendingChangeNames(pending: object | undefined): string[] {
  if (pending === undefined || pending === null) return [];
  return Object.entries(pending)
    .filter(([, value]) => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0))
    .map(([name]) => name)
    .sort();
}

/** Maps an SDK DB instance to {@link DbResourceState}. */
export function instanceState(region: string, instance: DBInstance, fallbackTags?: readonly RdsTag[]): DbResourceState {
  const tags = tagRecord(instance.TagList && instance.TagList.length > 0 ? instance.TagList : fallbackTags);
  const endpoint =
    instance.Endpoint?.Address !== undefined && instance.Endpoint.Address !== ''
      ? { host: instance.Endpoint.Address, port: instance.Endpoint.Port ?? 5432 }
      : undefined;
  return {
    kind: 'instance',
    identifier: instance.DBInstanceIdentifier ?? '',
    region,
    status: (instance.DBInstanceStatus ?? '').toLowerCase(),
    ...(instance.DBInstanceArn ? { arn: instance.DBInstanceArn } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(instance.Engine ? { engine: instance.Engine } : {}),
    ...(instance.EngineVersion ? { engineVersion: instance.EngineVersion } : {}),
    ...(instance.DBClusterIdentifier ? { clusterIdentifier: instance.DBClusterIdentifier } : {}),
    ...(instance.MasterUsername ? { masterUsername: instance.MasterUsername } : {}),
    pendingChanges: pendingChangeNames(instance.PendingModifiedValues),
    tags,
  };
}

/** Maps an SDK DB cluster to {@link DbResourceState} (endpoint = the writer endpoint). */
export function clusterState(region: string, cluster: DBCluster, fallbackTags?: readonly RdsTag[]): DbResourceState {
  const tags = tagRecord(cluster.TagList && cluster.TagList.length > 0 ? cluster.TagList : fallbackTags);
  const endpoint = cluster.Endpoint !== undefined && cluster.Endpoint !== '' ? { host: cluster.Endpoint, port: cluster.Port ?? 5432 } : undefined;
  return {
    kind: 'cluster',
    identifier: cluster.DBClusterIdentifier ?? '',
    region,
    status: (cluster.Status ?? '').toLowerCase(),
    ...(cluster.DBClusterArn ? { arn: cluster.DBClusterArn } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(cluster.Engine ? { engine: cluster.Engine } : {}),
    ...(cluster.EngineVersion ? { engineVersion: cluster.EngineVersion } : {}),
    ...(cluster.MasterUsername ? { masterUsername: cluster.MasterUsername } : {}),
    pendingChanges: pendingChangeNames(cluster.PendingModifiedValues),
    tags,
  };
}

/**
 * The names of an execution's database: an instance, or an Aurora cluster and its writer instance. The scratch
 * database of a recovery test and the database a failover creates both have this shape.
 */
export interface ExecutionDatabaseNames {
  readonly resource: DbResourceKind;
  /** The instance, or the cluster: what is waited on and connected to. */
  readonly identifier: string;
  /** The DB instance: `identifier`, or the cluster's writer instance. */
  readonly instanceIdentifier: string;
  /** The cluster, for resource `cluster`. */
  readonly clusterIdentifier?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// I/O

/**
 * Every instance and cluster this package creates carries the creator tag, and a failover's new primary goes on to
 * serve production. With CopyTagsToSnapshot, RDS would put that tag on every later snapshot of it (automated, an
 * operator's manual ones), and they would look like this package's own to cleanup.
 */
export const NO_TAG_COPY = { CopyTagsToSnapshot: false } as const;

/** Network placement shared by every create/restore: never publicly accessible. */
export interface DbPlacement {
  /** The DB subnet group (isolated subnets). */
  readonly subnetGroupName: string;
  /** VPC security group ids. */
  readonly securityGroupIds: readonly string[];
}

/**
 * How a new instance runs. The defaults suit a throw-away scratch database; a failover's new primary asks for the
 * settings of a production one.
 */
export interface InstanceConfiguration {
  /** @default false */
  readonly multiAz?: boolean;
  /** @default false */
  readonly autoMinorVersionUpgrade?: boolean;
  /** @default - RDS's default parameter group of the engine version */
  readonly parameterGroupName?: string;
  /** @default - RDS's default option group of the engine version */
  readonly optionGroupName?: string;
}

/** The request fields of {@link InstanceConfiguration}, as CreateDBInstance and the instance restores take them. */
function instanceConfiguration(options: InstanceConfiguration) {
  return {
    MultiAZ: options.multiAz ?? false,
    AutoMinorVersionUpgrade: options.autoMinorVersionUpgrade ?? false,
    ...(options.parameterGroupName !== undefined ? { DBParameterGroupName: options.parameterGroupName } : {}),
    ...(options.optionGroupName !== undefined ? { OptionGroupName: options.optionGroupName } : {}),
  };
}

/**
 * The request fields every new DB instance gets, whether created or restored: its placement and tags, never publicly
 * accessible, its {@link InstanceConfiguration} (single-AZ, no automatic minor version upgrades, default groups unless
 * asked), deletion protection only when asked.
 *
 * Tags are not copied to snapshots ({@link NO_TAG_COPY}).
 */
export function newInstanceSettings(options: DbPlacement & InstanceConfiguration & { readonly tags: readonly RdsTag[]; readonly deletionProtection?: boolean }) {
  return {
    DBSubnetGroupName: options.subnetGroupName,
    VpcSecurityGroupIds: [...options.securityGroupIds],
    PubliclyAccessible: false,
    ...instanceConfiguration(options),
    DeletionProtection: options.deletionProtection ?? false,
    Tags: [...options.tags],
    ...NO_TAG_COPY,
  };
}

/** Options of {@link createDbInstance}. */
export interface CreateDbInstanceOptions extends DbPlacement, InstanceConfiguration {
  readonly identifier: string;
  /** @default 'postgres' */
  readonly engine?: string;
  /** e.g. `15.8`, or a major version `15` (RDS picks the newest minor). */
  readonly engineVersion: string;
  /** e.g. `db.t4g.micro`. */
  readonly instanceClass: string;
  /** @default 20 */
  readonly allocatedStorageGiB?: number;
  readonly masterUsername: string;
  /** Never logged. */
  readonly masterPassword: string;
  readonly tags: readonly RdsTag[];
  /** @default 0 (no automated backups: a scratch instance needs none and is available sooner) */
  readonly backupRetentionDays?: number;
  /** @default false */
  readonly deletionProtection?: boolean;
  /** KMS key for storage encryption. @default - the account's `aws/rds` key (storage is always encrypted) */
  readonly kmsKeyId?: string;
  /** @default 'gp3' */
  readonly storageType?: string;
}

/** Options of {@link restoreDbInstanceFromSnapshot}. */
export interface RestoreDbInstanceOptions extends DbPlacement, InstanceConfiguration {
  readonly identifier: string;
  /** Snapshot identifier (same region) or ARN. */
  readonly snapshotIdentifier: string;
  /** @default - the snapshot's instance class */
  readonly instanceClass?: string;
  readonly tags: readonly RdsTag[];
  /** @default false */
  readonly deletionProtection?: boolean;
}

/** Options of {@link restoreDbClusterFromSnapshot}. */
export interface RestoreDbClusterOptions extends DbPlacement {
  readonly identifier: string;
  /** Cluster snapshot identifier (same region) or ARN. */
  readonly snapshotIdentifier: string;
  /** The snapshot's engine, e.g. `aurora-postgresql` (RDS requires it). */
  readonly engine: string;
  /** @default - the snapshot's engine version */
  readonly engineVersion?: string;
  readonly tags: readonly RdsTag[];
  /** @default false */
  readonly deletionProtection?: boolean;
  /** KMS key for an encrypted snapshot from another account or region. @default - the snapshot's key */
  readonly kmsKeyId?: string;
}

/** Options of {@link createClusterInstance}. */
export interface CreateClusterInstanceOptions {
  readonly identifier: string;
  readonly clusterIdentifier: string;
  /** The cluster's engine, e.g. `aurora-postgresql`. */
  readonly engine: string;
  /** e.g. `db.t4g.medium` (Aurora's smallest PostgreSQL class) or `db.serverless`. */
  readonly instanceClass: string;
  readonly tags: readonly RdsTag[];
  /** @default false */
  readonly autoMinorVersionUpgrade?: boolean;
  /** @default - RDS's default parameter group of the engine version */
  readonly parameterGroupName?: string;
}

/** The SDK's description of a DB instance, for fields {@link DbResourceState} leaves out; `undefined` when it does not exist. */
export async function findDbInstance(region: string, identifier: string): Promise<DBInstance | undefined> {
  try {
    const out = await rdsClient(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }));
    return out.DBInstances?.find((i) => i.DBInstanceIdentifier?.toLowerCase() === identifier.toLowerCase());
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The SDK's description of a DB cluster, for fields {@link DbResourceState} leaves out; `undefined` when it does not exist. */
export async function findDbCluster(region: string, identifier: string): Promise<DBCluster | undefined> {
  try {
    const out = await rdsClient(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }));
    return out.DBClusters?.find((c) => c.DBClusterIdentifier?.toLowerCase() === identifier.toLowerCase());
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Describes a DB instance; `undefined` when it does not exist. */
export async function describeDbInstance(region: string, identifier: string): Promise<DbResourceState | undefined> {
  const found = await findDbInstance(region, identifier);
  return found ? instanceState(region, found) : undefined;
}

/** Describes a DB cluster; `undefined` when it does not exist. */
export async function describeDbCluster(region: string, identifier: string): Promise<DbResourceState | undefined> {
  const found = await findDbCluster(region, identifier);
  return found ? clusterState(region, found) : undefined;
}

/** Describes an instance or a cluster. */
export function describeDbResource(region: string, kind: DbResourceKind, identifier: string): Promise<DbResourceState | undefined> {
  return kind === 'instance' ? describeDbInstance(region, identifier) : describeDbCluster(region, identifier);
}

/** The RDS response's resource; RDS always returns it, so its absence is an error. */
function returned<T>(value: T | undefined, operation: string): T {
  if (value === undefined) throw new Error(`${operation} returned no resource`);
  return value;
}

/**
 * Runs `start` (a create or restore of the `kind` named `identifier`, tagged `tags`). When the identifier is taken,
 * returns the resource a previous attempt of the same execution started (same execution tag); anything else is
 * rethrown: the identifier belongs to something else.
 */
export async function startOrResume(
  region: string,
  kind: DbResourceKind,
  options: { readonly identifier: string; readonly tags: readonly RdsTag[] },
  start: () => Promise<DbResourceState>,
): Promise<DbResourceState> {
  try {
    return await start();
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const executionId = options.tags.find((t) => t.Key === RESOURCE_TAGS.execution)?.Value;
    const existing = await describeDbResource(region, kind, options.identifier);
    if (existing && executionId !== undefined && isCreatedBy(existing.tags, executionId)) return existing;
    throw error;
  }
}

/**
 * Creates an empty PostgreSQL DB instance: not publicly accessible, storage encrypted, no automated backups and no
 * deletion protection unless asked. Returns at once (status `creating`); wait with {@link describeDbInstance}.
 */
export async function createDbInstance(region: string, options: CreateDbInstanceOptions): Promise<DbResourceState> {
  return startOrResume(region, 'instance', options, async () => {
    const out = await rdsClient(region).send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: options.identifier,
        Engine: options.engine ?? 'postgres',
        EngineVersion: options.engineVersion,
        DBInstanceClass: options.instanceClass,
        AllocatedStorage: options.allocatedStorageGiB ?? 20,
        StorageType: options.storageType ?? 'gp3',
        MasterUsername: options.masterUsername,
        MasterUserPassword: options.masterPassword,
        ...newInstanceSettings(options),
        StorageEncrypted: true,
        ...(options.kmsKeyId !== undefined ? { KmsKeyId: options.kmsKeyId } : {}),
        BackupRetentionPeriod: options.backupRetentionDays ?? 0,
      }),
    );
    return instanceState(region, returned(out.DBInstance, 'CreateDBInstance'), options.tags);
  });
}

/** Restores a DB instance from a DB snapshot, not publicly accessible. Returns at once (status `creating`). */
export async function restoreDbInstanceFromSnapshot(region: string, options: RestoreDbInstanceOptions): Promise<DbResourceState> {
  return startOrResume(region, 'instance', options, async () => {
    const out = await rdsClient(region).send(
      new RestoreDBInstanceFromDBSnapshotCommand({
        DBInstanceIdentifier: options.identifier,
        DBSnapshotIdentifier: options.snapshotIdentifier,
        ...(options.instanceClass !== undefined ? { DBInstanceClass: options.instanceClass } : {}),
        ...newInstanceSettings(options),
      }),
    );
    return instanceState(region, returned(out.DBInstance, 'RestoreDBInstanceFromDBSnapshot'), options.tags);
  });
}

/**
 * Restores an Aurora cluster from a cluster snapshot. A cluster has no compute of its own: add an instance with
 * {@link createClusterInstance}. Returns at once (status `creating`).
 */
export async function restoreDbClusterFromSnapshot(region: string, options: RestoreDbClusterOptions): Promise<DbResourceState> {
  return startOrResume(region, 'cluster', options, async () => {
    const out = await rdsClient(region).send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: options.identifier,
        SnapshotIdentifier: options.snapshotIdentifier,
        Engine: options.engine,
        ...(options.engineVersion !== undefined ? { EngineVersion: options.engineVersion } : {}),
        ...(options.kmsKeyId !== undefined ? { KmsKeyId: options.kmsKeyId } : {}),
        DBSubnetGroupName: options.subnetGroupName,
        VpcSecurityGroupIds: [...options.securityGroupIds],
        DeletionProtection: options.deletionProtection ?? false,
        Tags: [...options.tags],
        ...NO_TAG_COPY,
      }),
    );
    return clusterState(region, returned(out.DBCluster, 'RestoreDBClusterFromSnapshot'), options.tags);
  });
}

/**
 * Adds a (writer) instance to an Aurora cluster, not publicly accessible. Returns at once.
 *
 * @throws NotReady while the cluster does not accept instances yet (RDS adds them only once a restored cluster is
 *   available), so the state machine's Retry tries again; the call is idempotent
 */
export async function createClusterInstance(region: string, options: CreateClusterInstanceOptions): Promise<DbResourceState> {
  return startOrResume(region, 'instance', options, async () => {
    const out = await rdsClient(region).send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: options.identifier,
        DBClusterIdentifier: options.clusterIdentifier,
        Engine: options.engine,
        DBInstanceClass: options.instanceClass,
        PubliclyAccessible: false,
        AutoMinorVersionUpgrade: options.autoMinorVersionUpgrade ?? false,
        ...(options.parameterGroupName !== undefined ? { DBParameterGroupName: options.parameterGroupName } : {}),
        Tags: [...options.tags],
      }),
    ).catch((error: unknown) => {
      if (isInvalidState(error)) throw new NotReady(`cluster ${options.clusterIdentifier} in ${region} does not accept its writer yet: ${(error as Error).message}`);
      throw error;
    });
    return instanceState(region, returned(out.DBInstance, 'CreateDBInstance'), options.tags);
  });
}

/**
 * Sets the master password of an instance or cluster (applied immediately; RDS moves through
 * `resetting-master-credentials` back to `available`). A restored snapshot keeps its source's password, which this
 * package does not know; this replaces it with one it does. For an instance, `backupRetentionDays` (default 0)
 * turns automated backups off in the same call; for a cluster, 1 to 35 sets its backup retention (Aurora has no 0).
 *
 * @throws NotReady when the resource is not in a state that accepts the change yet.
 */
export async function setMasterPassword(
  region: string,
  kind: DbResourceKind,
  identifier: string,
  password: string,
  options: { readonly backupRetentionDays?: number } = {},
): Promise<DbResourceState> {
  try {
    if (kind === 'instance') {
      const out = await rdsClient(region).send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: identifier,
          MasterUserPassword: password,
          BackupRetentionPeriod: options.backupRetentionDays ?? 0,
          ApplyImmediately: true,
        }),
      );
      return instanceState(region, returned(out.DBInstance, 'ModifyDBInstance'));
    }
    const out = await rdsClient(region).send(
      new ModifyDBClusterCommand({
        DBClusterIdentifier: identifier,
        MasterUserPassword: password,
        // Aurora keeps 1 to 35 days and refuses 0: a scratch or rehearsal cluster keeps what the restore gave it.
        ...(options.backupRetentionDays !== undefined && options.backupRetentionDays >= 1 ? { BackupRetentionPeriod: options.backupRetentionDays } : {}),
        ApplyImmediately: true,
      }),
    );
    return clusterState(region, returned(out.DBCluster, 'ModifyDBCluster'));
  } catch (error) {
    if (isInvalidState(error)) throw new NotReady(`${kind} ${identifier} in ${region} does not accept a new master password yet: ${(error as Error).message}`);
    throw error;
  }
}

/** Outcome of a delete: the deletion started (or was already running), or the resource no longer exists. */
export type DeleteOutcome = 'deleting' | 'gone';

/**
 * Deletes a DB instance without a final snapshot (and its automated backups). Already gone → `gone`.
 *
 * @throws NotReady when RDS refuses because of the instance's current state (e.g. still being created).
 */
export async function deleteDbInstance(region: string, identifier: string): Promise<DeleteOutcome> {
  try {
    await rdsClient(region).send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: identifier, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }),
    );
    return 'deleting';
  } catch (error) {
    if (isNotFound(error)) return 'gone';
    if (isInvalidState(error)) {
      const current = await describeDbInstance(region, identifier);
      if (!current) return 'gone';
      if (current.status === 'deleting') return 'deleting';
      throw new NotReady(`instance ${identifier} in ${region} cannot be deleted while ${JSON.stringify(current.status)}: ${(error as Error).message}`);
    }
    throw error;
  }
}

/**
 * Deletes an Aurora cluster without a final snapshot. Its instances must be deleted first; while they are still
 * deleting RDS refuses, which surfaces as `NotReady`. Already gone → `gone`.
 */
export async function deleteDbCluster(region: string, identifier: string): Promise<DeleteOutcome> {
  try {
    await rdsClient(region).send(new DeleteDBClusterCommand({ DBClusterIdentifier: identifier, SkipFinalSnapshot: true }));
    return 'deleting';
  } catch (error) {
    if (isNotFound(error)) return 'gone';
    if (isInvalidState(error)) {
      const current = await describeDbCluster(region, identifier);
      if (!current) return 'gone';
      if (current.status === 'deleting') return 'deleting';
      throw new NotReady(`cluster ${identifier} in ${region} cannot be deleted yet (${JSON.stringify(current.status)}): ${(error as Error).message}`);
    }
    throw error;
  }
}

/** Deletes an instance or a cluster ({@link deleteDbInstance}, {@link deleteDbCluster}). */
export function deleteDbResource(region: string, kind: DbResourceKind, identifier: string): Promise<DeleteOutcome> {
  return kind === 'instance' ? deleteDbInstance(region, identifier) : deleteDbCluster(region, identifier);
}

/**
 * Returns the resource once `available`.
 *
 * @throws NotReady while it is in a transitional status, and Error for a missing resource or a terminal status
 *   (`failed`, `incompatible-restore`, …) that no amount of waiting fixes.
 */
export async function requireAvailable(region: string, kind: DbResourceKind, identifier: string): Promise<DbResourceState> {
  const state = await describeDbResource(region, kind, identifier);
  if (!state) throw new DbResourceMissing(`${kind} ${identifier} does not exist in ${region}`);
  switch (dbResourceDecision(state.status)) {
    case 'ready':
      return state;
    case 'pending':
      throw new NotReady(`${kind} ${identifier} in ${region} is ${JSON.stringify(state.status)}`);
    case 'failed':
      throw new DbResourceFailed(`${kind} ${identifier} in ${region} is ${JSON.stringify(state.status)} and will not become available`);
  }
}

/**
 * Returns `gone` once the resource no longer exists.
 *
 * @throws NotReady while it still exists (deleting).
 */
export async function requireGone(region: string, kind: DbResourceKind, identifier: string): Promise<'gone'> {
  const state = await describeDbResource(region, kind, identifier);
  if (!state) return 'gone';
  throw new NotReady(`${kind} ${identifier} in ${region} still exists (${JSON.stringify(state.status)})`);
}

/**
 * Returns an execution's database (the instance, or the cluster) once it and, for a cluster, its writer instance are
 * available and no master password change is pending: the password a `set-password` step just set is in effect.
 *
 * @throws NotReady before, and as {@link requireAvailable}.
 */
export async function requireDatabaseAvailable(region: string, names: ExecutionDatabaseNames): Promise<DbResourceState> {
  const main = await requireAvailable(region, names.resource, names.identifier);
  if (names.resource === 'cluster') await requireAvailable(region, 'instance', names.instanceIdentifier);
  if (main.pendingChanges.includes('MasterUserPassword')) {
    throw new NotReady(`${names.resource} ${names.identifier} has a master password change pending`);
  }
  return main;
}

/**
 * Deletes an execution's database without a final snapshot: the instance first (RDS refuses to delete a cluster that
 * still has instances), then the cluster. What does not exist is skipped; what does is first shown to `assertOwned`,
 * which throws to leave it alone.
 *
 * @returns the identifiers, instance first, once all are gone
 * @throws NotReady until they are gone, and whatever `assertOwned` throws
 */
export async function deleteOwnedDatabase(
  region: string,
  names: ExecutionDatabaseNames,
  assertOwned: (state: DbResourceState) => void,
): Promise<string[]> {
  const all = names.clusterIdentifier !== undefined ? [names.instanceIdentifier, names.clusterIdentifier] : [names.instanceIdentifier];
  await deleteOwned(region, 'instance', names.instanceIdentifier, assertOwned);
  if (names.clusterIdentifier !== undefined) await deleteOwned(region, 'cluster', names.clusterIdentifier, assertOwned);
  return all;
}

async function deleteOwned(region: string, kind: DbResourceKind, identifier: string, assertOwned: (state: DbResourceState) => void): Promise<void> {
  const state = await describeDbResource(region, kind, identifier);
  if (!state) return;
  assertOwned(state);
  if ((await deleteDbResource(region, kind, identifier)) === 'gone') return;
  await requireGone(region, kind, identifier);
}

