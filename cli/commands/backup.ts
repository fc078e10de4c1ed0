/** `backup`: runs the dump core once and prints the manifest. */
import { runDump } from '../../lambda/backup/dump-core';
import { serializeManifest, TIERS, type Tier } from '../../lambda/backup/manifest';
import { DEFAULT_COMPRESSION, formatCompression, parseCompression, type Compression } from '../../lambda/postgres/compression';
import { withAws } from '../aws';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, databaseTarget } from '../connection';
import { EXIT, helpRequested, parseOptions, stderrLog, USAGE_FOOTER, UsageError, type CliCommand } from '../io';

/** Parses `daily,weekly` into canonical tiers. @throws UsageError */
export function parseTiers(text: string): Tier[] {
  const names = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const unknown = names.filter((t) => !(TIERS as readonly string[]).includes(t));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(`--tiers must be a comma-separated list of ${TIERS.join(', ')}; got ${JSON.stringify(text)}`);
  }
  return TIERS.filter((tier) => names.includes(tier));
}

/** Parses `--compression` (`gzip:3`, `none`, `zstd:5`). @throws UsageError */
export function parseCompressionOption(text: string): Compression {
  const parsed = parseCompression(text);
  if ('problem' in parsed) throw new UsageError(`--compression ${parsed.problem.replace(/^compression\./, '')}`);
  return parsed.compression;
}

const USAGE = `Usage: cdk-backup-dr backup --bucket BUCKET --source SOURCE [--database-url URL] [options]

Dumps one database with pg_dump -Fc into s3://BUCKET/postgres/SOURCE/<database>/<YYYY>/<MM>/<DD>/<timestamp>.dump,
streamed (constant memory) with SHA-256, then writes its manifest (.manifest.json) and prints the manifest.
Nothing is left in the bucket if it fails; the error names the step, AWS's error code and what to do. The bucket
may be unversioned (the manifest then has no version id); with versioning on, the credentials need
s3:GetObjectVersion (else s3:GetObject), s3:PutObject, s3:AbortMultipartUpload, s3:DeleteObjectVersion (else
s3:DeleteObject) on the keys and s3:ListBucketMultipartUploads on the bucket.

Options:
${DATABASE_OPTIONS_HELP}  --bucket BUCKET      the backup bucket
  --source SOURCE      name of the database server in the keys (letters, digits, . _ -)
  --kms-key-id KEY     SSE-KMS key for the objects (default: the bucket's default encryption)
  --tiers LIST         comma-separated tiers this backup satisfies (default: daily)
  --compression C      pg_dump's compression: none, gzip:0-9, or zstd:1-22 / lz4:1-12 with pg_dump 16+
                       (default: ${formatCompression(DEFAULT_COMPRESSION)}; see docs/benchmarks.md#compression-level)
  --pg-dump PATH       pg_dump binary (default: PG_DUMP_PATH, else pg_dump on PATH)
  --quiet              no progress on stderr

${USAGE_FOOTER}`;

export const backupCommand: CliCommand = {
  name: 'backup',
  summary: 'dump one database into the backup bucket and print its manifest',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      ...DATABASE_OPTIONS,
      bucket: { type: 'string' },
      source: { type: 'string' },
      'kms-key-id': { type: 'string' },
      tiers: { type: 'string' },
      compression: { type: 'string' },
      'pg-dump': { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const { bucket, source } = values;
    if (!bucket) throw new UsageError('--bucket is required');
    if (!source) throw new UsageError('--source is required');
    const tiers = parseTiers(values.tiers ?? 'daily');
    const compression = values.compression === undefined ? DEFAULT_COMPRESSION : parseCompressionOption(values.compression);
    const target = databaseTarget(values, io.env, (m) => io.stderr(`warn ${m}\n`));
    return withAws(values.region, [target.password], async (aws) => {
      const result = await runDump({
        target,
        bucket,
        kmsKeyId: values['kms-key-id'],
        source,
        tiers,
        compression,
        s3: aws.s3,
        signal: io.signal,
        pgDumpPath: values['pg-dump'],
        log: values.quiet ? undefined : stderrLog(io),
      });
      io.stdout(serializeManifest(result.manifest));
      return EXIT.ok;
    });
  },
};
