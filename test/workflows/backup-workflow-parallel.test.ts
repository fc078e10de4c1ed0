/**
 * The BackupWorkflow of a PostgresBackup with dumpParallelism 2 (see ./support/backup-fixture.ts), run by the local
 * runner with the real handlers against the harness' PostgreSQL and moto: each database is dumped with
 * `pg_dump -Fd -j 2`, its files uploaded beside the dump key, verified file by file; a dump whose files S3 refuses
 * leaves nothing. The calls are recorded for the IAM contract test.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createBackupWorkflowFixture, type BackupWorkflowFixture } from './support/backup-fixture';

let fixture: BackupWorkflowFixture;

beforeAll(async () => {
  fixture = await createBackupWorkflowFixture({ dumpParallelism: 2 });
}, 600_000);

afterEach(async () => {
  await fixture.reset();
});

afterAll(async () => {
  await fixture?.dispose();
});

it('dumps each database in the directory format: toc.dat at the dump key, the files beside it, manifest v3, verified', async () => {
  const run = await fixture.run({ tiers: ['daily'] }, 'parallel');
  expect(run.result.status).toBe('SUCCEEDED');
  expect(run.openUploads).toEqual([]);
  for (const database of fixture.databases) {
    const mine = run.newVersions.filter((v) => v.split('/')[2] === database.name).map((v) => v.slice(0, v.lastIndexOf('@')));
    const manifestKey = mine.find((key) => key.endsWith('.manifest.json'));
    if (manifestKey === undefined) throw new Error(`no manifest for ${database.name}: ${mine.join(', ')}`);
    const object = await fixture.s3.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: manifestKey }));
    const manifest = JSON.parse(await object.Body!.transformToString()) as { schemaVersion: number; format: string; files: Array<{ key: string }>; s3: { key: string }; globals: { key: string } };
    expect(manifest).toMatchObject({ schemaVersion: 3, format: 'pg_dump-directory' });
    // Two tables with rows: two data files and toc.dat.
    expect(manifest.files).toHaveLength(3);
    expect([...mine].sort()).toEqual([manifestKey, manifest.globals.key, ...manifest.files.map((f) => f.key)].sort());
    expect(manifest.files.filter((f) => f.key !== manifest.s3.key).every((f) => f.key.startsWith(manifest.s3.key.replace(/\.dump$/, '.dump.d/')))).toBe(true);
  }
  expect(run.report?.body).toMatchObject({ status: 'SUCCEEDED' });
});

it('a dump whose files S3 refuses fails that database and leaves none of its objects, no open upload', async () => {
  await fixture.denyWrites('postgres/*.dump.d/*');
  const run = await fixture.run({ tiers: ['daily'] }, 'parallel-denied');
  expect(run.result.status).toBe('FAILED');
  expect(run.newVersions).toEqual([]);
  expect(run.openUploads).toEqual([]);
  const databases = (run.report?.body as { databases?: Array<{ status: string; error?: string }> } | undefined)?.databases ?? [];
  expect(databases.length).toBe(2);
  for (const database of databases) {
    expect(database.status).toBe('FAILED');
  }
  expect(JSON.stringify(run.report?.body)).toMatch(/uploading s3:\/\/[^ ]+\.dump\.d\/\d+\.dat\.gz failed: AccessDenied/);
});
