/** `verify`: re-hashes a backup from S3 against its manifest, and its replica copy. */
import { describeResult, verdictOf, verifyBackup, type VerifyResult } from '../../lambda/backup/verify-core';
import { withAws } from '../aws';
import { backupCandidates, checkManifestKey, chooseSource, replicaOf } from '../backups';
import { emit, EXIT, helpRequested, NotFound, parseOptions, stderrLog, USAGE_FOOTER, UsageError, type CliCommand } from '../io';
import { bucketOf, resolveStack } from '../stack';

const USAGE = `Usage: cdk-backup-dr verify (--bucket BUCKET | --stack STACK) (--manifest-key KEY | --latest) [options]

Streams the dump back from S3 and re-hashes it: size, SHA-256 and version id must equal the manifest's. Then the
same for the replica copy: the bucket's replication destination (found with GetBucketReplication), or
--replica-bucket. A replica not there yet is "pending" (exit 1: not verified yet). A dump in GLACIER or
DEEP_ARCHIVE cannot be read without a restore and counts as not verified.

Options:
  --bucket BUCKET          the backup bucket
  --stack STACK            take the bucket from this deployed stack
  --manifest-key KEY       postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.manifest.json
  --latest                 the newest backup of --source (default: the bucket's only source) and --database
  --source SOURCE          with --latest
  --database DB            with --latest
  --replica-bucket NAME    the replica (default: the bucket's replication destination)
  --replica-region REGION  its region (default: asked of S3)
  --skip-replica           check the primary copy only
  --quiet                  no progress on stderr

${USAGE_FOOTER}`;

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 're-hash a backup (by manifest key, or --latest) against its manifest, and its replica',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      bucket: { type: 'string' },
      stack: { type: 'string' },
      'manifest-key': { type: 'string' },
      latest: { type: 'boolean' },
      source: { type: 'string' },
      database: { type: 'string' },
      'replica-bucket': { type: 'string' },
      'replica-region': { type: 'string' },
      'skip-replica': { type: 'boolean' },
      quiet: { type: 'boolean' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const given = values['manifest-key'];
    if (given === undefined && !values.latest) throw new UsageError('name the backup: --manifest-key KEY or --latest');
    if (given !== undefined && values.latest) throw new UsageError('give --manifest-key or --latest, not both');
    if (given !== undefined) checkManifestKey(given);
    if (values['skip-replica'] && values['replica-bucket']) throw new UsageError('give --replica-bucket or --skip-replica, not both');
    if (!values.bucket && !values.stack) bucketOf(undefined, undefined);
    return withAws(values.region, [], async (aws) => {
      const bucket = bucketOf(values.stack ? await resolveStack(aws, values.stack) : undefined, values.bucket);
      const manifestKey =
        given ?? (await backupCandidates(aws.s3, bucket, await chooseSource(aws.s3, bucket, values.source), values.database))[0].manifestKey;
      let replica: { bucket: string; region: string } | undefined;
      if (values['replica-bucket']) {
        replica = { bucket: values['replica-bucket'], region: values['replica-region'] ?? (await aws.resolvedRegion()) };
      } else if (!values['skip-replica']) {
        replica = await replicaOf(aws.s3, bucket, (r) => aws.s3In(r));
        if (replica && values['replica-region']) replica = { ...replica, region: values['replica-region'] };
      }
      const result: VerifyResult = await verifyBackup({
        s3: aws.s3,
        bucket,
        manifestKey,
        ...(replica ? { replica: { ...replica, s3: aws.s3In(replica.region) } } : {}),
        ...(values.quiet ? {} : { log: stderrLog(io) }),
      });
      if (result.status === 'missing-manifest') throw new NotFound(`no manifest at s3://${bucket}/${manifestKey}: no backup there`);
      const verdict = verdictOf(result);
      emit(io, values.json, { verdict, ...result }, () =>
        [
          `${verdict === 'ok' ? 'OK' : verdict === 'not-ready' ? 'NOT YET' : 'FAILED'}: ${describeResult(result)}`,
          `primary s3://${bucket}/${result.dumpKey ?? '?'} ${result.status}${result.storageClass ? ` (${result.storageClass})` : ''}`,
          replica
            ? `replica s3://${replica.bucket} in ${replica.region}: ${result.replica?.status ?? 'not checked (primary not verified)'}`
            : `replica: ${values['skip-replica'] ? 'skipped' : 'none (the bucket does not replicate)'}`,
        ].join('\n') + '\n',
      );
      return verdict === 'ok' ? EXIT.ok : EXIT.failed;
    });
  },
};
