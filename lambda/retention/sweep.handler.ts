/**
 * Sweeper handler: deletes the scratch databases and secrets that recovery tests and failover rehearsals of the
 * watched state machines left when they timed out or were aborted (./sweep-core.ts says exactly what), in the Lambda's
 * region; writes the report to `reports/sweep/…` in the backup bucket, publishes the sweep metrics, and throws
 * SweepFailed after the report when a deletion was refused, so the run ends FAILED.
 *
 * Event: `{ "request": <execution input>, "executionName": … }` from the state machine, or `{ "dryRun"?: boolean }`
 * by hand; the request takes only `dryRun` (default false), checked before anything is listed.
 *
 * Environment: BUCKET_NAME, BUCKET_KMS_KEY_ARN (reports), SWEPT_STATE_MACHINES (comma-separated state machine ARNs).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { InvalidInput, MissingConfiguration, SweepFailed, requireEnv, requireEnvList } from '../common/errors';
import { logger, metrics } from '../common/logger';
import { CLEANUP_DIMENSIONS, SWEEP_METRICS } from '../common/metrics';
import { SWEEP_REPORT_PREFIX } from '../common/names';
import { expectObject } from '../common/validate';
import { putTextObject } from '../aws/s3';
import { formatKeyTimestamp } from '../backup/manifest';
import { STATE_MACHINE_ARN_PATTERN } from './cleanup-input';
import { SweepResult, sweep } from './sweep-core';

/** What a person (or the schedule) asks of one sweep. */
export interface SweepRequest {
  /**
   * Decide and report, delete nothing.
   * @default false
   */
  readonly dryRun?: boolean;
}

/** The event from the state machine: the execution input as given, and `$$.Execution.Name` for the report key. */
export interface SweepTaskEvent {
  readonly request: SweepRequest;
  readonly executionName: string;
}

/** The report of one sweep, written to `reports/sweep/…`. */
export interface SweepReport extends SweepResult {
  readonly workflow: 'sweep';
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly stateMachines: readonly string[];
}

/** What the state machine gets back. */
export interface SweepOutput {
  readonly status: SweepReport['status'];
  readonly dryRun: boolean;
  readonly reportKey: string;
  readonly deleted: number;
  readonly running: number;
}

/** Validates the event. @throws InvalidInput naming the field */
export function parseSweepEvent(value: unknown): { readonly dryRun: boolean; readonly executionName?: string } {
  const event = expectObject(value, 'event');
  const fromMachine = 'request' in event;
  const request = fromMachine ? expectObject(event.request, 'the execution input') : event;
  const allowed = fromMachine ? ['dryRun'] : ['dryRun', 'executionName'];
  const unknown = Object.keys(request).filter((key) => !allowed.includes(key));
  if (fromMachine && Object.keys(event).some((key) => key !== 'request' && key !== 'executionName')) {
    throw new InvalidInput('the state machine sends request and executionName only');
  }
  if (unknown.length > 0) throw new InvalidInput(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}: a sweep request takes only dryRun (true or false)`);
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') throw new InvalidInput(`dryRun must be true or false (a JSON boolean); got ${JSON.stringify(request.dryRun)}`);
  const executionName = event.executionName;
  if (executionName !== undefined && (typeof executionName !== 'string' || executionName === '' || executionName.length > 80)) {
    throw new InvalidInput(`executionName must be a string of 1 to 80 characters; got ${JSON.stringify(executionName)}`);
  }
  return { dryRun: request.dryRun === true, ...(executionName ? { executionName } : {}) };
}

const s3 = new S3Client({});
const secrets = new SecretsManagerClient({});

export async function handler(event: unknown): Promise<SweepOutput> {
  const input = parseSweepEvent(event);
  const region = requireEnv('AWS_REGION');
  const bucket = requireEnv('BUCKET_NAME');
  const kmsKeyId = requireEnv('BUCKET_KMS_KEY_ARN');
  const stateMachines = requireEnvList('SWEPT_STATE_MACHINES');
  for (const arn of stateMachines) {
    if (!STATE_MACHINE_ARN_PATTERN.test(arn)) throw new MissingConfiguration(`SWEPT_STATE_MACHINES must list state machine ARNs separated by commas; got ${JSON.stringify(arn)}`);
  }

  const startedAt = new Date();
  let result: SweepResult;
  try {
    result = await sweep({ region, stateMachineArns: stateMachines, secrets, dryRun: input.dryRun });
  } catch (error) {
    result = { region, dryRun: input.dryRun, resources: [], deleted: 0, errors: [`listing failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`] };
  }
  const report: SweepReport = {
    workflow: 'sweep',
    status: result.errors.length === 0 ? 'SUCCEEDED' : 'FAILED',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    stateMachines,
    ...result,
  };
  const stamp = formatKeyTimestamp(startedAt);
  const name = input.executionName ? `-${input.executionName.replace(/[^A-Za-z0-9._-]/g, '_')}` : '';
  const reportKey = `${SWEEP_REPORT_PREFIX}${stamp.slice(0, 4)}/${stamp.slice(4, 6)}/${stamp.slice(6, 8)}/${stamp}${name}.json`;
  await putTextObject(s3, bucket, reportKey, JSON.stringify(report, null, 2), 'application/json', kmsKeyId);

  const running = result.resources.filter((r) => r.outcome === 'running').length;
  const single = metrics.singleMetric();
  single.setDefaultDimensions({ [CLEANUP_DIMENSIONS.region]: region });
  single.addMetric(SWEEP_METRICS.succeeded, MetricUnit.Count, report.status === 'SUCCEEDED' ? 1 : 0);
  single.addMetric(SWEEP_METRICS.deleted, MetricUnit.Count, result.deleted);
  single.addMetric(SWEEP_METRICS.running, MetricUnit.Count, running);
  single.addMetric(SWEEP_METRICS.errors, MetricUnit.Count, result.errors.length);
  logger.info('sweep report written', { reportKey, status: report.status, dryRun: input.dryRun, deleted: result.deleted, running, errors: result.errors.length });

  if (result.errors.length > 0) {
    throw new SweepFailed(`${result.errors.length} sweep step(s) failed (report s3://${bucket}/${reportKey}): ${result.errors.slice(0, 3).join('; ')}`);
  }
  return { status: report.status, dryRun: input.dryRun, reportKey, deleted: result.deleted, running };
}
