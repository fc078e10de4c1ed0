/**
 * `status`: the health of a deployed stack at a glance: the newest backup's age against the RPO, the last recovery
 * test and its measured RTO, replication of the newest backup, alarms in ALARM, and the manual-snapshot quota.
 */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { getTextObjectOrUndefined, headObjectOrUndefined } from '../../lambda/aws/s3';
import { parseManifestJson } from '../../lambda/backup/manifest';
import { RECOVERY_REPORT_PREFIX } from '../../lambda/common/names';
import { manualSnapshotQuota, type SnapshotQuota } from '../../lambda/retention/cleanup-core';
import { listKeys } from '../../lambda/selection/dump-lookup';
import { withAws, type AwsClients } from '../aws';
import { backupCandidates, listSources, replicaOf } from '../backups';
import { durationSeconds, emit, EXIT, formatDuration, helpRequested, parseOptions, USAGE_FOOTER, type CliCommand } from '../io';
import { bucketOf, resolveStack, type ResolvedStack } from '../stack';
import { seconds } from '../run-workflow';

const USAGE = `Usage: cdk-backup-dr status --stack STACK [--rpo DURATION] [options]

The health of a deployed stack: per source and database the newest backup's age against the RPO, the last
recovery test (outcome, measured RTO, data age), whether the newest backup reached the replica (S3's replication
status), the stack's alarms in ALARM, and the account's manual-snapshot quota in the region. Exit 0 when all is
well, 1 when something needs attention (a backup older than the RPO, a failed recovery test, replication FAILED,
an alarm in ALARM).

Options:
  --stack STACK      the deployed stack
  --bucket BUCKET    the backup bucket (default: the stack's)
  --rpo DURATION     the RPO, e.g. 26h (default: the RPO of the last recovery test's report)

${USAGE_FOOTER}`;

interface DatabaseStatus {
  readonly source: string;
  readonly database: string;
  readonly manifestKey: string;
  readonly ageSeconds: number;
  readonly withinRpo?: boolean;
  /** S3's replication status of the newest dump (COMPLETED, PENDING, FAILED, REPLICA) or `none`. */
  readonly replication: string;
}

interface RecoveryStatus {
  readonly reportKey: string;
  readonly status?: string;
  readonly finishedAt?: string;
  readonly rtoSeconds?: number;
  readonly dataAgeSeconds?: number;
  readonly rpoSeconds?: number;
}

/** The newest recovery-test report of the bucket, or undefined. */
async function lastRecoveryTest(aws: AwsClients, bucket: string): Promise<RecoveryStatus | undefined> {
  const keys = (await listKeys(aws.s3, bucket, RECOVERY_REPORT_PREFIX)).filter((k) => k.endsWith('.json')).sort();
  const reportKey = keys[keys.length - 1];
  if (!reportKey) return undefined;
  const text = await getTextObjectOrUndefined(aws.s3, bucket, reportKey);
  const report = text === undefined ? {} : (JSON.parse(text) as Record<string, unknown>);
  const timings = (report.timings ?? {}) as Record<string, unknown>;
  const rto = seconds(timings.rtoSeconds);
  const age = seconds(report.dataAgeSeconds);
  const rpo = seconds(report.rpoSeconds);
  return {
    reportKey,
    ...(typeof report.status === 'string' ? { status: report.status } : {}),
    ...(typeof report.finishedAt === 'string' ? { finishedAt: report.finishedAt } : {}),
    ...(rto !== undefined ? { rtoSeconds: rto } : {}),
    ...(age !== undefined ? { dataAgeSeconds: age } : {}),
    ...(rpo !== undefined ? { rpoSeconds: rpo } : {}),
  };
}

/**
 * The stack's alarms and those in ALARM: the alarms among its resources, and those whose name starts with
 * `<stack>-` (CloudFormation names an alarm without AlarmName that way; it also finds them where an emulator does
 * not list alarms among a stack's resources).
 */
async function stackAlarms(aws: AwsClients, stack: ResolvedStack): Promise<{ watched: string[]; inAlarm: string[] }> {
  const states = new Map<string, string>();
  const read = async (request: { AlarmNames?: string[]; AlarmNamePrefix?: string }): Promise<void> => {
    let token: string | undefined;
    do {
      const page = await aws.cloudWatch.send(new DescribeAlarmsCommand({ ...request, NextToken: token }));
      for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
        if (alarm.AlarmName) states.set(alarm.AlarmName, alarm.StateValue ?? 'INSUFFICIENT_DATA');
      }
      token = page.NextToken;
    } while (token);
  };
  await read({ AlarmNamePrefix: `${stack.name}-` });
  const named = stack.alarms.filter((a) => !states.has(a));
  for (let i = 0; i < named.length; i += 100) await read({ AlarmNames: named.slice(i, i + 100) });
  const watched = [...states.keys()].sort();
  return { watched, inAlarm: watched.filter((a) => states.get(a) === 'ALARM') };
}

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'health of a deployed stack: backup age vs RPO, last recovery test and RTO, replication, alarms, quota',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, { stack: { type: 'string' }, bucket: { type: 'string' }, rpo: { type: 'string' } });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const rpoGiven = values.rpo === undefined ? undefined : durationSeconds(values.rpo, '--rpo', 0);
    if (!values.stack && !values.bucket) bucketOf(undefined, undefined);
    const now = io.now?.() ?? new Date();
    return withAws(values.region, [], async (aws) => {
      const stack = values.stack ? await resolveStack(aws, values.stack) : undefined;
      const bucket = bucketOf(stack, values.bucket);
      const region = await aws.resolvedRegion();
      const recovery = await lastRecoveryTest(aws, bucket);
      const rpoSeconds = rpoGiven ?? recovery?.rpoSeconds;
      const replica = await replicaOf(aws.s3, bucket, (r) => aws.s3In(r));
      const databases: DatabaseStatus[] = [];
      for (const source of await listSources(aws.s3, bucket)) {
        const newest = new Map<string, { manifestKey: string; timestamp: Date }>();
        for (const c of await backupCandidates(aws.s3, bucket, source)) if (!newest.has(c.database)) newest.set(c.database, c);
        for (const [database, c] of newest) {
          const ageSeconds = Math.max(0, Math.round((now.getTime() - c.timestamp.getTime()) / 1000));
          const text = await getTextObjectOrUndefined(aws.s3, bucket, c.manifestKey);
          const parsed = text === undefined ? undefined : parseManifestJson(text);
          const head = parsed?.ok ? await headObjectOrUndefined(aws.s3, bucket, parsed.manifest.s3.key, parsed.manifest.s3.versionId) : undefined;
          databases.push({
            source,
            database,
            manifestKey: c.manifestKey,
            ageSeconds,
            ...(rpoSeconds !== undefined ? { withinRpo: ageSeconds <= rpoSeconds } : {}),
            replication: head?.ReplicationStatus ?? 'none',
          });
        }
      }
      const { watched, inAlarm: alarms } = stack ? await stackAlarms(aws, stack) : { watched: [], inAlarm: [] };
      const quota: SnapshotQuota = await manualSnapshotQuota(region);
      const attention = [
        ...databases.filter((d) => d.withinRpo === false).map((d) => `${d.source}/${d.database}: newest backup is ${formatDuration(d.ageSeconds)} old, over the RPO`),
        ...databases.filter((d) => d.replication === 'FAILED').map((d) => `${d.source}/${d.database}: replication of the newest backup FAILED`),
        ...(recovery && recovery.status !== 'SUCCEEDED' ? [`last recovery test ${recovery.status ?? 'unknown'} (${recovery.reportKey})`] : []),
        ...(databases.length === 0 ? [`no backups in s3://${bucket}`] : []),
        ...alarms.map((a) => `alarm in ALARM: ${a}`),
      ];
      const result = {
        stack: stack?.name ?? null,
        region,
        bucket,
        rpoSeconds: rpoSeconds ?? null,
        databases,
        lastRecoveryTest: recovery ?? null,
        replica: replica ?? null,
        alarmsInAlarm: alarms,
        alarmsWatched: watched,
        snapshotQuota: quota,
        attention,
      };
      emit(io, values.json, result, () =>
        [
          `${attention.length === 0 ? 'OK' : 'ATTENTION'}: ${stack ? `stack ${stack.name}, ` : ''}s3://${bucket} in ${region}`,
          `RPO: ${rpoSeconds === undefined ? 'unknown (pass --rpo)' : formatDuration(rpoSeconds)}`,
          ...databases.map(
            (d) =>
              `backup ${d.source}/${d.database}: ${formatDuration(d.ageSeconds)} old${d.withinRpo === undefined ? '' : d.withinRpo ? ' (within RPO)' : ' (OVER RPO)'}, replication ${d.replication}`,
          ),
          recovery
            ? `last recovery test: ${recovery.status ?? '?'} at ${recovery.finishedAt ?? '?'}, RTO ${recovery.rtoSeconds === undefined ? '-' : formatDuration(recovery.rtoSeconds)}, data age ${recovery.dataAgeSeconds === undefined ? '-' : formatDuration(recovery.dataAgeSeconds)}`
            : 'last recovery test: none reported',
          `replica: ${replica ? `s3://${replica.bucket} in ${replica.region}` : 'none (the bucket does not replicate)'}`,
          `alarms: ${stack ? `${alarms.length} of ${watched.length} in ALARM${alarms.length ? ` (${alarms.join(', ')})` : ''}` : 'not checked (no --stack)'}`,
          `manual snapshots in ${quota.region}: ${quota.error ? `unknown (${quota.error})` : `${quota.used ?? '?'} of ${quota.max ?? '?'}`}`,
          ...attention.map((a) => `! ${a}`),
        ].join('\n') + '\n',
      );
      return attention.length === 0 ? EXIT.ok : EXIT.failed;
    });
  },
};
