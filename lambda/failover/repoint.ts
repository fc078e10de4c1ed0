/**
 * Repointing the application at the database a failover brought up: the targets the Failover construct configures
 * (SSM parameters, Secrets Manager secrets, Route 53 CNAME records) and the pure decisions of the repoint handler —
 * what each target's new value is and whether it already has it. Running a repoint twice gives the same result: the
 * second run finds every target already pointing at the endpoint and changes nothing.
 */
import { createHash } from 'node:crypto';
import { InvalidInput, MissingConfiguration } from '../common/errors';
import { DbEndpoint } from '../rds/instances';

/** An SSM String parameter whose value is built from the endpoint with a template (`{host}`, `{port}`). */
export interface SsmParameterTarget {
  readonly type: 'ssm-parameter';
  readonly name: string;
  /** e.g. `{host}:{port}` or `postgres://{host}:{port}/app`. */
  readonly format: string;
}

/** A Secrets Manager secret holding JSON; the endpoint's host and port are merged into two of its fields. */
export interface SecretTarget {
  readonly type: 'secret';
  /** ARN (or name) of the secret. */
  readonly secretId: string;
  readonly hostField: string;
  readonly portField: string;
}

/** A Route 53 CNAME record pointing at the endpoint's host. */
export interface CnameTarget {
  readonly type: 'cname';
  readonly hostedZoneId: string;
  /** Fully qualified, e.g. `db.example.internal` (a trailing dot is optional). */
  readonly recordName: string;
  readonly ttlSeconds: number;
}

/** One configured repoint target. */
export type RepointTarget = SsmParameterTarget | SecretTarget | CnameTarget;

/** What the repoint did to one target. `previous` is what to put back when failing back. */
export interface RepointChange {
  readonly type: RepointTarget['type'];
  /** Parameter name, secret id, or record name. */
  readonly name: string;
  /** The value before this run (for a secret: `{"host":…,"port":…}`, never credentials); null when there was none. */
  readonly previous: string | null;
  /** The value after this run. */
  readonly current: string;
  /** `updated`: changed now; `unchanged`: it already pointed at the endpoint; `created`: it did not exist. */
  readonly action: 'updated' | 'unchanged' | 'created';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An SSM parameter name (as SSM accepts it). */
export const SSM_PARAMETER_NAME = /^\/?[A-Za-z0-9_.\-/]{1,2047}$/;

/**
 * Parses REPOINT_TARGETS (JSON written by the construct).
 *
 * @throws MissingConfiguration when it is not a well-formed list of targets
 */
export function parseRepointTargets(text: string | undefined): RepointTarget[] {
  if (text === undefined || text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MissingConfiguration('REPOINT_TARGETS is not JSON; the Failover construct writes it');
  }
  if (!Array.isArray(value)) throw new MissingConfiguration('REPOINT_TARGETS must be a JSON array of targets');
  return value.map((item: unknown, i) => {
    const where = `REPOINT_TARGETS[${i}]`;
    if (!isRecord(item)) throw new MissingConfiguration(`${where} must be an object`);
    switch (item.type) {
      case 'ssm-parameter':
        if (typeof item.name !== 'string' || !SSM_PARAMETER_NAME.test(item.name)) throw new MissingConfiguration(`${where}.name is not an SSM parameter name`);
        if (typeof item.format !== 'string' || !item.format.includes('{host}')) throw new MissingConfiguration(`${where}.format must contain {host}`);
        return { type: 'ssm-parameter', name: item.name, format: item.format };
      case 'secret':
        if (typeof item.secretId !== 'string' || item.secretId === '') throw new MissingConfiguration(`${where}.secretId must be a secret ARN`);
        if (typeof item.hostField !== 'string' || item.hostField === '') throw new MissingConfiguration(`${where}.hostField must be a field name`);
        if (typeof item.portField !== 'string' || item.portField === '') throw new MissingConfiguration(`${where}.portField must be a field name`);
        return { type: 'secret', secretId: item.secretId, hostField: item.hostField, portField: item.portField };
      case 'cname':
        if (typeof item.hostedZoneId !== 'string' || item.hostedZoneId === '') throw new MissingConfiguration(`${where}.hostedZoneId must be a hosted zone id`);
        if (typeof item.recordName !== 'string' || item.recordName === '') throw new MissingConfiguration(`${where}.recordName must be a DNS name`);
        if (typeof item.ttlSeconds !== 'number' || !Number.isInteger(item.ttlSeconds) || item.ttlSeconds < 0) {
          throw new MissingConfiguration(`${where}.ttlSeconds must be a whole number of seconds`);
        }
        return { type: 'cname', hostedZoneId: item.hostedZoneId, recordName: item.recordName, ttlSeconds: item.ttlSeconds };
      default:
        throw new MissingConfiguration(`${where}.type must be ssm-parameter, secret or cname; got ${JSON.stringify(item.type)}`);
    }
  });
}

/** Validates the endpoint the repoint handler is given. */
export function parseEndpoint(value: unknown, field = 'endpoint'): DbEndpoint {
  if (!isRecord(value)) throw new InvalidInput(`${field} must be an object { host, port }`);
  const host = value.host;
  if (typeof host !== 'string' || !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) {
    throw new InvalidInput(`${field}.host must be a DNS name or IP address; got ${JSON.stringify(host)}`);
  }
  const port = value.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidInput(`${field}.port must be a whole number from 1 to 65535; got ${JSON.stringify(port)}`);
  }
  return { host, port };
}

/** The value of an SSM parameter target: the format with `{host}` and `{port}` replaced. */
export function formatEndpoint(format: string, endpoint: DbEndpoint): string {
  return format.replace(/\{host\}/g, endpoint.host).replace(/\{port\}/g, String(endpoint.port));
}

/** `Db.Example.internal` → `db.example.internal.` (Route 53 answers with the trailing dot, lowercase). */
export function normalizeRecordName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** The result of merging an endpoint into a secret's JSON. */
export interface SecretMerge {
  /** The new SecretString (all other fields as they were). */
  readonly next: string;
  /** `{"host":…,"port":…}` before (only those two fields). */
  readonly previous: string;
  /** `{"host":…,"port":…}` after. */
  readonly current: string;
  readonly changed: boolean;
}

/**
 * Merges `endpoint` into the JSON of a secret: `hostField` = host, `portField` = port (a number), every other field
 * (username, password, …) kept. Never returns credentials outside `next`.
 *
 * @throws InvalidInput when the secret is not a JSON object (naming the secret, never its content)
 */
export function mergeEndpointIntoSecret(secretString: string | undefined, secretId: string, endpoint: DbEndpoint, hostField: string, portField: string): SecretMerge {
  let value: unknown;
  try {
    value = secretString === undefined ? undefined : JSON.parse(secretString);
  } catch {
    value = undefined;
  }
  if (!isRecord(value)) {
    throw new InvalidInput(`secret ${secretId} does not hold a JSON object; the repoint merges "${hostField}" and "${portField}" into one`);
  }
  const before = { host: value[hostField] ?? null, port: value[portField] ?? null };
  const changed = before.host !== endpoint.host || Number(before.port) !== endpoint.port || typeof before.port !== 'number';
  const next = changed ? JSON.stringify({ ...value, [hostField]: endpoint.host, [portField]: endpoint.port }) : (secretString as string);
  return {
    next,
    previous: JSON.stringify(before),
    current: JSON.stringify({ host: endpoint.host, port: endpoint.port }),
    changed,
  };
}

/**
 * A ClientRequestToken for PutSecretValue: the same execution writing the same value to the same secret sends the same
 * token, so Secrets Manager creates one version however often the task is retried.
 */
export function secretRequestToken(executionId: string, secretId: string, value: string): string {
  return createHash('sha256').update(`${executionId}\n${secretId}\n${value}`).digest('hex');
}

/** A target's name as the handler reports it (record names as normalized for the change). */
export function repointTargetName(target: RepointTarget): string {
  switch (target.type) {
    case 'ssm-parameter':
      return target.name;
    case 'secret':
      return target.secretId;
    case 'cname':
      return normalizeRecordName(target.recordName);
  }
}

/**
 * What a repoint that stopped at `failed` had done, for the error's message (Step Functions passes it to the report
 * as the cause): which targets already point at the new endpoint (with the value failing back puts back), which one
 * failed, and which were not attempted. An operator finishing by hand needs exactly this.
 */
export function describeRepointProgress(done: readonly RepointChange[], failed: RepointTarget, notAttempted: readonly RepointTarget[]): string {
  const already = done.length === 0
    ? 'no target was repointed'
    : `already repointed: ${done.map((c) => `${c.type} ${c.name} (${c.action}; was ${c.previous === null ? 'missing' : JSON.stringify(c.previous)})`).join(', ')}`;
  const rest = notAttempted.length === 0 ? '' : `; not attempted: ${notAttempted.map((t) => `${t.type} ${repointTargetName(t)}`).join(', ')}`;
  return `repoint stopped at ${failed.type} ${repointTargetName(failed)}; ${already}${rest}`;
}

