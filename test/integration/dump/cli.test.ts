/**
 * The `backup` command of the CLI as a user runs it: a child process, real PostgreSQL, the emulator.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { validateManifest } from '../../../lambda/backup/manifest';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, pgUrl, type TestDatabase } from '../../support/postgres';
import { harnessEnv } from '../../support/env';
import { fingerprint, leftovers, seedSource } from './support';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..', '..');
const s3 = new S3Client({});
let db: TestDatabase;
let bucket: string;

/**
 * Runs the CLI: from source (`bin/cli.ts` through tsx), or as the package ships it — the bundle `dist/cli/index.js`
 * (built by `npm test`'s build) copied alone into an empty directory, so no node_modules can be found from it.
 */
function cli(args: string[], env: NodeJS.ProcessEnv = {}, as: 'source' | 'bundle' = 'source'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let command: string[];
  let cwd = ROOT;
  if (as === 'bundle') {
    cwd = mkdtempSync(path.join(tmpdir(), 'cli-bundle-'));
    copyFileSync(path.join(ROOT, 'dist', 'cli', 'index.js'), path.join(cwd, 'cdk-backup-dr.js'));
    command = [path.join(cwd, 'cdk-backup-dr.js')];
  } else {
    command = ['--import', 'tsx', path.join(ROOT, 'bin', 'cli.ts')];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...command, ...args], {
      cwd,
      env: { ...process.env, PGPASSWORD: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  db = await createTestDatabase('cli_src');
  await seedSource(db.name);
  bucket = await createTestBucket({ prefix: 'cli', versioned: true });
});

afterAll(async () => {
  await dropTestDatabase(db.name);
  s3.destroy();
});

it.each(['source', 'bundle'] as const)('backup (%s): dumps, prints the manifest JSON on stdout and never prints the password', async (as) => {
  const { pg } = harnessEnv();
  const kms = await createKmsKey();
  const source = `cli-src-${as}`;
  const result = await cli([
    'backup',
    '--database-url',
    `${pgUrl(db.name)}?sslmode=disable`,
    '--bucket',
    bucket,
    '--source',
    source,
    '--kms-key-id',
    kms.arn,
    '--tiers',
    'weekly,daily',
  ], {}, as);
  expect(result.stderr).not.toContain(pg.password);
  expect(result.stdout).not.toContain(pg.password);
  expect(result.code).toBe(0);
  const validation = validateManifest(JSON.parse(result.stdout));
  expect(validation.ok).toBe(true);
  if (!validation.ok) return;
  const manifest = validation.manifest;
  expect(manifest).toMatchObject({ source, database: db.name, tiers: ['daily', 'weekly'], s3: { bucket } });
  expect(manifest.tables).toEqual((await fingerprint(db.name)).map(({ schema, name, rows }) => ({ schema, name, rows })));
  const left = await leftovers(s3, bucket, `postgres/${source}/${db.name}/`);
  expect(left.versions.map((v) => v.split('@')[0]).sort()).toEqual(
    [manifest.s3.key, manifest.s3.key.replace(/\.dump$/, '.globals.sql'), manifest.s3.key.replace(/\.dump$/, '.manifest.json')].sort(),
  );
  expect(result.stderr).toMatch(/^info dump started /m);
});

it('backup with a wrong password: exits 1, names the failure, prints no password', async () => {
  const { pg } = harnessEnv();
  const result = await cli([
    'backup',
    '--database-url',
    `postgres://${pg.user}:Not-The-Password@${pg.host}:${pg.port}/${db.name}?sslmode=disable`,
    '--bucket',
    bucket,
    '--source',
    'cli-wrong',
  ]);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^error \(connection\): cannot connect to .* password authentication failed/m);
  expect(result.stderr).not.toContain('Not-The-Password');
  expect(await leftovers(s3, bucket, 'postgres/cli-wrong/')).toEqual({ versions: [], deleteMarkers: [], uploads: [] });
});

describe('backup into an unversioned bucket', () => {
  let big: TestDatabase;
  let unversioned: string;

  beforeAll(async () => {
    // Larger than one 5 MiB part, so the dump goes up as a real multipart upload (as the 35 MB dump that failed did).
    big = await createTestDatabase('cli_big');
    await seedSource(big.name, { bigTableMb: 12 });
    unversioned = await createTestBucket({ prefix: 'cli-unversioned', versioned: false });
  });

  afterAll(async () => {
    await dropTestDatabase(big.name);
  });

  it('completes the backup, with no version id in the manifest', async () => {
    const result = await cli(['backup', '--database-url', `${pgUrl(big.name)}?sslmode=disable`, '--bucket', unversioned, '--source', 'cli-unv']);
    expect(result.stderr).not.toMatch(/^error/m);
    expect(result.code).toBe(0);
    const validation = validateManifest(JSON.parse(result.stdout));
    if (!validation.ok) throw new Error(validation.errors.join('; '));
    expect(validation.manifest.s3.versionId).toBeNull();
    const left = await leftovers(s3, unversioned, `postgres/cli-unv/${big.name}/`);
    expect(left.versions.map((v) => v.split('@')[0]).sort()).toEqual(
      [validation.manifest.s3.key, validation.manifest.globals?.key, validation.manifest.s3.key.replace(/\.dump$/, '.manifest.json')].sort(),
    );
    expect(left.uploads).toEqual([]);
  });
});
