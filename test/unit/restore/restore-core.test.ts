import { createHash } from 'crypto';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { ChecksumMismatch } from '../../../lambda/common/errors';
import { LAYER_PG_RESTORE_PATH, resolvePgRestorePath } from '../../../lambda/postgres/pg-tools';
import {
  archiveIncompatibility,
  compressionIncompatibility,
  diskShortfall,
  majorVersion,
  normalizeJobs,
  pgRestoreArgs,
  sizeMismatch,
  VerifyingTap,
} from '../../../lambda/restore/restore-core';
import type { PgTarget } from '../../../lambda/postgres/target';

const target: PgTarget = { host: '127.0.0.1', port: 5432, user: 'postgres', password: 'pw-123456', database: 'app' };

async function feed(chunks: Buffer[], tap: VerifyingTap): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    tap,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('VerifyingTap', () => {
  const data = [Buffer.from('PGDMP'), Buffer.alloc(100_000, 7), Buffer.from('tail')];
  const whole = Buffer.concat(data);
  const sha256 = createHash('sha256').update(whole).digest('hex');

  it('passes the bytes through unchanged and reports size and digest when they match', async () => {
    const tap = new VerifyingTap({ bytes: whole.length, sha256, where: 'x' });
    const out = await feed(data, tap);
    expect(out.equals(whole)).toBe(true);
    expect(tap.bytes).toBe(whole.length);
    expect(tap.sha256).toBe(sha256);
  });

  it('fails with ChecksumMismatch when one byte differs', async () => {
    const tampered = [Buffer.from('PGDMQ'), data[1], data[2]];
    const tap = new VerifyingTap({ bytes: whole.length, sha256, where: 's3://b/k' });
    const error = await feed(tampered, tap).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatch);
    expect((error as Error).name).toBe('ChecksumMismatch');
    expect((error as Error).message).toContain('s3://b/k: sha256 is');
    expect((error as Error).message).toContain(sha256);
  });

  it('fails when the object is shorter than the manifest says', async () => {
    const tap = new VerifyingTap({ bytes: whole.length + 1, sha256, where: 'x' });
    await expect(feed(data, tap)).rejects.toThrow(`${whole.length} bytes but the manifest says ${whole.length + 1}`);
  });

  it('fails as soon as the object is longer than the manifest says, before the end', async () => {
    const tap = new VerifyingTap({ bytes: 10, sha256, where: 'x' });
    let passed = 0;
    const error = await pipeline(
      Readable.from(data),
      tap,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          passed += chunk.length;
          cb();
        },
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatch);
    expect((error as Error).message).toContain("more than the manifest's 10 bytes");
    expect(passed).toBe(5);
  });
});

describe('VerifyingTap holding back the end', () => {
  const whole = Buffer.alloc(300_000, 3);
  const sha256 = createHash('sha256').update(whole).digest('hex');
  const chunks = [whole.subarray(0, 100_000), whole.subarray(100_000, 250_000), whole.subarray(250_000)];

  it('releases everything, in order, once the checksum matched', async () => {
    const out = await feed(chunks, new VerifyingTap({ bytes: whole.length, sha256, where: 'x' }, 64 * 1024));
    expect(out.equals(whole)).toBe(true);
  });

  it('never releases the held-back end of an object that does not match', async () => {
    const tampered = Buffer.from(whole);
    tampered[10] = 9;
    let received = 0;
    const error = await pipeline(
      Readable.from([tampered.subarray(0, 100_000), tampered.subarray(100_000, 250_000), tampered.subarray(250_000)]),
      new VerifyingTap({ bytes: whole.length, sha256, where: 'x' }, 64 * 1024),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          cb();
        },
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatch);
    expect(received).toBe(whole.length - 64 * 1024);
  });

  it('holds everything back when the object is smaller than the hold', async () => {
    const small = Buffer.from('tiny');
    let received = 0;
    await expect(
      pipeline(
        Readable.from([small]),
        new VerifyingTap({ bytes: small.length, sha256: '0'.repeat(64), where: 'x' }, 64 * 1024),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            received += chunk.length;
            cb();
          },
        }),
      ),
    ).rejects.toThrow(ChecksumMismatch);
    expect(received).toBe(0);
  });
});

describe('sizeMismatch', () => {
  const expected = { bytes: 100, sha256: 'a'.repeat(64), where: 's3://b/k' };

  it('accepts the manifest size or an unknown size', () => {
    expect(sizeMismatch(expected, 100)).toBeUndefined();
    expect(sizeMismatch(expected, undefined)).toBeUndefined();
  });

  it('refuses another size before any byte is read', () => {
    const error = sizeMismatch(expected, 99);
    expect(error).toBeInstanceOf(ChecksumMismatch);
    expect(error?.message).toContain('s3://b/k is 99 bytes but the manifest says 100');
  });
});

describe('pgRestoreArgs', () => {
  it('restores without owners or ACLs, stops at the first error, connects by conninfo, reads stdin', () => {
    const args = pgRestoreArgs(target, 1);
    expect(args.slice(0, 3)).toEqual(['--no-owner', '--no-acl', '--exit-on-error']);
    expect(args[3]).toMatch(/^--dbname=host='127\.0\.0\.1' port='5432' user='postgres' dbname='app'/);
    expect(args).toHaveLength(4);
    expect(args.join(' ')).not.toContain(target.password);
  });

  it('adds --jobs and the file for a parallel restore', () => {
    const args = pgRestoreArgs(target, 3, '/tmp/x.dump');
    expect(args.slice(-2)).toEqual(['--jobs=3', '/tmp/x.dump']);
  });

  it('omits --jobs for a single-job restore from a file', () => {
    expect(pgRestoreArgs(target, 1, '/tmp/x.dump').slice(-1)).toEqual(['/tmp/x.dump']);
    expect(pgRestoreArgs(target, 1, '/tmp/x.dump').join(' ')).not.toContain('--jobs');
  });
});

describe('normalizeJobs', () => {
  it('defaults to 1 and accepts whole numbers from 1 to 64', () => {
    expect(normalizeJobs(undefined)).toBe(1);
    expect(normalizeJobs(4)).toBe(4);
  });

  it.each([0, 65, 1.5, Number.NaN])('refuses %p', (jobs) => {
    expect(() => normalizeJobs(jobs)).toThrow('jobs must be a whole number from 1 to 64');
  });
});

describe('archive compatibility', () => {
  it('reads the major from version lines', () => {
    expect(majorVersion('pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toBe(15);
    expect(majorVersion('16.4')).toBe(16);
    expect(majorVersion('no version')).toBeUndefined();
  });

  it('accepts an archive of the same or an older major', () => {
    expect(archiveIncompatibility('15.18', 'pg_restore (PostgreSQL) 15.2')).toBeUndefined();
    expect(archiveIncompatibility('13.1', 'pg_restore (PostgreSQL) 15.2')).toBeUndefined();
  });

  it('refuses an archive of a newer major and says what to use', () => {
    const problem = archiveIncompatibility('16.4', 'pg_restore (PostgreSQL) 15.18');
    expect(problem).toContain('pg_dump 16.4');
    expect(problem).toContain('major 16 or newer');
  });

  it('refuses a zstd or lz4 archive a pg_restore before 16 cannot decompress, and accepts gzip and unrecorded ones', () => {
    expect(compressionIncompatibility('zstd:3', 'pg_restore (PostgreSQL) 15.18')).toBe(
      'the dump is compressed with zstd:3 but this pg_restore is pg_restore (PostgreSQL) 15.18: zstd archives need ' +
        'pg_restore 16 or newer (PgToolsLayer postgresVersion)',
    );
    expect(compressionIncompatibility('lz4:1', 'pg_restore (PostgreSQL) 15.18')).toContain('lz4 archives need pg_restore 16');
    expect(compressionIncompatibility('zstd:3', 'pg_restore (PostgreSQL) 16.4')).toBeUndefined();
    expect(compressionIncompatibility('gzip:9', 'pg_restore (PostgreSQL) 15.18')).toBeUndefined();
    expect(compressionIncompatibility('none', 'pg_restore (PostgreSQL) 15.18')).toBeUndefined();
    expect(compressionIncompatibility(undefined, 'pg_restore (PostgreSQL) 15.18')).toBeUndefined();
  });
});

describe('diskShortfall', () => {
  it('accepts a dump that fits with the margin', () => {
    expect(diskShortfall(100 * 1048576, 200 * 1048576, '/tmp')).toBeUndefined();
  });

  it('refuses a dump that does not fit and suggests ephemeral storage or jobs: 1', () => {
    const problem = diskShortfall(600 * 1048576, 512 * 1048576, '/tmp');
    expect(problem).toContain('600 MiB');
    expect(problem).toContain('/tmp has 512 MiB free');
    expect(problem).toContain('10240 MiB');
    expect(problem).toContain('jobs: 1');
    expect(diskShortfall(600 * 1048576, 512 * 1048576, '/tmp', false, { RUNNER_HANDLER: 'restore' }))
      .toContain('give the Fargate task more disk (BackupRunner.fargate({ ephemeralStorageGiB }), up to 200 GiB)');
  });

  it('does not suggest jobs: 1 for a directory-format dump, which is downloaded whatever the jobs', () => {
    const problem = diskShortfall(600 * 1048576, 512 * 1048576, '/tmp', true);
    expect(problem).toContain('/tmp has 512 MiB free');
    expect(problem).not.toContain('jobs: 1');
    expect(problem).toContain('a directory-format (parallel) dump is always downloaded first');
  });
});

describe('resolvePgRestorePath', () => {
  it('prefers the explicit path, then PG_RESTORE_PATH, then the layer, then PATH', () => {
    expect(resolvePgRestorePath('/x/pg_restore', { PG_RESTORE_PATH: '/y' }, () => true)).toBe('/x/pg_restore');
    expect(resolvePgRestorePath(undefined, { PG_RESTORE_PATH: '/y' }, () => true)).toBe('/y');
    expect(resolvePgRestorePath(undefined, {}, (f) => f === LAYER_PG_RESTORE_PATH)).toBe(LAYER_PG_RESTORE_PATH);
    expect(resolvePgRestorePath(undefined, {}, () => false)).toBe('pg_restore');
  });
});
