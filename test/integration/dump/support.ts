/**
 * Helpers shared by the dump and verify integration tests: seeding source databases, fingerprinting their
 * contents, restoring a dump, and checking that a failed dump left nothing in the bucket.
 */
import { spawn } from 'node:child_process';
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { harnessEnv } from '../../support/env';
import { withPgClient } from '../../support/postgres';

/** Per-table row count and content checksum (md5 of the rows' text in a fixed order). */
export interface TableFingerprint {
  readonly schema: string;
  readonly name: string;
  readonly rows: number;
  readonly md5: string;
}

/**
 * Creates a database with several schemas, a mixed-case quoted schema and table with a space in its name, a table
 * with a quote in its name, and (optionally) a large table of poorly compressible text of at least `bigTableMb` MB.
 */
export async function seedSource(database: string, options: { bigTableMb?: number; salt?: string } = {}): Promise<void> {
  const salt = options.salt ?? database;
  await withPgClient(database, async (client) => {
    await client.query(`
      CREATE SCHEMA sales;
      CREATE SCHEMA "MixedCase";
      CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, joined timestamptz NOT NULL);
      INSERT INTO public.customers (name, joined)
        SELECT 'customer ' || g || ' ${salt}', timestamptz '2024-01-01' + g * interval '1 hour' FROM generate_series(1, 2000) g;
      CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES public.customers(id), total numeric(12,2), meta jsonb);
      INSERT INTO sales.orders (customer_id, total, meta)
        SELECT 1 + g % 2000, round((g * 7.31)::numeric % 1000, 2), jsonb_build_object('n', g, 'tag', md5(g::text))
        FROM generate_series(1, 7000) g;
      CREATE TABLE "MixedCase"."Order Items" (id int PRIMARY KEY, "Qty" int, note text);
      INSERT INTO "MixedCase"."Order Items" SELECT g, g % 7, md5(g::text || '${salt}') FROM generate_series(1, 300) g;
      CREATE TABLE public."weird ""quoted"" name" (k text);
      INSERT INTO public."weird ""quoted"" name" VALUES ('a'), ('b'), (NULL);
      CREATE TABLE public.empty_table (id int);
    `);
    if (options.bigTableMb !== undefined) {
      // ~150 bytes per row of random hex: compresses to about half, so the dump stays large.
      const rows = Math.ceil((options.bigTableMb * 1024 * 1024) / 150);
      await client.query(`
        CREATE TABLE public.big_blob (id int PRIMARY KEY, payload text NOT NULL);
        INSERT INTO public.big_blob
          SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)
          FROM generate_series(1, ${rows}) g;
      `);
    }
  });
}

/** Size of a table including TOAST and indexes, in bytes. */
export async function tableBytes(database: string, qualified: string): Promise<number> {
  return withPgClient(database, async (client) => {
    const result = await client.query<{ size: string }>('SELECT pg_total_relation_size($1::regclass)::text AS size', [qualified]);
    return Number(result.rows[0].size);
  });
}

/** Fingerprints every user table of a database, sorted by schema and name. */
export async function fingerprint(database: string): Promise<TableFingerprint[]> {
  return withPgClient(database, async (client) => {
    const tables = await client.query<{ schema: string; name: string }>(`
      SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
      ORDER BY n.nspname::text COLLATE "C", c.relname::text COLLATE "C"`);
    const out: TableFingerprint[] = [];
    for (const { schema, name } of tables.rows) {
      const qualified = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      const result = await client.query<{ rows: string; md5: string | null }>(
        `SELECT count(*)::text AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${qualified} t`,
      );
      out.push({ schema, name, rows: Number(result.rows[0].rows), md5: result.rows[0].md5 ?? '' });
    }
    return out;
  });
}

/** Runs pg_restore (from PATH) into `database`, feeding it the object's bytes on stdin. */
export async function pgRestoreFromS3(s3: S3Client, bucket: string, key: string, versionId: string | null, database: string): Promise<void> {
  const { pg } = harnessEnv();
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  const body = object.Body as Readable;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('pg_restore', ['--no-owner', '--exit-on-error', '--dbname', database], {
      env: { PATH: process.env.PATH, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGPASSWORD: pg.password, PGSSLMODE: 'disable' },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_restore exited ${code}: ${stderr}`))));
    body.pipe(child.stdin);
  });
}

/** Every object version, delete marker and open multipart upload under `prefix`. */
export async function leftovers(s3: S3Client, bucket: string, prefix: string): Promise<{ versions: string[]; deleteMarkers: string[]; uploads: string[] }> {
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return {
    versions: (versions.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`),
    deleteMarkers: (versions.DeleteMarkers ?? []).map((v) => `${v.Key}@${v.VersionId}`),
    uploads: (uploads.Uploads ?? []).map((u) => `${u.Key}#${u.UploadId}`),
  };
}

/** Stores an RDS-style secret for the harness' PostgreSQL and returns its ARN. */
export async function createDbSecret(overrides: Record<string, unknown> = {}): Promise<string> {
  const { pg } = harnessEnv();
  const client = new SecretsManagerClient({});
  try {
    const out = await client.send(
      new CreateSecretCommand({
        Name: `db-${randomBytes(5).toString('hex')}`,
        SecretString: JSON.stringify({ engine: 'postgres', username: pg.user, password: pg.password, host: pg.host, port: pg.port, ...overrides }),
      }),
    );
    if (!out.ARN) throw new Error('CreateSecret returned no ARN');
    return out.ARN;
  } finally {
    client.destroy();
  }
}
