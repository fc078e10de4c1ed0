/**
 * pg_dump's compression, as a value the dump input carries: `gzip` with a level (every pg_dump), or `zstd` / `lz4`
 * (pg_dump 16 and newer only). Pure: validation and the `--compress` argument.
 */

/** The methods pg_dump knows. */
export const COMPRESSION_METHODS = ['gzip', 'zstd', 'lz4'] as const;
export type CompressionMethod = (typeof COMPRESSION_METHODS)[number];

/** A compression choice. `level` 0 = none (gzip only). */
export interface Compression {
  readonly method: CompressionMethod;
  readonly level: number;
}

/** The levels each method accepts (pg_dump's own ranges). */
export const COMPRESSION_LEVELS: Record<CompressionMethod, { readonly min: number; readonly max: number }> = {
  gzip: { min: 0, max: 9 },
  zstd: { min: 1, max: 22 },
  lz4: { min: 1, max: 12 },
};

/** The first pg_dump major that takes `--compress=zstd:N` / `lz4:N`. */
export const METHOD_COMPRESSION_MIN_MAJOR = 16;

/**
 * Why `compression` cannot be used with a pg_dump of `pgDumpMajor`, or undefined when it can. The message says what
 * to change.
 */
export function compressionProblem(compression: Compression, pgDumpMajor: number): string | undefined {
  if (!(COMPRESSION_METHODS as readonly string[]).includes(compression.method)) {
    return `compression.method must be one of ${COMPRESSION_METHODS.join(', ')}; got ${JSON.stringify(compression.method)}`;
  }
  const range = COMPRESSION_LEVELS[compression.method];
  if (!Number.isInteger(compression.level) || compression.level < range.min || compression.level > range.max) {
    return `compression.level for ${compression.method} must be a whole number from ${range.min} to ${range.max}; got ${JSON.stringify(compression.level)}`;
  }
  if (compression.method !== 'gzip' && pgDumpMajor < METHOD_COMPRESSION_MIN_MAJOR) {
    return (
      `${compression.method} needs pg_dump ${METHOD_COMPRESSION_MIN_MAJOR} or newer; this pg_dump is ${pgDumpMajor}: ` +
      `use gzip, or a PgToolsLayer of PostgreSQL ${METHOD_COMPRESSION_MIN_MAJOR}+`
    );
  }
  return undefined;
}

/**
 * The `--compress` argument: `-Z N` form for gzip (understood by every pg_dump), `method:level` for zstd and lz4.
 *
 * @throws Error with {@link compressionProblem}'s message.
 */
export function compressArgument(compression: Compression, pgDumpMajor: number): string {
  const problem = compressionProblem(compression, pgDumpMajor);
  if (problem) throw new Error(problem);
  return compression.method === 'gzip' ? `--compress=${compression.level}` : `--compress=${compression.method}:${compression.level}`;
}

/** The compression a dump uses when none is given: gzip level 3 (chosen by measurement, docs/benchmarks.md#compression-level). */
export const DEFAULT_COMPRESSION: Compression = { method: 'gzip', level: 3 };

/** How a compression is written in inputs, manifests and the CLI: `gzip:3`, `zstd:5`, or `none` (= gzip level 0). */
export function formatCompression(compression: Compression): string {
  return compression.method === 'gzip' && compression.level === 0 ? 'none' : `${compression.method}:${compression.level}`;
}

/** The accepted spellings, for messages. */
export const COMPRESSION_HINT = 'must be "none" or <method>:<level> with method gzip (0-9), zstd (1-22) or lz4 (1-12), e.g. "gzip:3"';

/**
 * Parses {@link formatCompression}'s form and checks the level's range (whatever the pg_dump; the pg_dump's own
 * limits are checked by {@link compressionProblem} once its version is known).
 *
 * @returns the compression, or a message that says what to change.
 */
export function parseCompression(text: string): { readonly compression: Compression } | { readonly problem: string } {
  if (text === 'none') return { compression: { method: 'gzip', level: 0 } };
  const m = /^([a-z0-9]+):(\d{1,2})$/.exec(text);
  if (!m) return { problem: `${COMPRESSION_HINT}; got ${JSON.stringify(text)}` };
  const compression = { method: m[1] as CompressionMethod, level: Number(m[2]) };
  const problem = compressionProblem(compression, Number.POSITIVE_INFINITY);
  return problem === undefined ? { compression } : { problem };
}
