import { compressArgument, compressionProblem } from '../../../lambda/postgres/compression';

describe('compression', () => {
  it.each([
    [{ method: 'gzip', level: 0 }, 15, '--compress=0'],
    [{ method: 'gzip', level: 6 }, 15, '--compress=6'],
    [{ method: 'gzip', level: 9 }, 17, '--compress=9'],
    [{ method: 'zstd', level: 3 }, 16, '--compress=zstd:3'],
    [{ method: 'lz4', level: 1 }, 18, '--compress=lz4:1'],
  ] as const)('%j with pg_dump %i is %s', (compression, major, argument) => {
    expect(compressArgument(compression, major)).toBe(argument);
  });

  it.each([
    [{ method: 'zstd', level: 3 }, 15, 'zstd needs pg_dump 16 or newer; this pg_dump is 15: use gzip, or a PgToolsLayer of PostgreSQL 16+'],
    [{ method: 'lz4', level: 1 }, 15, 'lz4 needs pg_dump 16 or newer; this pg_dump is 15: use gzip, or a PgToolsLayer of PostgreSQL 16+'],
    [{ method: 'gzip', level: 10 }, 15, 'compression.level for gzip must be a whole number from 0 to 9; got 10'],
    [{ method: 'gzip', level: 1.5 }, 15, 'compression.level for gzip must be a whole number from 0 to 9; got 1.5'],
    [{ method: 'zstd', level: 0 }, 16, 'compression.level for zstd must be a whole number from 1 to 22; got 0'],
    [{ method: 'brotli', level: 1 }, 16, 'compression.method must be one of gzip, zstd, lz4; got "brotli"'],
  ] as const)('refuses %j with pg_dump %i, saying what to change', (compression, major, message) => {
    expect(compressionProblem(compression as never, major)).toBe(message);
    expect(() => compressArgument(compression as never, major)).toThrow(message);
  });
});
