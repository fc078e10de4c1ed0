/**
 * Server-side generator of a benchmark database: realistic column types (text, numeric, timestamptz, uuid, jsonb)
 * filled with mostly random, poorly compressible content, grown in generate_series batches until
 * pg_database_size reaches the requested size.
 */
import { Client } from 'pg';

const FIRST_NAMES = ['Ada', 'Alan', 'Barbara', 'Claude', 'Donald', 'Edsger', 'Frances', 'Grace', 'Hedy', 'Ivan',
  'John', 'Katherine', 'Leslie', 'Margaret', 'Niklaus', 'Ole', 'Radia', 'Shafi', 'Tim', 'Whitfield'];
const LAST_NAMES = ['Lovelace', 'Turing', 'Liskov', 'Shannon', 'Knuth', 'Dijkstra', 'Allen', 'Hopper', 'Lamarr',
  'Sutherland', 'McCarthy', 'Johnson', 'Lamport', 'Hamilton', 'Wirth', 'Dahl', 'Perlman', 'Goldwasser', 'Berners-Lee',
  'Diffie'];
const WORDS = ['backup', 'restore', 'replica', 'snapshot', 'region', 'bucket', 'archive', 'glacier', 'failover',
  'latency', 'checkpoint', 'vacuum', 'index', 'tuple', 'commit', 'rollback', 'segment', 'manifest', 'digest', 'stream',
  'shipment', 'invoice', 'refund', 'coupon', 'warehouse', 'parcel', 'courier', 'customer', 'account', 'ledger'];

function sqlArray(values: readonly string[]): string {
  return `ARRAY[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')}]`;
}

/** DDL of the benchmark schema and its helper functions. Idempotent. */
export const SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS bench;
-- n random bytes as base64 (6 bits of entropy per character: compresses poorly, like real opaque payloads).
CREATE OR REPLACE FUNCTION bench.rand_b64(n integer) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT translate(encode(substr(decode(string_agg(md5(random()::text), ''), 'hex'), 1, n), 'base64'), E'\\n', '')
  FROM generate_series(1, (n + 15) / 16)
$$;
CREATE OR REPLACE FUNCTION bench.pick(words text[]) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT words[1 + floor(random() * array_length(words, 1))::int]
$$;
CREATE OR REPLACE FUNCTION bench.sentence(n integer) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(bench.pick(${sqlArray(WORDS)}), ' ') FROM generate_series(1, n)
$$;
CREATE TABLE IF NOT EXISTS bench.customers (
  id bigint PRIMARY KEY,
  full_name text NOT NULL,
  email text NOT NULL,
  country char(2) NOT NULL,
  balance numeric(14, 2) NOT NULL,
  created_at timestamptz NOT NULL,
  profile jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS bench.orders (
  id bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  placed_at timestamptz NOT NULL,
  status text NOT NULL,
  amount numeric(12, 2) NOT NULL,
  quantity integer NOT NULL,
  weight_kg double precision,
  note text NOT NULL,
  items jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer_id_idx ON bench.orders (customer_id);
CREATE TABLE IF NOT EXISTS bench.events (
  id bigint PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL,
  session_id uuid NOT NULL,
  body text NOT NULL,
  payload jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS events_occurred_at_idx ON bench.events (occurred_at);
`;

/** Rows of each table per "unit" of a batch: one customer, four orders, six events. */
export const ROWS_PER_UNIT = { customers: 1, orders: 4, events: 6 } as const;

/**
 * The INSERT statements of one batch of `units` units whose customer ids start after `firstUnit`.
 * Ids are derived from the unit number so batches never collide.
 */
export function batchSql(firstUnit: number, units: number): string[] {
  if (!Number.isInteger(firstUnit) || firstUnit < 0 || !Number.isInteger(units) || units < 1) {
    throw new Error(`batchSql needs integer firstUnit >= 0 and units >= 1, got ${firstUnit} and ${units}`);
  }
  const from = firstUnit + 1;
  const to = firstUnit + units;
  return [
    `INSERT INTO bench.customers
     SELECT g,
            bench.pick(${sqlArray(FIRST_NAMES)}) || ' ' || bench.pick(${sqlArray(LAST_NAMES)}),
            lower(bench.rand_b64(9)) || '@' || bench.pick(${sqlArray(['example.com', 'example.org', 'example.net'])}),
            bench.pick(${sqlArray(['DE', 'FR', 'US', 'GB', 'JP', 'BR', 'IN', 'NL', 'SE', 'ES'])}),
            round((random() * 200000 - 50000)::numeric, 2),
            timestamptz '2015-01-01' + random() * interval '10 years',
            jsonb_build_object('tier', bench.pick(${sqlArray(['free', 'pro', 'enterprise'])}),
                               'score', random(), 'api_key', bench.rand_b64(30),
                               'tags', jsonb_build_array(bench.pick(${sqlArray(WORDS)}), bench.pick(${sqlArray(WORDS)})))
     FROM generate_series(${from}, ${to}) AS g`,
    `INSERT INTO bench.orders
     SELECT (g - 1) * 4 + k,
            g,
            timestamptz '2015-01-01' + random() * interval '10 years',
            bench.pick(${sqlArray(['placed', 'paid', 'shipped', 'delivered', 'refunded', 'cancelled'])}),
            round((random() * 5000)::numeric, 2),
            1 + floor(random() * 20)::int,
            random() * 100,
            bench.sentence(4) || ' ' || bench.rand_b64(90),
            jsonb_build_array(
              jsonb_build_object('sku', bench.rand_b64(9), 'qty', 1 + floor(random() * 5)::int,
                                 'price', round((random() * 500)::numeric, 2)),
              jsonb_build_object('sku', bench.rand_b64(9), 'qty', 1 + floor(random() * 5)::int,
                                 'price', round((random() * 500)::numeric, 2), 'gift', random() < 0.1))
     FROM generate_series(${from}, ${to}) AS g, generate_series(1, 4) AS k`,
    `INSERT INTO bench.events
     SELECT (g - 1) * 6 + k,
            timestamptz '2020-01-01' + random() * interval '5 years',
            bench.pick(${sqlArray(['login', 'logout', 'view', 'search', 'checkout', 'error', 'api_call'])}),
            gen_random_uuid(),
            bench.rand_b64(240),
            jsonb_build_object('ip', concat_ws('.', floor(random() * 256)::int, floor(random() * 256)::int,
                                              floor(random() * 256)::int, floor(random() * 256)::int),
                               'latency_ms', round((random() * 2000)::numeric, 3),
                               'user_agent', bench.sentence(3), 'trace', bench.rand_b64(24))
     FROM generate_series(${from}, ${to}) AS g, generate_series(1, 6) AS k`,
  ];
}

export interface GeneratedDatabase {
  readonly database: string;
  readonly sizeBytes: number;
  readonly rows: Readonly<Record<string, number>>;
  readonly units: number;
  readonly seconds: number;
}

export async function databaseSize(client: Client): Promise<number> {
  const result = await client.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
  return Number(result.rows[0].size);
}

/**
 * Grows the database behind `client` until pg_database_size >= targetMb MiB, continuing from whatever units it
 * already holds (so a copy of a smaller generated database can be grown to a larger size). Ends with
 * VACUUM (FREEZE, ANALYZE) so the first dump does not pay for hint-bit writes.
 */
export async function generate(client: Client, targetMb: number, log: (line: string) => void): Promise<GeneratedDatabase> {
  const started = Date.now();
  const target = targetMb * 1024 * 1024;
  await client.query(SCHEMA_SQL);
  const existing = await client.query<{ units: string }>('SELECT coalesce(max(id), 0)::text AS units FROM bench.customers');
  let units = Number(existing.rows[0].units);
  let size = await databaseSize(client);
  // Start with a small probe batch, then size batches from the measured bytes per unit (about 16 MiB each,
  // never overshooting the remaining size by much).
  let next = 2000;
  while (size < target) {
    for (const sql of batchSql(units, next)) await client.query(sql);
    units += next;
    const grown = await databaseSize(client);
    const bytesPerUnit = Math.max(1, (grown - size) / next);
    size = grown;
    const remaining = target - size;
    next = Math.max(500, Math.ceil(Math.min(16 * 1024 * 1024, remaining * 1.02) / bytesPerUnit));
    log(`  ${(size / 1048576).toFixed(0)} / ${targetMb} MiB`);
  }
  await client.query('VACUUM (FREEZE, ANALYZE)');
  const counts = await client.query<{ table: string; rows: string }>(
    `SELECT 'customers' AS table, count(*)::text AS rows FROM bench.customers
     UNION ALL SELECT 'orders', count(*)::text FROM bench.orders
     UNION ALL SELECT 'events', count(*)::text FROM bench.events`,
  );
  const rows: Record<string, number> = {};
  for (const row of counts.rows) rows[`bench.${row.table}`] = Number(row.rows);
  return {
    database: client.database ?? '',
    sizeBytes: await databaseSize(client),
    rows,
    units,
    seconds: (Date.now() - started) / 1000,
  };
}
