/**
 * The sweeper: deletes what recovery tests and failover rehearsals left behind when they timed out or were aborted
 * (such runs skip their own cleanup): scratch DB instances and clusters and their secrets, in one region.
 *
 * What is swept, and nothing else:
 * - named by this package (`cdkbdr-rt-…`, `cdkbdr-fo-…`; secrets `cdk-backup-dr/scratch/…`, `cdk-backup-dr/failover/…`);
 * - tagged by this package (creator tag) AND either for a recovery test (purpose `recovery-test`) or by a failover dry
 *   run (purpose `failover` and `cdk-backup-dr:dry-run` = `true`): a real failover's new primary is never touched;
 * - whose execution (the execution tag) belongs to one of the state machines this sweeper watches, and is no longer
 *   running (DescribeExecution; an execution Step Functions no longer knows ended more than 90 days ago).
 * Everything else of our names is reported as left, with the reason. Instances go first; a cluster whose instances are
 * still being deleted is left for the next run (`pending`). A dry run decides and deletes nothing.
 */
import { DescribeDBClustersCommand, type DescribeDBClustersCommandOutput, DescribeDBInstancesCommand, type DescribeDBInstancesCommandOutput } from '@aws-sdk/client-rds';
import { ListSecretsCommand, type ListSecretsCommandOutput, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { NotReady } from '../common/errors';
import {
  CREATOR_TAG,
  CREATOR_TAG_VALUE,
  DRY_RUN_TAG,
  FAILOVER_ID_PREFIX,
  FAILOVER_SECRET_PREFIX,
  PURPOSE_TAG,
  RECOVERY_TEST_PURPOSE,
  SCRATCH_ID_PREFIX,
  SCRATCH_SECRET_PREFIX,
} from '../common/names';
import { deleteSecretNow } from '../aws/secrets';
import { rdsClient } from '../rds/client';
import { type DbResourceKind, RESOURCE_TAGS, clusterState, deleteDbResource, instanceState } from '../rds/instances';

/** The purpose tag value of what a failover creates. */
const FAILOVER_PURPOSE = 'failover';

/** One leftover found, and what became of it. */
export interface SweptResource {
  readonly kind: DbResourceKind | 'secret';
  /** Identifier (databases) or ARN (secrets). */
  readonly id: string;
  readonly execution?: string;
  /**
   * `deleted` (gone, or its deletion started), `planned` (dry run), `pending` (a cluster waiting for its instances),
   * `running` (its execution still runs), `not-ours` (tags say it is not a leftover this sweeper may delete),
   * `failed` (the deletion was refused; in `errors`).
   */
  readonly outcome: 'deleted' | 'planned' | 'pending' | 'running' | 'not-ours' | 'failed';
  readonly reason: string;
}

/** What one sweep did. */
export interface SweepResult {
  readonly region: string;
  readonly dryRun: boolean;
  readonly resources: readonly SweptResource[];
  /** Databases and secrets deleted (deletion started). */
  readonly deleted: number;
  readonly errors: readonly string[];
}

/** Options of {@link sweep}. */
export interface SweepOptions {
  readonly region: string;
  /** ARNs of the RecoveryTest / Failover state machines whose executions' leftovers are swept. */
  readonly stateMachineArns: readonly string[];
  readonly secrets: SecretsManagerClient;
  readonly dryRun: boolean;
}

/** Why a resource is not a leftover this sweeper may delete, or the execution that made it. */
export type SweepEligibility = { readonly executionArn: string } | { readonly notOurs: string };

/**
 * Whether tags mark a leftover of a recovery test or a failover dry run of one of `stateMachineArns` (pure).
 * @returns the execution ARN to ask about, or why the resource is left alone
 */
export function sweepEligibility(tags: Readonly<Record<string, string>>, stateMachineArns: readonly string[]): SweepEligibility {
  if (tags[CREATOR_TAG] !== CREATOR_TAG_VALUE) return { notOurs: `no ${CREATOR_TAG}=${CREATOR_TAG_VALUE} tag` };
  const purpose = tags[PURPOSE_TAG];
  if (purpose === FAILOVER_PURPOSE && tags[DRY_RUN_TAG] !== 'true') return { notOurs: `a failover's database (${DRY_RUN_TAG} is not true): never swept` };
  if (purpose !== RECOVERY_TEST_PURPOSE && purpose !== FAILOVER_PURPOSE) return { notOurs: `${PURPOSE_TAG} is ${JSON.stringify(purpose ?? null)}, neither recovery-test nor failover` };
  const executionArn = tags[RESOURCE_TAGS.execution];
  const parts = executionArn?.split(':') ?? [];
  if (executionArn === undefined || parts.length !== 8 || parts[2] !== 'states' || parts[5] !== 'execution') {
    return { notOurs: `no execution ARN in ${RESOURCE_TAGS.execution}` };
  }
  const stateMachineArn = [...parts.slice(0, 5), 'stateMachine', parts[6]].join(':');
  if (!stateMachineArns.includes(stateMachineArn)) return { notOurs: `made by ${parts[6]}, a state machine this sweeper does not watch` };
  return { executionArn };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const sfnClients = new Map<string, SFNClient>();
function sfnFor(region: string): SFNClient {
  let client = sfnClients.get(region);
  if (!client) {
    client = new SFNClient({ region });
    sfnClients.set(region, client);
  }
  return client;
}

/** Whether an execution is still running; one the service no longer knows has ended (history is kept 90 days). */
async function isRunning(executionArn: string, cache: Map<string, boolean>): Promise<boolean> {
  const known = cache.get(executionArn);
  if (known !== undefined) return known;
  let running: boolean;
  try {
    const out = await sfnFor(executionArn.split(':')[3]).send(new DescribeExecutionCommand({ executionArn }));
    running = out.status === 'RUNNING' || out.status === 'PENDING_REDRIVE';
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ExecutionDoesNotExist')) throw error;
    running = false;
  }
  cache.set(executionArn, running);
  return running;
}

interface Found {
  readonly kind: DbResourceKind | 'secret';
  readonly id: string;
  readonly tags: Readonly<Record<string, string>>;
}

const isOurName = (id: string) => id.startsWith(SCRATCH_ID_PREFIX) || id.startsWith(FAILOVER_ID_PREFIX);

async function listDatabases(region: string): Promise<Found[]> {
  const rds = rdsClient(region);
  const found: Found[] = [];
  let marker: string | undefined;
  do {
    const page: DescribeDBInstancesCommandOutput = await rds.send(new DescribeDBInstancesCommand({ Marker: marker }));
    for (const instance of page.DBInstances ?? []) {
      const state = instanceState(region, instance);
      if (isOurName(state.identifier)) found.push({ kind: 'instance', id: state.identifier, tags: state.tags });
    }
    marker = page.Marker || undefined;
  } while (marker !== undefined);
  do {
    const page: DescribeDBClustersCommandOutput = await rds.send(new DescribeDBClustersCommand({ Marker: marker }));
    for (const cluster of page.DBClusters ?? []) {
      const state = clusterState(region, cluster);
      if (isOurName(state.identifier)) found.push({ kind: 'cluster', id: state.identifier, tags: state.tags });
    }
    marker = page.Marker || undefined;
  } while (marker !== undefined);
  return found;
}

async function listSecrets(secrets: SecretsManagerClient): Promise<Found[]> {
  const found: Found[] = [];
  for (const prefix of [SCRATCH_SECRET_PREFIX, FAILOVER_SECRET_PREFIX]) {
    let token: string | undefined;
    do {
      const page: ListSecretsCommandOutput = await secrets.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], NextToken: token, MaxResults: 100 }));
      for (const secret of page.SecretList ?? []) {
        if (secret.ARN === undefined || !secret.Name?.startsWith(prefix)) continue;
        const tags = Object.fromEntries((secret.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']));
        found.push({ kind: 'secret', id: secret.ARN, tags });
      }
      token = page.NextToken;
    } while (token !== undefined);
  }
  return found;
}

/** One sweep of `region`; see the module comment. Listing failures throw; a refused deletion is in `errors`. */
export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const { region, dryRun } = options;
  // Instances before clusters (a cluster cannot go while it has instances), databases before their secrets.
  const order = { instance: 0, cluster: 1, secret: 2 } as const;
  const found = [...(await listDatabases(region)), ...(await listSecrets(options.secrets))].sort((a, b) => order[a.kind] - order[b.kind]);
  const statuses = new Map<string, boolean>();
  const resources: SweptResource[] = [];
  const errors: string[] = [];
  for (const item of found) {
    const eligibility = sweepEligibility(item.tags, options.stateMachineArns);
    if ('notOurs' in eligibility) {
      resources.push({ kind: item.kind, id: item.id, outcome: 'not-ours', reason: eligibility.notOurs });
      continue;
    }
    const execution = eligibility.executionArn;
    if (await isRunning(execution, statuses)) {
      resources.push({ kind: item.kind, id: item.id, execution, outcome: 'running', reason: 'its execution is still running (it cleans up itself)' });
      continue;
    }
    if (dryRun) {
      resources.push({ kind: item.kind, id: item.id, execution, outcome: 'planned', reason: 'its execution ended without deleting it' });
      continue;
    }
    try {
      if (item.kind === 'secret') await deleteSecretNow(options.secrets, item.id);
      else await deleteDbResource(region, item.kind, item.id);
      resources.push({ kind: item.kind, id: item.id, execution, outcome: 'deleted', reason: 'its execution ended without deleting it' });
    } catch (error) {
      if (error instanceof NotReady) {
        resources.push({ kind: item.kind, id: item.id, execution, outcome: 'pending', reason: `${error.message}; the next sweep deletes it` });
        continue;
      }
      errors.push(`${item.kind} ${item.id}: ${describeError(error)}`);
      resources.push({ kind: item.kind, id: item.id, execution, outcome: 'failed', reason: describeError(error) });
    }
  }
  return { region, dryRun, resources, deleted: resources.filter((r) => r.outcome === 'deleted').length, errors };
}
