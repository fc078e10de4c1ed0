/** `list`: the backups of a source, newest first, with age, size, tiers, storage class, lock and verification. */
import { withAws } from '../aws';
import { chooseSource, listBackups } from '../backups';
import { emit, EXIT, formatBytes, formatDuration, helpRequested, parseOptions, textTable, USAGE_FOOTER, wholeNumber, type CliCommand } from '../io';
import { bucketOf, resolveStack } from '../stack';

const USAGE = `Usage: cdk-backup-dr list (--bucket BUCKET | --stack STACK) [--source SOURCE] [--database DB] [options]

Lists the backups (dumps with their manifests) of a source, newest first: age, size, tiers, the dump's storage
class, its Object Lock, and what the backup run's verify said (from the backup reports; "unknown" when no report
names it). A backup whose manifest or dump object is missing is listed with the problem.

Options:
  --bucket BUCKET      the backup bucket (or its replica, with --region of the DR region)
  --stack STACK        take the bucket from this deployed stack's outputs or resources
  --source SOURCE      the database server (default: the bucket's only source)
  --database DB        only this database
  --limit N            the newest N backups, 1-1000 (default 20)

${USAGE_FOOTER}`;

export const listCommand: CliCommand = {
  name: 'list',
  summary: 'list the backups of a source with age, size, tiers, storage class, lock and verification',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      bucket: { type: 'string' },
      stack: { type: 'string' },
      source: { type: 'string' },
      database: { type: 'string' },
      limit: { type: 'string' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const limit = wholeNumber(values.limit, '--limit', 20, 1, 1000);
    if (!values.bucket && !values.stack) bucketOf(undefined, undefined);
    return withAws(values.region, [], async (aws) => {
      const bucket = bucketOf(values.stack ? await resolveStack(aws, values.stack) : undefined, values.bucket);
      const source = await chooseSource(aws.s3, bucket, values.source);
      const backups = await listBackups(aws.s3, bucket, { source, database: values.database, limit, now: io.now?.() ?? new Date() });
      emit(io, values.json, { bucket, source, backups }, () =>
        `s3://${bucket} — source ${source}, newest ${backups.length}\n` +
        textTable(
          ['started (UTC)', 'age', 'database', 'size', 'tiers', 'class', 'lock', 'verified', 'manifest'],
          backups.map((b) => [
            b.startedAt.slice(0, 19).replace('T', ' '),
            formatDuration(b.ageSeconds),
            b.database,
            b.bytes === undefined ? '-' : formatBytes(b.bytes),
            b.tiers?.join(',') ?? '-',
            b.storageClass ?? '-',
            b.lock ?? '-',
            b.verified,
            b.problem ? `${b.manifestKey} (${b.problem})` : b.manifestKey,
          ]),
        ),
      );
      return EXIT.ok;
    });
  },
};
