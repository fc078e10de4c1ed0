/**
 * The S3 side of a directory-format dump (`pg_dump -Fd -j N`): each file of pg_dump's directory is uploaded as soon
 * as pg_dump (its leader or a worker) has closed it, and deleted locally once uploaded, so the disk holds only the
 * files being written and those waiting for their upload. `toc.dat` goes last, to the dump key, once pg_dump has
 * exited 0.
 *
 * How a closed file is recognized: pg_dump creates each file by opening it and never reopens it for writing, so a
 * file that is in the directory but held open by no process of the pg_dump tree (`/proc/<pid>/fd` of pg_dump and its
 * worker children) is complete. Linux only, as Lambda and Fargate are.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Upload } from '@aws-sdk/lib-storage';
import { HashTap } from '../common/hash';
import { directoryFileKey, isDirectoryFileName, TOC_FILE_NAME, type ManifestFile } from './manifest';

type S3Io = typeof import('../aws/s3');

/**
 * The direct children of `pid`: from `/proc/<pid>/task/<tid>/children` (a few reads), or `undefined` when the kernel
 * has no such file (built without CONFIG_PROC_CHILDREN).
 */
async function childrenOf(pid: number, proc: string): Promise<number[] | undefined> {
  let tasks: string[];
  try {
    tasks = await fsp.readdir(path.join(proc, String(pid), 'task'));
  } catch {
    return []; // exited
  }
  const children: number[] = [];
  for (const task of tasks) {
    try {
      const text = await fsp.readFile(path.join(proc, String(pid), 'task', task, 'children'), 'utf8');
      children.push(...text.split(' ').filter((t) => t !== '').map(Number));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && task === String(pid)) {
        // The task itself exists (we just listed it): the kernel lacks the children file.
        const exists = await fsp.stat(path.join(proc, String(pid), 'task', task)).then(() => true, () => false);
        if (exists) return undefined;
      }
    }
  }
  return children;
}

/** The parent of every process, from `/proc/<pid>/stat` (the slow way: one read per process on the machine). */
async function parentsMap(proc: string): Promise<Map<number, number[]>> {
  const parents = new Map<number, number[]>();
  for (const entry of await fsp.readdir(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await fsp.readFile(path.join(proc, entry, 'stat'), 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const children = parents.get(ppid) ?? [];
    children.push(Number(entry));
    parents.set(ppid, children);
  }
  return parents;
}

/** The pids of `rootPid` and all its descendants (pg_dump and its workers). */
export async function processTree(rootPid: number, proc = '/proc'): Promise<number[]> {
  const tree: number[] = [];
  const queue = [rootPid];
  let parents: Map<number, number[]> | undefined;
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    let children = parents ? parents.get(pid) ?? [] : await childrenOf(pid, proc);
    if (children === undefined) {
      parents = await parentsMap(proc);
      children = parents.get(pid) ?? [];
    }
    queue.push(...children);
  }
  return tree;
}

/** Whether an error reading `/proc` means the process or descriptor is gone (anything else must not be ignored). */
function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/**
 * The paths the processes hold open (targets of `/proc/<pid>/fd/*`); processes that exited meanwhile are skipped.
 * @throws the error of any other failure to read them (e.g. EACCES): a file being written would look closed and be
 *   uploaded half-written.
 */
export async function openPaths(pids: readonly number[], proc = '/proc'): Promise<Set<string>> {
  const open = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await fsp.readdir(path.join(proc, String(pid), 'fd'));
    } catch (error) {
      if (isGone(error)) continue;
      throw error;
    }
    for (const fd of fds) {
      try {
        open.add(await fsp.readlink(path.join(proc, String(pid), 'fd', fd)));
      } catch (error) {
        if (!isGone(error)) throw error;
      }
    }
  }
  return open;
}

/** Options of {@link DirectoryUploader}. */
export interface DirectoryUploaderOptions {
  readonly s3: S3Client;
  readonly io: S3Io;
  readonly bucket: string;
  /** The dump key: `toc.dat` goes here, the other files beside it (see `directoryFileKey`). */
  readonly dumpKey: string;
  readonly kmsKeyId?: string;
  /** pg_dump's output directory. */
  readonly directory: string;
  /** pid of pg_dump (its workers are its children). */
  readonly pid: number;
  readonly partSize: number;
  /** Files uploaded at once. */
  readonly concurrency: number;
  /** Parts of one file's multipart upload in flight. */
  readonly queueSize: number;
  /** Called with each uploaded file. */
  readonly onUploaded?: (file: ManifestFile) => void;
  /** Returns the paths held open by the pg_dump tree; tests replace it. @default - read from /proc */
  readonly openPathsOf?: (pid: number) => Promise<Set<string>>;
}

/** A file's upload failed: which file and S3's error. */
export class FileUploadFailed extends Error {
  override readonly name = 'FileUploadFailed';
  constructor(
    readonly key: string,
    readonly s3Error: unknown,
  ) {
    super(`uploading ${key} failed`);
  }
}

/** Uploads the closed files of a pg_dump directory while pg_dump runs; see the module comment. */
export class DirectoryUploader {
  private readonly done = new Map<string, ManifestFile>();
  private readonly started = new Set<string>();
  private readonly running = new Map<string, { upload?: Upload; settled: Promise<void> }>();
  private readonly waiting: string[] = [];
  private readonly unfinished: string[] = [];
  private failure?: unknown;
  private stopped = false;

  constructor(private readonly options: DirectoryUploaderOptions) {}

  /** Files uploaded so far. */
  get uploaded(): readonly ManifestFile[] {
    return [...this.done.values()];
  }

  /**
   * Keys whose upload started but did not complete: each may have an open multipart upload, or an object that S3
   * stored although the request was cut off.
   */
  get pending(): readonly string[] {
    return [...[...this.running.keys()].map((name) => directoryFileKey(this.options.dumpKey, name)), ...this.unfinished];
  }

  /** The first upload error, once there is one. */
  get error(): unknown {
    return this.failure;
  }

  /**
   * Looks once for files pg_dump has closed and starts their uploads. `all`: pg_dump has exited, every file but
   * `toc.dat` is complete.
   * @throws Error naming a file pg_dump wrote that this package does not know how to store.
   */
  async scan(all = false): Promise<void> {
    if (this.stopped) return;
    let names: string[];
    try {
      names = await fsp.readdir(this.options.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // pg_dump has not created it yet
      throw error;
    }
    const fresh = names.filter((name) => name !== TOC_FILE_NAME && !this.started.has(name));
    if (fresh.length === 0) return;
    const unknown = fresh.find((name) => !isDirectoryFileName(name));
    if (unknown !== undefined) throw new Error(`pg_dump wrote ${JSON.stringify(unknown)}, which is not a file name of the directory format this package stores`);
    const open = all ? new Set<string>() : await (this.options.openPathsOf ?? defaultOpenPathsOf)(this.options.pid);
    for (const name of fresh) {
      if (open.has(path.join(this.options.directory, name))) continue;
      this.started.add(name);
      this.waiting.push(name);
    }
    this.pump();
  }

  /** Waits for every started upload; rejects with the first failure. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      const running = [...this.running.values()];
      if (running.length === 0 && this.waiting.length === 0) return;
      await Promise.all(running.map((r) => r.settled));
    }
  }

  /** Uploads `toc.dat` to the dump key (after everything else) and returns every file, `toc.dat` last. */
  async finish(): Promise<ManifestFile[]> {
    await this.scan(true);
    await this.drain();
    this.started.add(TOC_FILE_NAME);
    await this.uploadOne(TOC_FILE_NAME);
    if (this.failure) throw this.failure;
    const files = [...this.done.values()];
    const toc = files.filter((f) => f.name === TOC_FILE_NAME);
    return [...files.filter((f) => f.name !== TOC_FILE_NAME).sort((a, b) => (a.name < b.name ? -1 : 1)), ...toc];
  }

  /**
   * Stops starting uploads and lets the running ones finish for up to `graceMs` (a finished one is an object version
   * the caller can delete by its id), then aborts the rest; resolves once they have all settled.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    const running = [...this.running.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map((r) => r.settled)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    await Promise.all([...this.running.values()].map((r) => r.upload?.abort().catch(() => undefined)));
    await Promise.all(running.map((r) => r.settled));
  }

  private pump(): void {
    while (!this.stopped && !this.failure && this.running.size < this.options.concurrency && this.waiting.length > 0) {
      const name = this.waiting.shift()!;
      void this.uploadOne(name);
    }
  }

  private async uploadOne(name: string): Promise<void> {
    const { options } = this;
    const key = directoryFileKey(options.dumpKey, name);
    const file = path.join(options.directory, name);
    const entry: { upload?: Upload; settled: Promise<void> } = { settled: Promise.resolve() };
    let settle!: () => void;
    entry.settled = new Promise<void>((resolve) => (settle = resolve));
    this.running.set(name, entry);
    try {
      const tap = new HashTap();
      const reader = createReadStream(file, { highWaterMark: 256 * 1024 });
      reader.on('error', (error) => tap.destroy(error));
      reader.pipe(tap);
      entry.upload = options.io.createStreamingUpload({
        s3: options.s3,
        bucket: options.bucket,
        key,
        body: tap,
        kmsKeyId: options.kmsKeyId,
        partSize: options.partSize,
        queueSize: options.queueSize,
      });
      const result = await entry.upload.done();
      const { bytes, sha256 } = tap.digest();
      const uploaded: ManifestFile = { name, key, bytes, sha256, versionId: options.io.versionIdOf(result) };
      this.done.set(name, uploaded);
      // Deleted once in S3: the disk holds only what is being written or waits for its upload.
      await fsp.rm(file, { force: true });
      options.onUploaded?.(uploaded);
    } catch (error) {
      // An upload aborted by stop() is not the run's failure; the cause that stopped it is.
      if (!this.stopped) this.failure ??= new FileUploadFailed(key, error);
      this.unfinished.push(key);
    } finally {
      this.running.delete(name);
      settle();
      this.pump();
    }
  }
}

async function defaultOpenPathsOf(pid: number): Promise<Set<string>> {
  return openPaths(await processTree(pid));
}
