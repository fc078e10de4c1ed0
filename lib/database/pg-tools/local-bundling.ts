/**
 * The I/O half of the PgToolsLayer: finding PostgreSQL client binaries on the synth machine, resolving their
 * libraries with `ldd`, copying them into a layer folder and proving the result runs on its own. The decisions are
 * made by the pure modules beside it (ldd parsing, ELF reading, the C-library rule, version parsing).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { BundlingOptions, ILocalBundling } from 'aws-cdk-lib';
import { ELF_MACHINE_X86_64, isElf, readElf } from './elf';
import { compareVersions, highestGlibcNeeded, isCLibrary, isMusl, LAMBDA_GLIBC_VERSION, lambdaProblems } from './lambda-compat';
import { LddEntry, parseLddOutput } from './ldd';
import { STDBUF_LIBRARY_NAME, stdbufEnv, SYSTEM_STDBUF_PATHS } from '../../../lambda/postgres/stdbuf';
import { PG_TOOLS, PgTool, parseToolVersion } from './pg-version';

/** A shared library the tools need, as the loader resolved it on this machine. */
export interface ResolvedLibrary {
  /** The name the executables ask for, and the file name in the layer's `lib/`. */
  readonly soname: string;
  /** Where it was found (symbolic links resolved). */
  readonly path: string;
}

/** PostgreSQL client tools found on this machine that fit the Lambda runtime. */
export interface LocalPgTools {
  /** The directory they were found in, as searched. */
  readonly directory: string;
  /** `pg_dump --version`, e.g. `15.18`. */
  readonly version: string;
  /** Real path of each executable. */
  readonly executables: Readonly<Record<PgTool, string>>;
  /** Every library they need except the C library, sorted by soname. */
  readonly libraries: readonly ResolvedLibrary[];
  /** Highest `GLIBC_x.y` any of the files needs, e.g. `2.34`. */
  readonly glibcNeeded?: string;
  /**
   * GNU coreutils' `libstdbuf.so` of this machine, when it has one that fits Lambda: the dump preloads it so that
   * pg_dump writes 128 KiB at a time. Optional; without it pg_dump writes 4 KiB at a time.
   */
  readonly stdbufLibrary?: string;
}


/** What {@link findLocalPgTools} found. */
export interface LocalSearchResult {
  /** The first directory whose tools fit, if any. */
  readonly tools?: LocalPgTools;
  /** Why each directory that holds a `pg_dump` was not used. */
  readonly rejected: readonly string[];
  /** Every directory looked in. */
  readonly searched: readonly string[];
}

/** The directories searched when the caller gives none: distribution locations first, then `PATH`. */
export function defaultSearchPaths(major: number, envPath: string | undefined): string[] {
  const fromPath = (envPath ?? '').split(path.delimiter).filter((dir) => dir !== '');
  return [...new Set([`/usr/lib/postgresql/${major}/bin`, `/usr/pgsql-${major}/bin`, ...fromPath])];
}

/**
 * Looks for pg_dump, pg_dumpall, pg_restore and psql of exactly `major` in `searchPaths`, in order, and returns the first set
 * that is native x86_64, resolves all its libraries, and needs no newer glibc than Lambda's.
 */
export function findLocalPgTools(major: number, searchPaths: readonly string[]): LocalSearchResult {
  const rejected: string[] = [];
  const seen = new Set<string>();
  for (const directory of searchPaths) {
    const pgDump = path.join(directory, 'pg_dump');
    if (!fs.existsSync(pgDump)) continue;
    const realDir = fs.realpathSync(directory);
    if (seen.has(realDir)) continue;
    seen.add(realDir);
    const outcome = inspectDirectory(directory, major);
    if (typeof outcome === 'string') {
      rejected.push(`${directory}: ${outcome}`);
    } else {
      return { tools: outcome, rejected, searched: [...searchPaths] };
    }
  }
  return { rejected, searched: [...searchPaths] };
}

/** Checks one directory; returns the tools, or why they do not fit. */
function inspectDirectory(directory: string, major: number): LocalPgTools | string {
  const executables = {} as Record<PgTool, string>;
  for (const tool of PG_TOOLS) {
    const candidate = path.join(directory, tool);
    if (!fs.existsSync(candidate)) return `${tool} is missing (pg_dump, pg_dumpall, pg_restore and psql must come from one installation)`;
    const real = fs.realpathSync(candidate);
    if (!isElf(readHead(real))) {
      const target = real === candidate ? '' : ` (it resolves to ${real})`;
      return `${candidate}${target} is not a Linux ELF executable: a wrapper script such as Debian's pg_wrapper, or built for another OS`;
    }
    executables[tool] = real;
  }

  let version = '';
  for (const tool of PG_TOOLS) {
    const run = spawnSync(executables[tool], ['--version'], { encoding: 'utf8', env: {}, timeout: 30_000 });
    const parsed = parseToolVersion(run.stdout ?? '');
    if (run.error || run.status !== 0 || !parsed) {
      return `\`${executables[tool]} --version\` failed: ${run.error?.message ?? (run.stderr || run.stdout).trim()}`;
    }
    if (parsed.major !== major) return `${tool} is version ${parsed.version}, not ${major}`;
    if (tool === 'pg_dump') version = parsed.version;
  }

  const libraries = new Map<string, string>();
  for (const tool of PG_TOOLS) {
    let entries: LddEntry[];
    try {
      entries = runLdd(executables[tool], process.env.PATH);
    } catch (error) {
      return `cannot resolve the libraries of ${tool}: ${(error as Error).message}`;
    }
    const missing = entries.filter((e) => e.notFound).map((e) => e.name);
    if (missing.length > 0) return `${tool} needs libraries this machine lacks: ${missing.join(', ')}`;
    if (entries.some((e) => isMusl(e.name))) {
      return `${tool} is linked against musl (Alpine); Lambda runs glibc, use Docker bundling instead`;
    }
    for (const entry of entries) {
      if (entry.path && !isCLibrary(entry.name) && !libraries.has(entry.name)) {
        libraries.set(entry.name, fs.realpathSync(entry.path));
      }
    }
  }

  const files = [...PG_TOOLS.map((tool) => executables[tool]), ...libraries.values()];
  const problems: string[] = [];
  let glibcNeeded: string | undefined;
  for (const file of files) {
    let elf;
    try {
      elf = readElf(fs.readFileSync(file));
    } catch (error) {
      problems.push(`${file}: ${(error as Error).message}`);
      continue;
    }
    problems.push(...lambdaProblems(elf, ELF_MACHINE_X86_64).map((p) => `${file} ${p}`));
    const needed = highestGlibcNeeded(elf.versionNeeds);
    if (needed && (!glibcNeeded || compareVersions(needed, glibcNeeded) > 0)) {
      glibcNeeded = needed;
    }
  }
  if (problems.length > 0) {
    return `would not run in Lambda (x86_64, glibc ${LAMBDA_GLIBC_VERSION}): ${problems.join('; ')}`;
  }

  return {
    directory,
    version,
    executables,
    libraries: [...libraries.entries()].map(([soname, file]) => ({ soname, path: file })).sort((a, b) => a.soname.localeCompare(b.soname)),
    glibcNeeded,
    stdbufLibrary: findStdbufLibrary(),
  };
}

/** The first `libstdbuf.so` of {@link SYSTEM_STDBUF_PATHS} that would load in Lambda; undefined when none does. */
function findStdbufLibrary(): string | undefined {
  for (const candidate of SYSTEM_STDBUF_PATHS) {
    if (!fs.existsSync(candidate)) continue;
    const real = fs.realpathSync(candidate);
    try {
      if (lambdaProblems(readElf(fs.readFileSync(real)), ELF_MACHINE_X86_64).length === 0) return real;
    } catch {
      // Not a readable ELF library: leave it out, the dump works without it.
    }
  }
  return undefined;
}

/**
 * Copies the tools into `<outputDir>/bin` and their libraries into `<outputDir>/lib`, then proves the folder works
 * on its own: each tool runs `--version` with only `LD_LIBRARY_PATH=<outputDir>/lib` in its environment and prints
 * the expected major, and `ldd` under that environment resolves every library but the C library from the folder.
 *
 * @throws Error naming what failed.
 */
export function bundlePgTools(tools: LocalPgTools, major: number, outputDir: string): void {
  const binDir = path.join(outputDir, 'bin');
  const libDir = path.join(outputDir, 'lib');
  fs.mkdirSync(binDir, { recursive: true });
  fs.mkdirSync(libDir, { recursive: true });
  for (const tool of PG_TOOLS) {
    const target = path.join(binDir, tool);
    fs.copyFileSync(tools.executables[tool], target);
    fs.chmodSync(target, 0o755);
  }
  const libraries = [...tools.libraries, ...(tools.stdbufLibrary ? [{ soname: STDBUF_LIBRARY_NAME, path: tools.stdbufLibrary }] : [])];
  for (const library of libraries) {
    const target = path.join(libDir, library.soname);
    fs.copyFileSync(library.path, target);
    fs.chmodSync(target, 0o644);
  }
  proveLayer(outputDir, major);
}

/**
 * Runs each tool of a layer folder with only the folder's `lib/` on the library path and checks that it prints
 * `major` and that every library but the C library comes from the folder.
 *
 * @throws Error naming the tool and what went wrong.
 */
export function proveLayer(layerDir: string, major: number): void {
  const libDir = path.join(layerDir, 'lib');
  const stdbuf = path.join(libDir, STDBUF_LIBRARY_NAME);
  // pg_dump runs with libstdbuf preloaded when the layer has it, so that is how it is proven.
  const preload = fs.existsSync(stdbuf) ? stdbufEnv(stdbuf) : {};
  for (const tool of PG_TOOLS) {
    const executable = path.join(layerDir, 'bin', tool);
    const env = { LD_LIBRARY_PATH: libDir, ...(tool === 'pg_dump' ? preload : {}) };
    const run = spawnSync(executable, ['--version'], { encoding: 'utf8', env, timeout: 30_000 });
    const parsed = parseToolVersion(run.stdout ?? '');
    if (run.error || run.status !== 0 || !parsed || parsed.major !== major || /cannot be preloaded/.test(run.stderr ?? '')) {
      const said = run.error?.message ?? `exit ${run.status}: ${(run.stderr || run.stdout || '').trim()}`;
      const how = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
      throw new Error(`the bundled ${tool} does not run with ${how} alone (${said})`);
    }
    const outside = runLdd(executable, '/usr/bin:/bin', libDir).filter(
      (e) => !isCLibrary(e.name) && (e.notFound || !e.path || path.dirname(e.path) !== libDir),
    );
    if (outside.length > 0) {
      const names = outside.map((e) => `${e.name} => ${e.path ?? 'not found'}`).join(', ');
      throw new Error(`the bundled ${tool} loads libraries from outside the layer: ${names}`);
    }
  }
}

/** Runs `ldd` on a file; `libraryPath` sets `LD_LIBRARY_PATH` for the resolution. */
function runLdd(file: string, envPath: string | undefined, libraryPath?: string): LddEntry[] {
  const env: NodeJS.ProcessEnv = { PATH: envPath ?? '/usr/bin:/bin' };
  if (libraryPath !== undefined) env.LD_LIBRARY_PATH = libraryPath;
  const run = spawnSync('ldd', [file], { encoding: 'utf8', env, timeout: 30_000 });
  if (run.error) throw new Error(`ldd could not be run (${run.error.message}); it comes with glibc (Debian: libc-bin)`);
  if (run.status !== 0) throw new Error(`ldd ${file} failed: ${(run.stderr || run.stdout).trim()}`);
  return parseLddOutput(run.stdout);
}

function readHead(file: string): Buffer {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head;
}

/**
 * CDK local bundling with tools already found by {@link findLocalPgTools}. Never falls back to Docker: when the
 * copy or the proof fails, bundling fails with the reason.
 */
export class PgToolsLocalBundling implements ILocalBundling {
  constructor(
    /** What is copied (part of CDK's asset cache key, so a different installation re-bundles). */
    public readonly tools: LocalPgTools,
    public readonly major: number,
  ) {}

  tryBundle(outputDir: string, _options: BundlingOptions): boolean {
    bundlePgTools(this.tools, this.major, outputDir);
    return true;
  }
}

/** Whether `docker` (or `CDK_DOCKER`, as CDK itself uses) can run containers here. */
export interface DockerStatus {
  readonly available: boolean;
  /** Why not, when it is not. */
  readonly reason?: string;
}

/** Asks the Docker daemon for its version, the way CDK will reach it (`CDK_DOCKER`, else `docker`). */
export function dockerStatus(env: NodeJS.ProcessEnv = process.env): DockerStatus {
  const docker = env.CDK_DOCKER ?? 'docker';
  const run = spawnSync(docker, ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', timeout: 30_000 });
  if (run.error) {
    const missing = (run.error as NodeJS.ErrnoException).code === 'ENOENT';
    return { available: false, reason: missing ? `\`${docker}\` is not installed` : `\`${docker} version\` failed: ${run.error.message}` };
  }
  if (run.status !== 0) {
    const said = (run.stderr || run.stdout || '').trim().split('\n').filter((l) => l.trim() !== '').pop() ?? `exit ${run.status}`;
    return { available: false, reason: `\`${docker} version\` cannot reach a Docker daemon: ${said}` };
  }
  return { available: true };
}
