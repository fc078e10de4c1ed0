import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  bundlePgTools,
  defaultSearchPaths,
  dockerStatus,
  findLocalPgTools,
  LocalPgTools,
  proveLayer,
} from '../../../../lib/database/pg-tools/local-bundling';

const HOST_PG15 = '/usr/lib/postgresql/15/bin';

function found(): LocalPgTools {
  const result = findLocalPgTools(15, [HOST_PG15]);
  if (!result.tools) throw new Error(`this machine's PostgreSQL 15 client was not usable: ${result.rejected.join('; ')}`);
  return result.tools;
}

describe('defaultSearchPaths', () => {
  it('looks in the distribution locations first, then PATH, without duplicates', () => {
    expect(defaultSearchPaths(16, '/opt/pg/bin:/usr/bin::/usr/bin')).toEqual([
      '/usr/lib/postgresql/16/bin',
      '/usr/pgsql-16/bin',
      '/opt/pg/bin',
      '/usr/bin',
    ]);
  });
});

describe('findLocalPgTools', () => {
  it("finds this machine's PostgreSQL 15 client and every library it needs but the C library", () => {
    const tools = found();
    expect(tools.directory).toBe(HOST_PG15);
    expect(tools.version).toMatch(/^15\.\d+$/);
    expect(tools.executables.pg_dump).toBe(`${HOST_PG15}/pg_dump`);
    const sonames = tools.libraries.map((l) => l.soname);
    expect(sonames).toEqual(expect.arrayContaining(['libpq.so.5', 'libssl.so.3', 'libcrypto.so.3', 'libz.so.1']));
    expect(sonames.filter((s) => /^(libc|libm|libresolv|libpthread|libdl|librt)\.so|^ld-linux|^linux-vdso/.test(s))).toEqual([]);
    expect(Number(tools.glibcNeeded?.split('.')[1])).toBeLessThanOrEqual(34);
  });

  it("skips Debian's pg_wrapper script and says why", () => {
    const result = findLocalPgTools(15, ['/usr/bin']);
    expect(result.tools).toBeUndefined();
    expect(result.rejected).toEqual([
      expect.stringMatching(/^\/usr\/bin: \/usr\/bin\/pg_dump \(it resolves to .*pg_wrapper\) is not a Linux ELF executable/),
    ]);
  });

  it('refuses another major version', () => {
    const result = findLocalPgTools(16, [HOST_PG15]);
    expect(result.tools).toBeUndefined();
    expect(result.rejected).toEqual([expect.stringMatching(/pg_dump is version 15\.\d+, not 16$/)]);
  });

  it('refuses a directory where one of the tools is missing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-partial-'));
    try {
      fs.symlinkSync(`${HOST_PG15}/pg_dump`, path.join(dir, 'pg_dump'));
      fs.symlinkSync(`${HOST_PG15}/pg_dumpall`, path.join(dir, 'pg_dumpall'));
      fs.symlinkSync(`${HOST_PG15}/psql`, path.join(dir, 'psql'));
      const result = findLocalPgTools(15, [dir, HOST_PG15]);
      expect(result.rejected).toEqual([`${dir}: pg_restore is missing (pg_dump, pg_dumpall, pg_restore and psql must come from one installation)`]);
      expect(result.tools?.directory).toBe(HOST_PG15);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds nothing where there is nothing', () => {
    expect(findLocalPgTools(15, ['/nonexistent/pg'])).toEqual({ rejected: [], searched: ['/nonexistent/pg'] });
  });
});

describe('bundlePgTools and proveLayer', () => {
  let out: string;
  beforeEach(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-layer-'));
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  it('copies the tools and their libraries and the copy runs on its own', () => {
    const tools = found();
    bundlePgTools(tools, 15, out);
    expect(fs.readdirSync(path.join(out, 'bin')).sort()).toEqual(['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']);
    // GNU coreutils' libstdbuf goes along when the machine has one (this one does), for pg_dump's larger writes.
    expect(tools.stdbufLibrary).toBe(fs.existsSync('/usr/libexec/coreutils/libstdbuf.so') ? fs.realpathSync('/usr/libexec/coreutils/libstdbuf.so') : undefined);
    const expectedLibs = [...tools.libraries.map((l) => l.soname), ...(tools.stdbufLibrary ? ['libstdbuf.so'] : [])];
    expect(fs.readdirSync(path.join(out, 'lib')).sort()).toEqual(expectedLibs.sort());
    expect(fs.statSync(path.join(out, 'bin', 'pg_dump')).mode & 0o777).toBe(0o755);
    expect(fs.lstatSync(path.join(out, 'lib', 'libpq.so.5')).isSymbolicLink()).toBe(false);
  });

  it('fails the proof when a library is missing from the layer, even though the host would supply it', () => {
    bundlePgTools(found(), 15, out);
    fs.rmSync(path.join(out, 'lib', 'libpq.so.5'));
    expect(() => proveLayer(out, 15)).toThrow(/the bundled pg_dump loads libraries from outside the layer: libpq\.so\.5 => \/.*libpq\.so\.5/);
  });

  it('fails the proof when a bundled library is broken', () => {
    bundlePgTools(found(), 15, out);
    fs.writeFileSync(path.join(out, 'lib', 'libpq.so.5'), 'not a library');
    expect(() => proveLayer(out, 15)).toThrow(/the bundled pg_dump does not run with LD_LIBRARY_PATH=\S*\/lib( LD_PRELOAD=\S+ _STDBUF_O=131072)? alone/);
  });

  it('fails the proof when the bundled libstdbuf cannot be preloaded (the loader would only warn and go on)', () => {
    bundlePgTools(found(), 15, out);
    fs.writeFileSync(path.join(out, 'lib', 'libstdbuf.so'), 'not a library');
    expect(() => proveLayer(out, 15)).toThrow(/the bundled pg_dump does not run with .*LD_PRELOAD=.*libstdbuf\.so.*cannot be preloaded/);
  });

  it('fails the proof when the tools are of another major', () => {
    bundlePgTools(found(), 15, out);
    expect(() => proveLayer(out, 16)).toThrow(/the bundled pg_dump does not run/);
  });
});

describe('dockerStatus', () => {
  it('reports a docker command that does not exist', () => {
    expect(dockerStatus({ CDK_DOCKER: '/nonexistent/docker' })).toEqual({
      available: false,
      reason: '`/nonexistent/docker` is not installed',
    });
  });

  it('reports a docker client without a daemon', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-docker-'));
    try {
      const fake = path.join(dir, 'docker');
      fs.writeFileSync(fake, '#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2\nexit 1\n', { mode: 0o755 });
      expect(dockerStatus({ CDK_DOCKER: fake })).toEqual({
        available: false,
        reason: `\`${fake} version\` cannot reach a Docker daemon: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.`,
      });
      fs.writeFileSync(fake, '#!/bin/sh\necho 28.2.2\n', { mode: 0o755 });
      expect(dockerStatus({ CDK_DOCKER: fake })).toEqual({ available: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
