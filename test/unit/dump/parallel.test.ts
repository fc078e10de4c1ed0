/**
 * Parallel (directory-format) dumps, the pure parts: pg_dump's arguments, the v3 manifest (read beside v1 and v2),
 * the keys of a directory dump's files, the dump input's `parallelism`, the disk check's message, and finding the
 * files a process tree holds open.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openPaths, processTree } from '../../../lambda/backup/directory-dump';
import { checkDumpOptions, directoryDiskShortfall, parallelismProblem } from '../../../lambda/backup/dump-core';
import { validateDumpInput } from '../../../lambda/backup/dump-input';
import {
  backupKeys,
  backupObjectKeys,
  directoryFileKey,
  dumpObjectBytes,
  manifestKeyForObjectKey,
  parseBackupKey,
  parseManifestJson,
  serializeManifest,
  validateManifest,
  type BackupManifest,
} from '../../../lambda/backup/manifest';
import { InvalidInput } from '../../../lambda/common/errors';
import { pgDumpDirectoryArgs } from '../../../lambda/postgres/pg-tools';

const KEYS = backupKeys('prod-db', 'app', new Date(Date.UTC(2024, 0, 31, 2, 3, 4, 56)));
const FILES_PREFIX = 'postgres/prod-db/app/2024/01/31/20240131T020304.056Z.dump.d/';

function v3(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const files = [
    { name: '3301.dat.gz', key: `${FILES_PREFIX}3301.dat.gz`, bytes: 1000, sha256: 'c'.repeat(64), versionId: 'f1' },
    { name: '3302.dat.gz', key: `${FILES_PREFIX}3302.dat.gz`, bytes: 2000, sha256: 'd'.repeat(64), versionId: 'f2' },
    { name: 'toc.dat', key: KEYS.dumpKey, bytes: 300, sha256: 'a'.repeat(64), versionId: 'v1' },
  ];
  return {
    schemaVersion: 3,
    format: 'pg_dump-directory',
    source: 'prod-db',
    database: 'app',
    serverVersion: '15.18',
    pgDumpVersion: '15.18',
    startedAt: '2024-01-31T02:03:04.056Z',
    finishedAt: '2024-01-31T02:05:00.000Z',
    bytes: 3300,
    sha256: 'a'.repeat(64),
    s3: { bucket: 'backups', key: KEYS.dumpKey, versionId: 'v1' },
    tables: [{ schema: 'public', name: 't', rows: 3 }],
    tiers: ['daily'],
    globals: { key: KEYS.globalsKey, bytes: 10, sha256: 'b'.repeat(64), versionId: 'g1' },
    compression: 'gzip:3',
    files,
    ...overrides,
  };
}

describe('pg_dump arguments', () => {
  it('asks for the directory format with N jobs into the directory, in the snapshot, with the compression', () => {
    expect(pgDumpDirectoryArgs('00000003-00000051-1', '/tmp/x/dump', 2, '--compress=3')).toEqual([
      '--format=directory',
      '--jobs=2',
      '--file=/tmp/x/dump',
      '--snapshot=00000003-00000051-1',
      '--compress=3',
      '--no-password',
    ]);
  });

  it.each([
    [() => pgDumpDirectoryArgs('1', 'relative/dir', 2), /absolute path/],
    [() => pgDumpDirectoryArgs('1', '/tmp/d', 0), /unexpected number of jobs 0/],
    [() => pgDumpDirectoryArgs('1', '/tmp/d', 65), /unexpected number of jobs 65/],
    [() => pgDumpDirectoryArgs('1; rm -rf /', '/tmp/d', 2), /unexpected snapshot id/],
  ])('refuses what it must not pass on (%#)', (build, message) => {
    expect(build).toThrow(message);
  });
});

describe('keys of a directory dump', () => {
  it('keeps toc.dat at the dump key and the other files beside it, each belonging to the manifest', () => {
    expect(directoryFileKey(KEYS.dumpKey, 'toc.dat')).toBe(KEYS.dumpKey);
    expect(directoryFileKey(KEYS.dumpKey, '3301.dat.gz')).toBe(`${FILES_PREFIX}3301.dat.gz`);
    expect(parseBackupKey(`${FILES_PREFIX}3301.dat.gz`)).toMatchObject({ source: 'prod-db', database: 'app', kind: 'file' });
    expect(manifestKeyForObjectKey(`${FILES_PREFIX}blob_16384.dat.zst`)).toBe(KEYS.manifestKey);
  });

  it('refuses file names that are not pg_dump\'s', () => {
    for (const name of ['../x.dat', 'a/b.dat', 'x.txt', '']) {
      expect(() => directoryFileKey(KEYS.dumpKey, name)).toThrow(/unexpected file name/);
      expect(parseBackupKey(`${FILES_PREFIX}${name}`)).toBeUndefined();
    }
  });
});

describe('manifest v3', () => {
  it('is read, round-trips, and names all the objects of the backup', () => {
    const parsed = parseManifestJson(serializeManifest(v3() as unknown as BackupManifest));
    expect(parsed).toEqual({ ok: true, manifest: v3() });
    const manifest = v3() as unknown as BackupManifest;
    expect(backupObjectKeys(manifest).sort()).toEqual([KEYS.dumpKey, `${FILES_PREFIX}3301.dat.gz`, `${FILES_PREFIX}3302.dat.gz`, KEYS.globalsKey].sort());
    expect(dumpObjectBytes(manifest)).toBe(300);
  });

  it('leaves v1 and v2 as they were: no files, custom format, the dump object is all the bytes', () => {
    const v2: Record<string, unknown> = { ...v3(), schemaVersion: 2, format: 'pg_dump-custom', bytes: 300 };
    delete v2.files;
    expect(validateManifest(v2).ok).toBe(true);
    expect(dumpObjectBytes(v2 as unknown as BackupManifest)).toBe(300);
    expect(validateManifest({ ...v2, files: v3().files })).toEqual({ ok: false, errors: ['files is part of a v3 (directory-format) manifest only'] });
    expect(validateManifest({ ...v2, format: 'pg_dump-directory' })).toMatchObject({ ok: false, errors: [expect.stringMatching(/format must be "pg_dump-custom" in a v2 manifest/)] });
  });

  it.each([
    [{ format: 'pg_dump-custom' }, /format must be "pg_dump-directory" in a v3 manifest/],
    [{ files: [] }, /files must be a non-empty array in a v3 manifest/],
    [{ files: undefined }, /files must be a non-empty array/],
    [{ bytes: 3301 }, /bytes must be the sum of the files' bytes \(3300\); got 3301/],
    [{ sha256: 'e'.repeat(64) }, /sha256 must be the SHA-256 of toc.dat/],
    [{ s3: { bucket: 'backups', key: KEYS.dumpKey, versionId: 'other' } }, /s3.versionId must be the version of toc.dat/],
  ])('refuses an inconsistent v3 manifest (%#)', (overrides, message) => {
    const result = validateManifest(v3(overrides));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('; ')).toMatch(message);
  });

  it('refuses a file beside another dump, a duplicate name, a bad hash, and a missing toc.dat', () => {
    const files = v3().files as Array<Record<string, unknown>>;
    const elsewhere = { ...files[0], key: `postgres/prod-db/app/2024/01/31/20240131T000000.000Z.dump.d/${String(files[0].name)}` };
    expect(validateManifest(v3({ files: [elsewhere, ...files.slice(1)] }))).toMatchObject({ ok: false, errors: [expect.stringMatching(/^files\[0\] must be/)] });
    expect(validateManifest(v3({ files: [files[0], files[0], files[2]] }))).toMatchObject({ ok: false, errors: [expect.stringMatching(/^files\[1\] must be/)] });
    expect(validateManifest(v3({ files: [{ ...files[0], sha256: 'X' }, ...files.slice(1)] })).ok).toBe(false);
    expect(validateManifest(v3({ files: files.slice(0, 2), bytes: 3000 }))).toMatchObject({ ok: false, errors: ['files must list toc.dat'] });
  });
});

describe('parallelism', () => {
  const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf';

  it('is 1 unless the dump input says otherwise', () => {
    expect(validateDumpInput({ target: { secretArn: ARN }, database: 'app', tiers: ['daily'] }).parallelism).toBe(1);
    expect(validateDumpInput({ target: { secretArn: ARN }, database: 'app', tiers: ['daily'], parallelism: 4 }).parallelism).toBe(4);
  });

  it.each([0, 65, 1.5, '2', null])('refuses %j before any side effect, in the input and in the core', (parallelism) => {
    expect(() => validateDumpInput({ target: { secretArn: ARN }, database: 'app', tiers: ['daily'], parallelism })).toThrow(
      new InvalidInput(`parallelism must be an integer from 1 (one custom-format stream) to 64 (pg_dump -Fd -j N); got ${JSON.stringify(parallelism)}`),
    );
    expect(parallelismProblem(parallelism)).toMatch(/^parallelism must be an integer from 1/);
    expect(() =>
      checkDumpOptions({ source: 's', target: { host: 'h', port: 5432, user: 'u', database: 'd' }, tiers: ['daily'], parallelism: parallelism as number }),
    ).toThrow(InvalidInput);
  });
});

describe('the disk check', () => {
  it('passes with room, and without says how much is needed, what is free and what to change', () => {
    expect(directoryDiskShortfall(100, 100, '/tmp', 2)).toBeUndefined();
    expect(directoryDiskShortfall(600 * 1024 * 1024, 400 * 1024 * 1024, '/tmp', 2)).toBe(
      'a parallel dump with 2 jobs needs about 600 MiB free in /tmp (its 2 largest tables plus 64 MiB) but 400 MiB are free: ' +
        'give the function more ephemeral storage (PostgresBackup dumpEphemeralStorageSize, up to 10240 MiB), lower parallelism, ' +
        'or use parallelism 1 (a streamed custom-format dump needs no disk)',
    );
    // On the Fargate runner (RUNNER_HANDLER set by its task definition) the disk is the task's.
    expect(directoryDiskShortfall(600 * 1024 * 1024, 400 * 1024 * 1024, '/tmp', 2, { RUNNER_HANDLER: 'dump' })).toContain(
      'give the Fargate task more disk (BackupRunner.fargate({ ephemeralStorageGiB }), up to 200 GiB), lower parallelism');
  });
});

describe('open files of a process tree', () => {
  it('falls back to every process\'s stat when the kernel has no children files', async () => {
    const proc = mkdtempSync(path.join(tmpdir(), 'fake-proc-'));
    try {
      const process = (pid: number, ppid: number, comm: string): void => {
        mkdirSync(path.join(proc, String(pid), 'task', String(pid)), { recursive: true });
        writeFileSync(path.join(proc, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} 1 1 0 -1`);
      };
      process(100, 1, 'pg_dump');
      process(101, 100, 'pg_dump (worker) )');
      process(102, 100, 'pg_dump');
      process(200, 1, 'other');
      process(103, 101, 'grandchild');
      expect((await processTree(100, proc)).sort()).toEqual([100, 101, 102, 103]);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });

  it('finds a file a grandchild holds open, and no longer once it is closed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'open-files-'));
    const file = path.join(dir, '1.dat');
    writeFileSync(file, '');
    // sh → sh → sleep with the file open on fd 3 (inherited by the grandchild).
    const child = spawn('sh', ['-c', `sh -c 'exec 3<"${file}"; sleep 30' & wait`], { stdio: 'ignore' });
    try {
      let tree: number[] = [];
      for (let i = 0; i < 50 && tree.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        tree = await processTree(child.pid!);
      }
      expect(tree[0]).toBe(child.pid);
      expect(tree.length).toBeGreaterThanOrEqual(3);
      expect((await openPaths(tree)).has(file)).toBe(true);
      // Our own descriptor of another file is not the tree's.
      const other = path.join(dir, '2.dat');
      writeFileSync(other, '');
      const fd = openSync(other, 'r');
      expect((await openPaths(tree)).has(other)).toBe(false);
      closeSync(fd);
    } finally {
      child.kill('SIGKILL');
      for (const pid of await processTree(child.pid!).catch(() => [])) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('open files of pg_dump\'s processes: only a process that is gone is skipped', () => {
  it('skips an exited process, and fails on any other error rather than take a file being written for closed', async () => {
    const proc = mkdtempSync(path.join(tmpdir(), 'fake-proc-'));
    try {
      // pid 456 has no entry (exited); pid 123's fd is not a directory (ENOTDIR: /proc not readable as expected).
      mkdirSync(path.join(proc, '123'));
      writeFileSync(path.join(proc, '123', 'fd'), '');
      expect((await openPaths([456], proc)).size).toBe(0);
      await expect(openPaths([456, 123], proc)).rejects.toMatchObject({ code: 'ENOTDIR' });
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
