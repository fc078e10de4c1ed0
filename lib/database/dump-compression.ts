import { Token } from 'aws-cdk-lib';
import { ConfigurationError } from '../common/errors';
import {
  COMPRESSION_LEVELS,
  compressionProblem,
  DEFAULT_COMPRESSION,
  formatCompression,
  METHOD_COMPRESSION_MIN_MAJOR,
  type Compression,
  type CompressionMethod,
} from '../../lambda/postgres/compression';

/**
 * How pg_dump compresses a dump (`pg_dump --compress`). gzip works with every pg_dump; zstd and lz4 need a
 * `postgresVersion` (the pg_dump in the layer) of 16 or newer, which {@link PostgresBackup} checks at synth.
 * The method and level are recorded in each backup's manifest; a restore needs a pg_restore that can read them.
 *
 * @example
 * new PostgresBackup(this, 'Backup', {
 *   ...backupProps,
 *   dumpCompression: DumpCompression.gzip(1), // faster dumps, larger objects
 * });
 */
export class DumpCompression {
  /** gzip level 3: the default, chosen by measurement (docs/benchmarks.md#compression-level). */
  public static readonly DEFAULT = new DumpCompression(DEFAULT_COMPRESSION);

  /** gzip at `level` 0 (none) to 9 (smallest, slowest). */
  public static gzip(level: number): DumpCompression {
    return DumpCompression.of('gzip', level);
  }

  /** zstd at `level` 1 to 22; needs pg_dump (`postgresVersion`) 16 or newer. */
  public static zstd(level: number): DumpCompression {
    return DumpCompression.of('zstd', level);
  }

  /** lz4 at `level` 1 to 12; needs pg_dump (`postgresVersion`) 16 or newer. */
  public static lz4(level: number): DumpCompression {
    return DumpCompression.of('lz4', level);
  }

  /** No compression (gzip level 0): the largest objects, the least CPU. */
  public static none(): DumpCompression {
    return new DumpCompression({ method: 'gzip', level: 0 });
  }

  private static of(method: CompressionMethod, level: number): DumpCompression {
    const factory = `DumpCompression.${method}`;
    if (Token.isUnresolved(level)) {
      throw new ConfigurationError('level must be a literal number, not a token', undefined, { subject: factory });
    }
    const problem = compressionProblem({ method, level }, Number.POSITIVE_INFINITY);
    if (problem) {
      const { min, max } = COMPRESSION_LEVELS[method];
      throw new ConfigurationError(`level must be a whole number from ${min} to ${max}; got ${level}.`, undefined, { subject: factory });
    }
    return new DumpCompression({ method, level });
  }

  /** The compression method. */
  public readonly method: CompressionMethod;
  /** The level (0 = none, gzip only). */
  public readonly level: number;

  private constructor(compression: Compression) {
    this.method = compression.method;
    this.level = compression.level;
  }

  /** As the dump handler's input and the manifest write it: `gzip:3`, `zstd:5`, `none`. */
  public toString(): string {
    return formatCompression({ method: this.method, level: this.level });
  }

  /**
   * Why a pg_dump of `postgresVersion` cannot write this compression, saying what to change; undefined when it can.
   */
  public problemWith(postgresVersion: number): string | undefined {
    if (this.method === 'gzip' || postgresVersion >= METHOD_COMPRESSION_MIN_MAJOR) return undefined;
    return `dumpCompression ${this} needs postgresVersion ${METHOD_COMPRESSION_MIN_MAJOR} or newer (pg_dump ` +
      `${postgresVersion} has no ${this.method}); use DumpCompression.gzip(level), or raise postgresVersion.`;
  }
}
