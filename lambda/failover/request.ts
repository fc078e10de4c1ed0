/**
 * The input of a Failover execution, validated before anything is touched, and the names every failover step
 * derives from the execution. Pure: no I/O.
 *
 * A person starts a failover with
 * `{ "strategy": "restore-snapshot", "dryRun": true, "reason": "quarterly DR rehearsal" }`; every field is checked and
 * a problem is reported with what to change, before the DR region is even asked anything.
 */
import { InvalidInput } from '../common/errors';
import { executionScopedIdentifier } from '../rds/instances';
import { JsonObject, expectObject } from '../common/validate';
import { DRY_RUN_TAG, FAILOVER_ID_PREFIX, FAILOVER_SECRET_PREFIX } from '../common/names';

/** The ways to bring the database back in the DR region. */
export const FAILOVER_STRATEGIES = ['promote-replica', 'restore-snapshot', 'restore-dump', 'point-in-time'] as const;

/** One of {@link FAILOVER_STRATEGIES}. */
export type FailoverStrategyName = (typeof FAILOVER_STRATEGIES)[number];

/** What a person passes to start a failover. */
export interface FailoverInput {
  readonly strategy: FailoverStrategyName;
  /** ISO-8601; required for `point-in-time` and refused for every other strategy. */
  readonly targetTime?: string;
  /** Required and explicit: `true` rehearses (nothing is promoted or repointed, everything created is deleted). */
  readonly dryRun: boolean;
  /**
   * Go ahead although the freshest recovery point is older than the RPO (or its age cannot be measured).
   * @default false
   */
  readonly acceptDataLoss?: boolean;
  /** Why this failover is run: recorded in the report and the notification. */
  readonly reason: string;
}

/** A validated {@link FailoverInput}: defaults applied, `targetTime` normalized to ISO-8601 UTC. */
export interface FailoverRequest {
  readonly strategy: FailoverStrategyName;
  readonly targetTime?: string;
  readonly dryRun: boolean;
  readonly acceptDataLoss: boolean;
  readonly reason: string;
}

/** Longest `reason` kept (it goes into tags of nothing, but into reports and notifications). */
export const MAX_REASON_LENGTH = 1000;

/** How far in the future a `targetTime` may be (clock skew between the operator's machine and AWS). */
export const TARGET_TIME_SKEW_MS = 60_000;

const FIELDS = ['strategy', 'targetTime', 'dryRun', 'acceptDataLoss', 'reason'] as const;

const EXAMPLE = '{ "strategy": "restore-snapshot", "dryRun": true, "reason": "DR rehearsal" }';

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * Validates what a person passed to start a failover. Every problem is reported at once, each saying what to change.
 *
 * @param configured the strategies the deployed Failover was configured with; any other is refused
 * @param now the current time (a `targetTime` in the future is refused)
 * @throws InvalidInput listing every problem
 */
export function parseFailoverInput(value: unknown, configured: readonly FailoverStrategyName[], now: Date): FailoverRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInput(`the failover input must be a JSON object such as ${EXAMPLE}; got ${describe(value)}`);
  }
  const v = value as JsonObject;
  const problems: string[] = [];
  const unknown = Object.keys(v).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    problems.push(`unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}: the input takes only ${FIELDS.join(', ')}`);
  }

  let strategy: FailoverStrategyName | undefined;
  if (typeof v.strategy !== 'string' || !(FAILOVER_STRATEGIES as readonly string[]).includes(v.strategy)) {
    problems.push(`strategy must be one of ${FAILOVER_STRATEGIES.map((s) => `"${s}"`).join(', ')}; got ${describe(v.strategy)}`);
  } else if (!configured.includes(v.strategy as FailoverStrategyName)) {
    problems.push(
      `strategy "${v.strategy}" is not configured for this Failover (configured: ${configured.map((s) => `"${s}"`).join(', ') || 'none'}); ` +
        'pick a configured one or add the strategy to the construct',
    );
  } else {
    strategy = v.strategy as FailoverStrategyName;
  }

  if (typeof v.dryRun !== 'boolean') {
    problems.push(`dryRun must be given explicitly: true to rehearse (nothing promoted or repointed, everything created deleted) or false for a real failover; got ${describe(v.dryRun)}`);
  }
  if (v.acceptDataLoss !== undefined && typeof v.acceptDataLoss !== 'boolean') {
    problems.push(`acceptDataLoss must be true or false when given; got ${describe(v.acceptDataLoss)}`);
  }
  if (typeof v.reason !== 'string' || v.reason.trim() === '') {
    problems.push(`reason must be a non-empty string saying why this failover runs (it goes into the report); got ${describe(v.reason)}`);
  } else if (v.reason.length > MAX_REASON_LENGTH) {
    problems.push(`reason must be at most ${MAX_REASON_LENGTH} characters; got ${v.reason.length}`);
  }

  let targetTime: string | undefined;
  if (v.targetTime !== undefined) {
    if (strategy !== undefined && strategy !== 'point-in-time') {
      problems.push(`targetTime is only for strategy "point-in-time"; remove it (strategy "${strategy}" restores the newest recovery point)`);
    } else {
      const text = typeof v.targetTime === 'string' ? v.targetTime : '';
      const date = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text) ? new Date(text) : new Date(Number.NaN);
      if (Number.isNaN(date.getTime())) {
        problems.push(`targetTime must be an ISO-8601 time with a zone, such as 2024-05-01T02:30:00Z; got ${describe(v.targetTime)}`);
      } else if (date.getTime() > now.getTime() + TARGET_TIME_SKEW_MS) {
        problems.push(`targetTime ${date.toISOString()} is in the future; pick a time at or before now (${now.toISOString()})`);
      } else {
        targetTime = date.toISOString();
      }
    }
  } else if (strategy === 'point-in-time') {
    problems.push('targetTime is required for strategy "point-in-time": the moment to restore to, such as 2024-05-01T02:30:00Z');
  }

  if (problems.length > 0 || strategy === undefined) {
    throw new InvalidInput(`invalid failover input: ${problems.join('; ')}`);
  }
  return {
    strategy,
    ...(targetTime !== undefined ? { targetTime } : {}),
    dryRun: v.dryRun as boolean,
    acceptDataLoss: v.acceptDataLoss === true,
    reason: (v.reason as string).trim(),
  };
}

/** Parses the STRATEGIES configuration (comma-separated). */
export function parseConfiguredStrategies(text: string): FailoverStrategyName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((n) => !(FAILOVER_STRATEGIES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) {
    throw new InvalidInput(`STRATEGIES must list ${FAILOVER_STRATEGIES.join(', ')} (comma-separated); got ${JSON.stringify(text)}`);
  }
  return names as FailoverStrategyName[];
}

/** Validates an already-validated request again where a later step receives it (state payloads can be edited). */
export function parseFailoverRequest(value: unknown, field = 'request'): FailoverRequest {
  const v = expectObject(value, field);
  const strategy = v.strategy;
  if (typeof strategy !== 'string' || !(FAILOVER_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new InvalidInput(`${field}.strategy must be one of ${FAILOVER_STRATEGIES.join(', ')}`);
  }
  if (typeof v.dryRun !== 'boolean') throw new InvalidInput(`${field}.dryRun must be true or false`);
  if (typeof v.acceptDataLoss !== 'boolean') throw new InvalidInput(`${field}.acceptDataLoss must be true or false`);
  if (typeof v.reason !== 'string' || v.reason === '') throw new InvalidInput(`${field}.reason must be a non-empty string`);
  if (v.targetTime !== undefined && (typeof v.targetTime !== 'string' || Number.isNaN(Date.parse(v.targetTime)))) {
    throw new InvalidInput(`${field}.targetTime must be an ISO-8601 time`);
  }
  return {
    strategy: strategy as FailoverStrategyName,
    ...(typeof v.targetTime === 'string' ? { targetTime: new Date(v.targetTime).toISOString() } : {}),
    dryRun: v.dryRun,
    acceptDataLoss: v.acceptDataLoss,
    reason: v.reason,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Names

/** The `cdk-backup-dr:purpose` tag value of failover resources. */
export const FAILOVER_PURPOSE = 'failover';

/** Tag keys a failover adds to what it creates (besides creator, purpose and execution). */
export const FAILOVER_TAGS = {
  /** `true` on what a dry run creates: only such resources are ever deleted by the Failover state machine. */
  dryRun: DRY_RUN_TAG,
  /** The strategy that created the resource. */
  strategy: 'cdk-backup-dr:strategy',
} as const;

/** Which RDS resource a failover creates: an instance, or an Aurora cluster with one instance. */
export type FailoverResource = 'instance' | 'cluster';

/** The names of what one failover execution creates. */
export interface FailoverNames {
  readonly resource: FailoverResource;
  /** The instance, or the cluster: what is waited on and connected to. */
  readonly identifier: string;
  /** The DB instance: `identifier`, or the cluster's writer `<identifier>-1`. */
  readonly instanceIdentifier: string;
  readonly clusterIdentifier?: string;
  /** `cdk-backup-dr/failover/<identifier>`. */
  readonly secretName: string;
}

/** The execution's scope, as every step that creates or deletes receives it. */
export interface ExecutionScope {
  /** `$$.Execution.Id`. */
  readonly executionId: string;
  /** `$$.Execution.Name`. */
  readonly executionName: string;
}

const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(execution|express):[^:]+:[^:]+(:[^:]+)?$/;

/** Validates `executionId` / `executionName` of a step's input. */
export function parseExecutionScope(v: JsonObject): ExecutionScope {
  const executionId = v.executionId;
  if (typeof executionId !== 'string' || !EXECUTION_ARN.test(executionId)) {
    throw new InvalidInput(`executionId must be a Step Functions execution ARN ($$.Execution.Id); got ${describe(executionId)}`);
  }
  const executionName = v.executionName;
  if (typeof executionName !== 'string' || executionName === '' || executionName.length > 80) {
    throw new InvalidInput(`executionName must be the execution's name ($$.Execution.Name, 1-80 characters); got ${describe(executionName)}`);
  }
  return { executionId, executionName };
}

/**
 * The names of what an execution creates (deterministic: a retried step and the cleanup compute the same ones):
 * `cdkbdr-fo-<execution name>-<hash of the execution ARN>`.
 */
export function failoverNames(scope: ExecutionScope, resource: FailoverResource): FailoverNames {
  const identifier = executionScopedIdentifier(FAILOVER_ID_PREFIX, scope.executionId, scope.executionName);
  const secretName = `${FAILOVER_SECRET_PREFIX}${identifier}`;
  if (resource === 'instance') return { resource, identifier, instanceIdentifier: identifier, secretName };
  return { resource, identifier, instanceIdentifier: `${identifier}-1`, clusterIdentifier: identifier, secretName };
}

