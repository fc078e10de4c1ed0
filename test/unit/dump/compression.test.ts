import { COMPRESSION_HINT, compressArgument, compressionProblem, DEFAULT_COMPRESSION, formatCompression, parseCompression } from '../../../lambda/postgres/compression';

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

describe('parseCompression / formatCompression', () => {
  it.each([
    ['none', { method: 'gzip', level: 0 }],
    ['gzip:3', { method: 'gzip', level: 3 }],
    ['zstd:22', { method: 'zstd', level: 22 }],
    ['lz4:12', { method: 'lz4', level: 12 }],
  ] as const)('%s round-trips', (text, compression) => {
    expect(parseCompression(text)).toEqual({ compression });
    expect(formatCompression(compression)).toBe(text);
  });

  it('writes gzip level 0 as none and defaults to gzip:3', () => {
    expect(formatCompression({ method: 'gzip', level: 0 })).toBe('none');
    expect(formatCompression(DEFAULT_COMPRESSION)).toBe('gzip:3');
  });

  it.each(['gzip', 'gzip:', 'GZIP:3', 'gzip:3:1', ' gzip:3', 'gzip:-1', 'gzip:100', ''])('refuses %j, naming the form', (text) => {
    expect(parseCompression(text)).toEqual({ problem: `${COMPRESSION_HINT}; got ${JSON.stringify(text)}` });
  });

  it('refuses a level out of the method range', () => {
    expect(parseCompression('zstd:23')).toEqual({ problem: 'compression.level for zstd must be a whole number from 1 to 22; got 23' });
    expect(parseCompression('snappy:1')).toEqual({ problem: 'compression.method must be one of gzip, zstd, lz4; got "snappy"' });
  });
});
