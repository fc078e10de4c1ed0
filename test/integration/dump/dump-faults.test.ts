/**
 * Every way a dump can fail leaves nothing behind: no dump object (no version, no delete marker), no manifest, no
 * open multipart upload; and the error names the cause without a credential.
 *
 * Real faults on real PostgreSQL and the emulator (pg_dump killed, connections terminated by the server, wrong
 * password, missing database, abort signal, a failing pg_dump binary); S3 server errors are the only injected ones
 * (the emulator cannot produce them), through a middleware on a real client.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CreateBucketCommand, HeadObjectCommand, PutObjectLockConfigurationCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { handler as dumpHandler } from '../../../lambda/backup/dump.handler';
import { DumpFailed } from '../../../lambda/common/errors';
import { runDump, SNAPSHOT_APPLICATION_NAME, type DumpOptions } from '../../../lambda/backup/dump-core';
import { InvalidInput } from '../../../lambda/common/errors';
import { MIN_PART_SIZE } from '../../../lambda/postgres/pg';
import { PG_DUMP_APPLICATION_NAME } from '../../../lambda/postgres/pg-tools';
import { harnessEnv } from '../../support/env';
import { createKmsKey, createTestBucket } from '../../support/moto';
import { createTestDatabase, dropTestDatabase, harnessCaSecretArn, type TestDatabase, withPgClient } from '../../support/postgres';
import { createDbSecret, leftovers, seedSource } from './support';

jest.setTimeout(300_000);

/** Kill or cut after this much has streamed: two 5 MiB parts are on their way, so a multipart upload exists. */
const MID_STREAM = 2 * MIN_PART_SIZE + 1024 * 1024;

const s3 = new S3Client({});
let db: TestDatabase;
let bucket: string;
let kmsKeyId: string;
let tmp: string;
let sourceCounter = 0;

/** What the fault injection throws: an S3 500, or the 403 S3 answers without the permission (a HEAD's has no body). */
const FAULTS = {
  internalError: () =>
    new S3ServiceException({
      name: 'InternalError',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
      message: 'We encountered an internal error. Please try again.',
    }),
  accessDenied: (command: string) =>
    command === 'HeadObjectCommand'
      ? new S3ServiceException({ name: 'Forbidden', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'UnknownError' })
      : new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' }),
};

/**
 * A real S3 client that records every command and fails the ones `inject` picks: with an S3 500 when it says
 * `true`, else with the error it returns.
 */
function instrumentedClient(inject: (command: string, input: Record<string, unknown>) => boolean | Error = () => false): {
  client: S3Client;
  calls: string[];
} {
  const calls: string[] = [];
  const client = new S3Client({});
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const command = context.commandName ?? 'unknown';
      calls.push(`${command}${input.PartNumber ? `#${String(input.PartNumber)}` : ''}`);
      const fault = inject(command, input);
      if (fault) throw fault === true ? FAULTS.internalError() : fault;
      return next(args);
    },
    // Inside the retry loop: the SDK retries the 500 as it would a real one.
    { step: 'finalizeRequest', priority: 'low', name: 'faultInjection' },
  );
  return { client, calls };
}

/**
 * A real S3 client whose HTTP requests that `hangs` picks never get an answer (a connection that stalls: the emulator
 * cannot produce one) until the SDK's abort signal cuts them off; after `giveUpMs` they fail on their own, so a
 * request sent without a signal fails the test instead of hanging it.
 */
function stallingClient(hangs: (method: string, path: string) => boolean, onStall: () => void, giveUpMs = 20_000): S3Client {
  const inner = new NodeHttpHandler();
  type Request = Parameters<NodeHttpHandler['handle']>[0];
  type Options = Parameters<NodeHttpHandler['handle']>[1];
  const requestHandler = {
    handle(request: Request, handlerOptions?: Options) {
      if (!hangs(request.method, request.path)) return inner.handle(request, handlerOptions);
      onStall();
      return new Promise<never>((_, reject) => {
        const signal = handlerOptions?.abortSignal as AbortSignal | undefined;
        const timer = setTimeout(() => reject(new Error(`the stalled ${request.method} ${request.path} was never cut off: it was sent without an abort signal`)), giveUpMs);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
        });
      });
    },
    updateHttpClientConfig: (key: never, value: never) => inner.updateHttpClientConfig(key, value),
    httpHandlerConfigs: () => inner.httpHandlerConfigs(),
    destroy: () => inner.destroy(),
  };
  return new S3Client({ requestHandler: requestHandler as unknown as NodeHttpHandler });
}

function options(overrides: Partial<DumpOptions> = {}): DumpOptions & { source: string } {
  const { pg } = harnessEnv();
  sourceCounter += 1;
  return {
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: db.name, sslMode: 'disable' },
    bucket,
    kmsKeyId,
    source: `fault-${sourceCounter}`,
    tiers: ['daily'],
    s3,
    partSizeBytes: MIN_PART_SIZE,
    queueSize: 2,
    cleanupTimeoutMs: 10_000,
    ...overrides,
  };
}

async function expectNothingLeft(source: string, database = db.name): Promise<void> {
  expect(await leftovers(s3, bucket, `postgres/${source}/${database}/`)).toEqual({ versions: [], deleteMarkers: [], uploads: [] });
}

async function failure(promise: Promise<unknown>): Promise<DumpFailed> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DumpFailed);
  return error as DumpFailed;
}

async function terminateBackends(applicationName: string): Promise<number> {
  return withPgClient('postgres', async (client) => {
    const result = await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2', [
      applicationName,
      db.name,
    ]);
    return result.rowCount ?? 0;
  });
}

beforeAll(async () => {
  db = await createTestDatabase('dump_faults');
  await seedSource(db.name, { bigTableMb: 40 });
  bucket = await createTestBucket({ prefix: 'dump-faults', versioned: true });
  kmsKeyId = (await createKmsKey()).arn;
  tmp = mkdtempSync(path.join(tmpdir(), 'dump-faults-'));
});

afterAll(async () => {
  await dropTestDatabase(db.name);
  rmSync(tmp, { recursive: true, force: true });
  s3.destroy();
});

describe('runDump faults', () => {
  it('pg_dump killed mid-stream: aborts the multipart upload', async () => {
    const { client, calls } = instrumentedClient();
    let child: ChildProcess | undefined;
    const opts = options({
      s3: client,
      hooks: {
        pgDumpStarted: (c) => (child = c),
        progress: (bytes) => {
          if (bytes > MID_STREAM && child?.exitCode === null && !child.killed) child.kill('SIGKILL');
        },
      },
    });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('pg_dump');
    expect(error.message).toBe('pg_dump was killed by SIGKILL');
    expect(calls).toContain('CreateMultipartUploadCommand');
    expect(calls).toContain('AbortMultipartUploadCommand');
    expect(calls).not.toContain('CompleteMultipartUploadCommand');
    await expectNothingLeft(opts.source);
  });

  it("the server cuts pg_dump's connection: the error carries pg_dump's stderr", async () => {
    let cut = false;
    const opts = options({
      hooks: {
        progress: (bytes) => {
          if (bytes > MID_STREAM && !cut) {
            cut = true;
            void terminateBackends(PG_DUMP_APPLICATION_NAME);
          }
        },
      },
    });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('pg_dump');
    expect(error.message).toMatch(/^pg_dump exited with code 1: pg_dump: error: .*(terminat|server closed the connection)/);
    await expectNothingLeft(opts.source);
  });

  it('the snapshot connection drops mid-dump: fails as a connection loss', async () => {
    let cut = false;
    const opts = options({
      hooks: {
        progress: (bytes) => {
          if (bytes > MID_STREAM && !cut) {
            cut = true;
            void terminateBackends(SNAPSHOT_APPLICATION_NAME);
          }
        },
      },
    });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('connection');
    expect(error.message).toMatch(/^database connection lost: .*terminat/);
    await expectNothingLeft(opts.source);
  });

  it('S3 answers 500 to a part upload (after retries): aborts the upload and names S3', async () => {
    const { client, calls } = instrumentedClient((command, input) => command === 'UploadPartCommand' && input.PartNumber === 2);
    const opts = options({ s3: client });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('upload');
    expect(error.message).toMatch(
      /^uploading s3:\/\/.*\.dump failed: InternalError \(HTTP 500\): We encountered an internal error\. Please try again\.; S3 failed temporarily: run the backup again$/,
    );
    expect(calls.filter((c) => c === 'UploadPartCommand#2')).toHaveLength(3);
    expect(calls).toContain('AbortMultipartUploadCommand');
    await expectNothingLeft(opts.source);
  });

  it('the manifest cannot be written: deletes the completed dump object', async () => {
    const { client, calls } = instrumentedClient(
      (command, input) => command === 'PutObjectCommand' && String(input.Key).endsWith('.manifest.json'),
    );
    const opts = options({ s3: client });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('manifest');
    expect(error.message).toMatch(
      /^writing the manifest s3:\/\/.*\.manifest\.json failed: InternalError \(HTTP 500\): .*; S3 failed temporarily: run the backup again; the dump object was deleted, no manifest was written$/,
    );
    expect(calls).toContain('CompleteMultipartUploadCommand');
    expect(calls).toContain('DeleteObjectCommand');
    await expectNothingLeft(opts.source);
  });

  it('the HEAD after the upload is denied (no s3:GetObjectVersion): deletes the dump and names the step, the code and the grant', async () => {
    const { client, calls } = instrumentedClient((command) => command === 'HeadObjectCommand' && FAULTS.accessDenied(command));
    const opts = options({ s3: client });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('upload');
    expect(error.message).toMatch(
      /^checking the size of the uploaded dump s3:\/\/.*\.dump failed: Forbidden \(HTTP 403\); the role or credentials running the dump need s3:GetObjectVersion on the dump's key; the dump object was deleted, no manifest was written$/,
    );
    expect(calls).toContain('CompleteMultipartUploadCommand');
    expect(calls).not.toContain('PutObjectCommand');
    await expectNothingLeft(opts.source);
  });

  it.each(['GOVERNANCE', 'COMPLIANCE'] as const)(
    'the manifest write fails in a bucket with Object Lock (%s): the locked dump cannot be deleted, and the error says until when and that it is no backup',
    async (mode) => {
      const locked = `dump-locked-${randomBytes(6).toString('hex')}`;
      await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: locked,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: mode, Days: 1 } } },
        }),
      );
      // A small database: its dump is one PutObject. (The emulator applies a bucket's default retention to PutObject,
      // not to a completed multipart upload, as S3 does.)
      const small = await createTestDatabase('dump_locked');
      await seedSource(small.name);
      const { client } = instrumentedClient((command, input) => command === 'PutObjectCommand' && String(input.Key).endsWith('.manifest.json'));
      const opts = options({ s3: client, bucket: locked });
      const error = await failure(runDump({ ...opts, target: { ...opts.target, database: small.name } }).finally(() => dropTestDatabase(small.name)));
      expect(error.failure).toBe('manifest');
      const bypass = mode === 'GOVERNANCE' ? ' except by someone allowed s3:BypassGovernanceRetention' : '';
      expect(error.message).toMatch(
        new RegExp(
          `; then deleting the dump object s3://${locked}/\\S+\\.dump failed: AccessDenied \\(HTTP 403\\).*; s3://${locked}/\\S+\\.dump version \\S+ ` +
            `is under Object Lock \\(${mode}\\) until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, so it cannot be deleted before then${bypass}; it has no manifest, ` +
            'so no restore, recovery test or failover picks it; delete it once the lock has expired$',
        ),
      );
      expect(error.message).toMatch(
        new RegExp(`; then deleting the globals object s3://${locked}/\\S+\\.globals\\.sql failed: AccessDenied \\(HTTP 403\\).*is under Object Lock \\(${mode}\\) until [^;]+; it belongs to no backup: delete it once the lock has expired; `),
      );
      const left = await leftovers(s3, locked, `postgres/${opts.source}/`);
      expect(left.versions.map((v) => v.split('@')[0]).sort()).toEqual([expect.stringMatching(/\.dump$/), expect.stringMatching(/\.globals\.sql$/)]);
    },
  );

  it('the manifest write is denied: deletes the dump and names the step, the code and the grant', async () => {
    const { client } = instrumentedClient(
      (command, input) => command === 'PutObjectCommand' && String(input.Key).endsWith('.manifest.json') && FAULTS.accessDenied(command),
    );
    const opts = options({ s3: client });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('manifest');
    expect(error.message).toMatch(
      /^writing the manifest s3:\/\/.*\.manifest\.json failed: AccessDenied \(HTTP 403\): Access Denied; the role or credentials running the dump need s3:PutObject on the manifest's key and kms:GenerateDataKey on the bucket's key; the dump object was deleted, no manifest was written$/,
    );
    await expectNothingLeft(opts.source);
  });

  it('the manifest write and the deletion are both denied: says which object is left and what to do', async () => {
    const { client } = instrumentedClient(
      (command, input) =>
        ((command === 'PutObjectCommand' && String(input.Key).endsWith('.manifest.json')) || command === 'DeleteObjectCommand') &&
        FAULTS.accessDenied(command),
    );
    const opts = options({ s3: client });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('manifest');
    expect(error.message).toMatch(
      /; then deleting the dump object s3:\/\/(\S+\.dump) failed: AccessDenied \(HTTP 403\): Access Denied; the role or credentials running the dump need s3:DeleteObjectVersion on the dump's key; delete s3:\/\/\1 version \S+ by hand: it has no manifest, so it is no backup$/,
    );
    expect(error.message).toMatch(/; then deleting the globals object s3:\/\/(\S+\.globals\.sql) failed: AccessDenied \(HTTP 403\): Access Denied; the role or credentials running the dump need s3:DeleteObjectVersion on its key; delete s3:\/\/\1 version \S+ by hand: it belongs to no backup; /);
    const left = await leftovers(s3, bucket, `postgres/${opts.source}/`);
    expect(left.versions.map((v) => v.split('@')[0].replace(/^.*\./, '.')).sort()).toEqual(['.dump', '.sql']);
  });

  it('pg_dumpall fails: the completed dump is deleted, the error is the globals one, scrubbed', async () => {
    const fake = path.join(tmp, 'pg_dumpall_failing');
    writeFileSync(
      fake,
      ['#!/bin/sh', 'echo "pg_dumpall: error: query failed: permission denied for table pg_authid, password=$PGPASSWORD" >&2', 'exit 1'].join('\n'),
    );
    chmodSync(fake, 0o755);
    const { client, calls } = instrumentedClient();
    const opts = options({ s3: client, pgDumpallPath: fake });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('globals');
    expect(error.message).toMatch(
      /^dumping the roles and globals failed: pg_dumpall exited with code 1: pg_dumpall: error: query failed: permission denied for table pg_authid, password=\*\*\*.*the dump object was deleted, no manifest was written$/,
    );
    expect(error.message).not.toContain(harnessEnv().pg.password);
    expect(calls).toContain('CompleteMultipartUploadCommand');
    expect(calls.filter((c) => c === 'PutObjectCommand')).toEqual([]);
    await expectNothingLeft(opts.source);
  });

  it('pg_dumpall missing: names it and what to install, and leaves nothing', async () => {
    const opts = options({ pgDumpallPath: path.join(tmp, 'no-such-pg_dumpall') });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('globals');
    expect(error.message).toMatch(/^dumping the roles and globals failed: pg_dumpall was not found at .*no-such-pg_dumpall: add the PgToolsLayer/);
    await expectNothingLeft(opts.source);
  });

  it('the globals write is denied: deletes the dump and names the step, the code and the grant', async () => {
    const { client } = instrumentedClient(
      (command, input) => command === 'PutObjectCommand' && String(input.Key).endsWith('.globals.sql') && FAULTS.accessDenied(command),
    );
    const opts = options({ s3: client });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('globals');
    expect(error.message).toMatch(
      /^writing the roles and globals s3:\/\/.*\.globals\.sql failed: AccessDenied \(HTTP 403\): Access Denied; the role or credentials running the dump need s3:PutObject on the globals key \(beside the dump\) and kms:GenerateDataKey on the bucket's key; the dump object was deleted, no manifest was written$/,
    );
    await expectNothingLeft(opts.source);
  });

  it('the abort signal fires mid-stream (Lambda about to time out): kills pg_dump and aborts the upload', async () => {
    const controller = new AbortController();
    let child: ChildProcess | undefined;
    const opts = options({
      signal: controller.signal,
      hooks: {
        pgDumpStarted: (c) => (child = c),
        progress: (bytes) => {
          if (bytes > MID_STREAM && !controller.signal.aborted) controller.abort(new Error('the Lambda function is about to time out'));
        },
      },
    });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('aborted');
    expect(error.message).toBe('dump aborted: the Lambda function is about to time out');
    expect(child?.exitCode !== null || child?.signalCode !== null).toBe(true);
    await expectNothingLeft(opts.source);
  });

  it.each([
    ['the manifest write', 'PUT', /\.manifest\.json$/, 'dump aborted while its manifest was being written'],
    ['the HEAD after the upload', 'HEAD', /\.dump(\?|$)/, 'dump aborted'],
  ])('%s stalls and the abort signal fires (Lambda about to time out): the request is cut off and the dump deleted', async (_step, method, path, reason) => {
    const controller = new AbortController();
    const client = stallingClient(
      (m, p) => m === method && path.test(p),
      () => setTimeout(() => controller.abort(new Error('the Lambda function is about to time out')), 200),
    );
    const opts = options({ s3: client, signal: controller.signal });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('aborted');
    expect(error.message).toBe(`${reason}: the Lambda function is about to time out; the dump object was deleted, no manifest was written`);
    await expectNothingLeft(opts.source);
  });

  it('the abort signal fires while pg_dump is starting: still aborts', async () => {
    const controller = new AbortController();
    const opts = options({
      signal: controller.signal,
      hooks: { pgDumpStarted: () => controller.abort(new Error('stop now')) },
    });
    const error = await failure(runDump(opts));
    expect([error.failure, error.message]).toEqual(['aborted', 'dump aborted: stop now']);
    await expectNothingLeft(opts.source);
  });

  it('pg_dump exits non-zero after writing: the upload never completes and stderr is scrubbed', async () => {
    const fake = path.join(tmp, 'pg_dump_failing');
    writeFileSync(
      fake,
      [
        '#!/bin/sh',
        'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15.18"; exit 0; fi',
        `head -c ${MID_STREAM + MIN_PART_SIZE} /dev/urandom`,
        'echo "pg_dump: error: query failed for postgres://$PGUSER:$PGPASSWORD@$PGHOST/x password=$PGPASSWORD" >&2',
        'exit 1',
      ].join('\n'),
    );
    chmodSync(fake, 0o755);
    const { client, calls } = instrumentedClient();
    const opts = options({ s3: client, pgDumpPath: fake });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('pg_dump');
    expect(error.message).toMatch(/^pg_dump exited with code 1: pg_dump: error: query failed for postgres:\/\/postgres:\*\*\*@127\.0\.0\.1\/x password=\*\*\*$/);
    expect(error.message).not.toContain(harnessEnv().pg.password);
    expect(calls).toContain('UploadPartCommand#2');
    expect(calls).not.toContain('CompleteMultipartUploadCommand');
    await expectNothingLeft(opts.source);
  });

  it('pg_dump older than the server: refuses before uploading anything', async () => {
    const fake = path.join(tmp, 'pg_dump_old');
    writeFileSync(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n');
    chmodSync(fake, 0o755);
    const { client, calls } = instrumentedClient();
    const opts = options({ s3: client, pgDumpPath: fake });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('version');
    expect(error.message).toMatch(/^pg_dump 14.11 cannot dump a PostgreSQL 15\.\d+ server/);
    expect(calls).toEqual([]);
    await expectNothingLeft(opts.source);
  });

  it('pg_dump missing: names it and what to install, with nothing uploaded', async () => {
    const opts = options({ s3: undefined, pgDumpPath: path.join(tmp, 'no-such-pg_dump') });
    const error = await failure(runDump(opts));
    expect(error.failure).toBe('pg_dump');
    expect(error.message).toMatch(/^pg_dump was not found at .*no-such-pg_dump: add the PgToolsLayer/);
    await expectNothingLeft(opts.source);
  });
});

describe('runDump into an unversioned bucket', () => {
  let unversioned: string;
  beforeAll(async () => {
    unversioned = await createTestBucket({ prefix: 'dump-unversioned', versioned: false });
  });

  it('completes the backup with no version id', async () => {
    const opts = options({ bucket: unversioned });
    const result = await runDump(opts);
    expect(result.manifest.s3.versionId).toBeNull();
    expect(result.manifestVersionId).toBeNull();
    const left = await leftovers(s3, unversioned, `postgres/${opts.source}/`);
    expect(result.manifest.globals?.versionId).toBeNull();
    expect(left.versions.map((v) => v.split('@')[0]).sort()).toEqual([result.dumpKey, result.manifest.globals?.key, result.manifestKey].sort());
    expect(left.uploads).toEqual([]);
  });

  it('the HEAD after the upload is denied: asks for s3:GetObject and deletes the dump', async () => {
    const { client } = instrumentedClient((command) => command === 'HeadObjectCommand' && FAULTS.accessDenied(command));
    const opts = options({ bucket: unversioned, s3: client });
    const error = await failure(runDump(opts));
    expect(error.message).toMatch(/failed: Forbidden \(HTTP 403\); the role or credentials running the dump need s3:GetObject on the dump's key; the dump object was deleted/);
    expect(await leftovers(s3, unversioned, `postgres/${opts.source}/`)).toEqual({ versions: [], deleteMarkers: [], uploads: [] });
  });
});

describe('runDump without an S3 client', () => {
  it('creates one from the environment (as the benchmark child relies on) and completes the backup', async () => {
    let child: ChildProcess | undefined;
    let childEnv = '';
    const opts = options({
      s3: undefined,
      kmsKeyId: undefined,
      hooks: {
        pgDumpStarted: (c) => (child = c),
        // Read once pg_dump writes, i.e. after any wrapper (Debian's pg_wrapper) has exec'd the real binary.
        progress: () => {
          if (!childEnv && child?.pid) childEnv = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
        },
      },
    });
    const result = await runDump(opts);
    // GNU coreutils is on this machine: pg_dump ran with libstdbuf preloaded, writing 128 KiB at a time.
    expect(childEnv.split('\0')).toEqual(expect.arrayContaining(['LD_PRELOAD=/usr/libexec/coreutils/libstdbuf.so', '_STDBUF_O=131072']));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: result.dumpKey, VersionId: result.manifest.s3.versionId ?? undefined }));
    expect(head.ContentLength).toBe(result.manifest.bytes);
    expect(result.manifest.tables.length).toBeGreaterThan(0);
    expect((await leftovers(s3, bucket, `postgres/${opts.source}/`)).uploads).toEqual([]);
  });
});

describe('part uploads', () => {
  it('are signed without hashing the payload (UNSIGNED-PAYLOAD) and still carry a CRC32 that S3 checks', async () => {
    const client = new S3Client({});
    const parts: Array<Record<string, string>> = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers: Record<string, string> };
        if (context.commandName === 'UploadPartCommand') parts.push({ ...request.headers });
        return next(args);
      },
      // After signing: these are the headers that go out.
      { step: 'finalizeRequest', priority: 'low', name: 'recordPartHeaders' },
    );
    const opts = options({ s3: client });
    const result = await runDump(opts);
    expect(parts.length).toBeGreaterThan(1);
    for (const headers of parts) {
      expect(headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
      expect(headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
      expect(headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
    }
    // Added once however many dumps the client serves.
    await runDump(options({ s3: client }));
    expect(client.middlewareStack.identify().filter((m) => m.startsWith('cdkBackupDrUnsignedPartPayload '))).toHaveLength(1);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: result.dumpKey, VersionId: result.manifest.s3.versionId ?? undefined }));
    expect(head.ContentLength).toBe(result.manifest.bytes);
  });
});

describe('dump handler faults', () => {
  const context = { getRemainingTimeInMillis: () => 15 * 60_000 };

  beforeAll(() => {
    process.env.BUCKET_NAME = bucket;
    process.env.BUCKET_KMS_KEY_ARN = kmsKeyId;
    process.env.SOURCE_ID = 'handler-faults';
  });

  it('wrong password: names the connection failure, never the password', async () => {
    const wrong = 'Wr0ng-pa55word';
    const secretArn = await createDbSecret({ password: wrong });
    const error = await failure(dumpHandler({ target: { secretArn, sslRootCertSecretArn: await harnessCaSecretArn() }, database: db.name, tiers: ['daily'] }, context));
    expect(error.failure).toBe('connection');
    expect(error.message).toMatch(/^cannot connect to 127\.0\.0\.1:\d+\/.* as postgres: password authentication failed/);
    expect(error.message).not.toContain(wrong);
    await expectNothingLeft('handler-faults');
  });

  it('database missing: says so and leaves nothing (the other databases of a run are their own invocations)', async () => {
    const secretArn = await createDbSecret();
    const error = await failure(dumpHandler({ target: { secretArn, sslRootCertSecretArn: await harnessCaSecretArn() }, database: 'no_such_db', tiers: ['daily'] }, context));
    expect(error.failure).toBe('connection');
    expect(error.message).toMatch(/^cannot connect .*database "no_such_db" does not exist/);
    await expectNothingLeft('handler-faults', 'no_such_db');
  });

  it('too little time left: aborts instead of running into the Lambda timeout', async () => {
    const secretArn = await createDbSecret();
    const error = await failure(dumpHandler({ target: { secretArn, sslRootCertSecretArn: await harnessCaSecretArn() }, database: db.name, tiers: ['daily'] }, { getRemainingTimeInMillis: () => 5_000 }));
    expect(error.failure).toBe('aborted');
    expect(error.message).toMatch(/about to time out/);
    await expectNothingLeft('handler-faults');
  });

  it('invalid input fails before any side effect, even with an unknown secret', async () => {
    const unknownSecret = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist';
    await expect(dumpHandler({ target: { secretArn: unknownSecret }, database: 'bad name', tiers: ['daily'] }, context)).rejects.toThrow(
      InvalidInput,
    );
    await expect(dumpHandler({ target: { secretArn: unknownSecret }, database: 'ok', tiers: ['hourly'] }, context)).rejects.toThrow(
      /tiers\[0\] must be one of 'daily', 'weekly', 'monthly', 'yearly'/,
    );
  });
});
