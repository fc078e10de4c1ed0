import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AL2023_IMAGE, dockerBundlingScript, shellQuote } from '../../../../lib/database/pg-tools/docker-script';
import { C_LIBRARY_PATTERN } from '../../../../lib/database/pg-tools/lambda-compat';
import { proveLayer } from '../../../../lib/database/pg-tools/local-bundling';

describe('dockerBundlingScript', () => {
  it('installs the requested major from the Amazon Linux 2023 repositories', () => {
    const script = dockerBundlingScript({ major: 16, outputDir: '/asset-output' });
    expect(AL2023_IMAGE).toBe('public.ecr.aws/amazonlinux/amazonlinux:2023');
    expect(script).toContain('dnf install -y --setopt=install_weak_deps=False postgresql16 ');
    expect(script).toContain("out='/asset-output'");
    expect(script).toContain(`grep -Eq '${C_LIBRARY_PATTERN}' <<< "$name"`);
    expect(script).toContain('env -i LD_LIBRARY_PATH="$out/lib" "$out/bin/$tool" --version');
    expect(script).not.toContain('chown');
  });

  it('hands the output to the synth user when told', () => {
    expect(dockerBundlingScript({ major: 15, outputDir: '/asset-output', owner: '1000:1000' })).toContain('chown -R 1000:1000 "$out"');
    expect(() => dockerBundlingScript({ major: 15, outputDir: '/o', owner: 'root; rm -rf /' })).toThrow(/uid:gid/);
  });

  it('quotes for bash', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('builds a working layer when run against this machine’s PostgreSQL 15 (dnf stubbed out)', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-docker-script-'));
    try {
      const stubs = path.join(work, 'stubs');
      fs.mkdirSync(stubs);
      fs.writeFileSync(path.join(stubs, 'dnf'), '#!/bin/sh\necho "dnf $*" >> "$(dirname "$0")/dnf.log"\n', { mode: 0o755 });
      const out = path.join(work, 'out');
      const user = os.userInfo();
      const run = spawnSync('bash', ['-c', dockerBundlingScript({ major: 15, outputDir: out, owner: `${user.uid}:${user.gid}` })], {
        encoding: 'utf8',
        env: { PATH: `${stubs}:/usr/bin:/bin` },
      });
      expect(run.stderr).toContain('pg_dump (PostgreSQL) 15.');
      expect(run.status).toBe(0);
      expect(fs.readFileSync(path.join(stubs, 'dnf.log'), 'utf8')).toContain('install -y --setopt=install_weak_deps=False postgresql15');
      expect(fs.readdirSync(path.join(out, 'bin')).sort()).toEqual(['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']);
      const libs = fs.readdirSync(path.join(out, 'lib'));
      expect(libs).toContain('libpq.so.5');
      expect(libs.filter((l) => /^(libc|libm|libresolv)\.so|^ld-linux/.test(l))).toEqual([]);
      // This machine has GNU coreutils' libstdbuf, as Amazon Linux 2023 does: the layer carries it.
      expect(libs.includes('libstdbuf.so')).toBe(fs.existsSync('/usr/libexec/coreutils/libstdbuf.so'));
      expect(() => proveLayer(out, 15)).not.toThrow();
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('leaves out a libstdbuf that cannot be preloaded, and still builds the layer', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-docker-script-'));
    try {
      const stubs = path.join(work, 'stubs');
      fs.mkdirSync(stubs);
      fs.writeFileSync(path.join(stubs, 'dnf'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const broken = path.join(work, 'libstdbuf.so');
      fs.writeFileSync(broken, 'not a library');
      const out = path.join(work, 'out');
      const run = spawnSync('bash', ['-c', dockerBundlingScript({ major: 15, outputDir: out, stdbufCandidates: [broken] })], {
        encoding: 'utf8',
        env: { PATH: `${stubs}:/usr/bin:/bin` },
      });
      expect(run.status).toBe(0);
      expect(run.stderr).toMatch(/cannot be preloaded.*; leaving libstdbuf\.so out/s);
      expect(fs.readdirSync(path.join(out, 'lib'))).not.toContain('libstdbuf.so');
      expect(fs.readdirSync(path.join(out, 'lib'))).toContain('libpq.so.5');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('fails when the installed tools are not the requested major', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-docker-script-'));
    try {
      const stubs = path.join(work, 'stubs');
      fs.mkdirSync(stubs);
      fs.writeFileSync(path.join(stubs, 'dnf'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      for (const tool of ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) fs.symlinkSync(`/usr/lib/postgresql/15/bin/${tool}`, path.join(stubs, tool));
      const run = spawnSync('bash', ['-c', dockerBundlingScript({ major: 16, outputDir: path.join(work, 'out') })], {
        encoding: 'utf8',
        env: { PATH: `${stubs}:/usr/bin:/bin` },
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toMatch(/is not PostgreSQL 16: pg_dump \(PostgreSQL\) 15\./);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
