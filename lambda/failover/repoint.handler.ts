/**
 * Repoint handler: points the application at the database a failover brought up, through what the application reads
 * its endpoint from — each configured in the Failover construct's props (REPOINT_TARGETS):
 * - an SSM parameter: PutParameter with Overwrite (created as a String parameter when missing);
 * - a Secrets Manager secret holding JSON: `host` and `port` (field names configurable) merged in, PutSecretValue
 *   with a ClientRequestToken derived from the execution, so a retried task makes no second version;
 * - a Route 53 CNAME record: UPSERT.
 * Idempotent: a target that already points at the endpoint is left alone (`unchanged`). Every previous value is
 * returned for the report, which is what failing back puts back. Credentials never leave the secret.
 */
import { PutParameterCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { InvalidInput } from '../common/errors';
import { logger } from '../common/logger';
import { DbEndpoint } from '../rds/instances';
import {
  CnameTarget,
  RepointChange,
  RepointTarget,
  describeRepointProgress,
  SecretTarget,
  SsmParameterTarget,
  formatEndpoint,
  mergeEndpointIntoSecret,
  normalizeRecordName,
  parseEndpoint,
  parseRepointTargets,
  secretRequestToken,
} from './repoint';
import { expectObject, expectString } from '../common/validate';

export type { RepointChange, RepointTarget } from './repoint';

/** Input of the repoint handler. */
export interface RepointInput {
  /** The endpoint of the new primary. */
  readonly endpoint: DbEndpoint;
  /** `$$.Execution.Id`: makes secret writes idempotent across retries. */
  readonly executionId: string;
}

/** Output of the repoint handler. */
export interface RepointOutput {
  readonly changes: readonly RepointChange[];
  /** When the last target was repointed (ISO-8601). */
  readonly at: string;
  readonly durationSeconds: number;
}

const ssm = new SSMClient({});
const secrets = new SecretsManagerClient({});
const route53 = new Route53Client({});

/** Validates the handler's input before any AWS call. */
export function parseRepointInput(event: unknown): RepointInput {
  const v = expectObject(event, 'input');
  return { endpoint: parseEndpoint(v.endpoint), executionId: expectString(v.executionId, 'executionId') };
}

async function repointParameter(target: SsmParameterTarget, endpoint: DbEndpoint): Promise<RepointChange> {
  const value = formatEndpoint(target.format, endpoint);
  let previous: string | null = null;
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: target.name }));
    previous = out.Parameter?.Value ?? null;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ParameterNotFound')) throw error;
  }
  if (previous === value) return { type: target.type, name: target.name, previous, current: value, action: 'unchanged' };
  // Overwrite keeps the parameter's type; a missing one is created as a String.
  await ssm.send(new PutParameterCommand({ Name: target.name, Value: value, Overwrite: true, ...(previous === null ? { Type: 'String' } : {}) }));
  return { type: target.type, name: target.name, previous, current: value, action: previous === null ? 'created' : 'updated' };
}

async function repointSecret(target: SecretTarget, endpoint: DbEndpoint, executionId: string): Promise<RepointChange> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: target.secretId }));
  const merge = mergeEndpointIntoSecret(out.SecretString, target.secretId, endpoint, target.hostField, target.portField);
  if (!merge.changed) return { type: target.type, name: target.secretId, previous: merge.previous, current: merge.current, action: 'unchanged' };
  await secrets.send(
    new PutSecretValueCommand({
      SecretId: target.secretId,
      SecretString: merge.next,
      ClientRequestToken: secretRequestToken(executionId, target.secretId, merge.current),
    }),
  );
  return { type: target.type, name: target.secretId, previous: merge.previous, current: merge.current, action: 'updated' };
}

async function repointRecord(target: CnameTarget, endpoint: DbEndpoint): Promise<RepointChange> {
  const name = normalizeRecordName(target.recordName);
  const out = await route53.send(
    new ListResourceRecordSetsCommand({ HostedZoneId: target.hostedZoneId, StartRecordName: name, StartRecordType: 'CNAME', MaxItems: 1 }),
  );
  const existing = (out.ResourceRecordSets ?? []).find((r) => normalizeRecordName(r.Name ?? '') === name && r.Type === 'CNAME');
  const previousValue = existing?.ResourceRecords?.[0]?.Value ?? null;
  const previous = previousValue === null ? null : `${previousValue} (TTL ${existing?.TTL ?? '?'})`;
  const current = `${endpoint.host} (TTL ${target.ttlSeconds})`;
  if (previousValue !== null && normalizeRecordName(previousValue) === normalizeRecordName(endpoint.host) && existing?.TTL === target.ttlSeconds) {
    return { type: target.type, name, previous, current, action: 'unchanged' };
  }
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: target.hostedZoneId,
      ChangeBatch: {
        Comment: 'cdk-backup-dr failover repoint',
        Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: name, Type: 'CNAME', TTL: target.ttlSeconds, ResourceRecords: [{ Value: endpoint.host }] } }],
      },
    }),
  );
  return { type: target.type, name, previous, current, action: previousValue === null ? 'created' : 'updated' };
}

function repointTarget(target: RepointTarget, input: RepointInput): Promise<RepointChange> {
  switch (target.type) {
    case 'ssm-parameter':
      return repointParameter(target, input.endpoint);
    case 'secret':
      return repointSecret(target, input.endpoint, input.executionId);
    case 'cname':
      return repointRecord(target, input.endpoint);
  }
}

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed input or a secret that does not hold a JSON object, MissingConfiguration for a
 *   malformed REPOINT_TARGETS, and AWS errors under their own names; a failed target's error message ends with what
 *   was already repointed (and its previous value) and what was not attempted. Targets before the failing one stay
 *   repointed; a retry finds them `unchanged`.
 * @example
 * { "endpoint": { "host": "cdkbdr-fo-x-1a2b3c4d.abc.us-west-2.rds.amazonaws.com", "port": 5432 },
 *   "executionId": "arn:aws:states:us-west-2:111111111111:execution:Failover:region-outage" }
 */
export async function handler(event: unknown): Promise<RepointOutput> {
  const started = Date.now();
  const input = parseRepointInput(event);
  const targets = parseRepointTargets(process.env.REPOINT_TARGETS);
  if (targets.length === 0) throw new InvalidInput('no repoint targets are configured; nothing to repoint');
  const changes: RepointChange[] = [];
  for (const [index, target] of targets.entries()) {
    let change: RepointChange;
    try {
      change = await repointTarget(target, input);
    } catch (error) {
      // The error keeps its name (Retry and Catch match on it); its message gains what was done, which the report shows.
      if (error instanceof Error) {
        error.message = `${error.message} (${describeRepointProgress(changes, target, targets.slice(index + 1))})`;
      }
      throw error;
    }
    logger.info('repointed', { type: change.type, name: change.name, action: change.action });
    changes.push(change);
  }
  return { changes, at: new Date().toISOString(), durationSeconds: Math.round((Date.now() - started) / 10) / 100 };
}
