import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PgToolsBundling, PgToolsLayer, PgToolsLayerProps } from '../../../lib/database';

const apps: App[] = [];
let savedDocker: string | undefined;

beforeEach(() => {
  savedDocker = process.env.CDK_DOCKER;
});

afterEach(() => {
  if (savedDocker === undefined) delete process.env.CDK_DOCKER;
  else process.env.CDK_DOCKER = savedDocker;
  for (const app of apps.splice(0)) fs.rmSync(app.outdir, { recursive: true, force: true });
});

function newStack(context?: Record<string, unknown>): Stack {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-layer-app-')), context });
  apps.push(app);
  return new Stack(app, 'Db', { env: { account: '111111111111', region: 'eu-west-1' } });
}

/** The staged folder of the layer's asset, found from the S3 key in the template. */
function layerAssetDir(stack: Stack, template: Template): string {
  const layers = Object.values(template.findResources('AWS::Lambda::LayerVersion'));
  expect(layers).toHaveLength(1);
  const key = (layers[0].Properties.Content.S3Key as string).replace(/\.zip$/, '');
  return path.join((stack.node.root as App).outdir, `asset.${key}`);
}

/** A stand-in `docker` (via CDK_DOCKER, which CDK itself honours) that records its calls and fakes a layer. */
function fakeDocker(): { calls: () => string[][] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-fake-docker-'));
  const script = [
    '#!/bin/bash',
    'printf "%s\\0" "$@" > "$(dirname "$0")/call-$(date +%s%N)"',
    'if [ "$1" = version ]; then echo 28.2.2; exit 0; fi',
    'if [ "$1" = run ]; then',
    '  for arg in "$@"; do case "$arg" in *:/asset-output:*) out="${arg%%:/asset-output:*}";; esac; done',
    '  mkdir -p "$out/bin" && echo fake > "$out/bin/pg_dump"',
    'fi',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'docker'), script, { mode: 0o755 });
  process.env.CDK_DOCKER = path.join(dir, 'docker');
  return {
    calls: () =>
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith('call-'))
        .sort()
        .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\0').slice(0, -1)),
  };
}

describe('PgToolsLayer with local bundling (this machine has the PostgreSQL 15 client)', () => {
  // One synth for the whole block: local bundling copies ~16 MB and synth validates the template.
  let app: App;
  let stack: Stack;
  let layer: PgToolsLayer;
  let template: Template;
  beforeAll(() => {
    app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tools-layer-app-')) });
    stack = new Stack(app, 'Db', { env: { account: '111111111111', region: 'eu-west-1' } });
    layer = new PgToolsLayer(stack, 'PgTools', { postgresVersion: 15, removalPolicy: RemovalPolicy.RETAIN });
    new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
      layers: [layer],
    });
    template = Template.fromStack(stack);
  });
  afterAll(() => fs.rmSync(app.outdir, { recursive: true, force: true }));

  it('synthesizes a layer for the Node.js 24 and 22 runtimes on x86_64', () => {
    template.hasResource('AWS::Lambda::LayerVersion', {
      Properties: {
        CompatibleRuntimes: ['nodejs24.x', 'nodejs22.x'],
        CompatibleArchitectures: ['x86_64'],
        LicenseInfo: 'PostgreSQL',
        Description: 'pg_dump, pg_dumpall, pg_restore and psql 15 (x86_64): /opt/bin, libraries in /opt/lib',
      },
      DeletionPolicy: 'Retain',
    });
    expect(layer.bundlingMethod).toBe(PgToolsBundling.LOCAL);
    expect(layer.bundledVersion).toMatch(/^15\.\d+$/);
    expect([layer.pgDumpPath, layer.pgRestorePath, layer.psqlPath]).toEqual(['/opt/bin/pg_dump', '/opt/bin/pg_restore', '/opt/bin/psql']);
  });

  it('says where the tools came from and that their glibc needs fit Lambda', () => {
    Annotations.fromStack(stack).hasInfo(
      '/Db/PgTools',
      Match.stringLikeRegexp('PostgreSQL 15\\.\\d+ client tools bundled from /usr/lib/postgresql/15/bin .*need glibc 2\\.\\d+, Lambda \\(Amazon Linux 2023\\) has 2\\.34'),
    );
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  it('puts the tools in bin/ and their libraries, but never the C library, in lib/; the bundle runs on its own', () => {
    const dir = layerAssetDir(stack, template);
    expect(fs.readdirSync(path.join(dir, 'bin')).sort()).toEqual(['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']);
    const libs = fs.readdirSync(path.join(dir, 'lib'));
    expect(libs.length).toBeGreaterThan(0);
    expect(libs.every((l) => /\.so(\.\d+)*$/.test(l))).toBe(true);
    expect(libs).toEqual(expect.arrayContaining(['libpq.so.5', 'libssl.so.3', 'libcrypto.so.3']));
    expect(libs.filter((l) => /^(libc|libm|libpthread|libdl|librt|libresolv)\.so|^ld-linux/.test(l))).toEqual([]);

    for (const tool of ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) {
      const run = spawnSync(path.join(dir, 'bin', tool), ['--version'], {
        encoding: 'utf8',
        env: { LD_LIBRARY_PATH: path.join(dir, 'lib') },
      });
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^${tool} \\(PostgreSQL\\) 15\\.`));
    }
  });

  it("carries this machine's libstdbuf, and the bundled pg_dump runs with it preloaded", () => {
    const dir = layerAssetDir(stack, template);
    const stdbuf = path.join(dir, 'lib', 'libstdbuf.so');
    expect(fs.existsSync(stdbuf)).toBe(fs.existsSync('/usr/libexec/coreutils/libstdbuf.so'));
    const run = spawnSync(path.join(dir, 'bin', 'pg_dump'), ['--version'], {
      encoding: 'utf8',
      env: { LD_LIBRARY_PATH: path.join(dir, 'lib'), LD_PRELOAD: stdbuf, _STDBUF_O: '131072' },
    });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('can be attached to a function', () => {
    const layerId = stack.getLogicalId(layer.node.defaultChild as lambda.CfnLayerVersion);
    template.hasResourceProperties('AWS::Lambda::Function', { Layers: [{ Ref: layerId }] });
  });

  it('takes a description', () => {
    const other = newStack({ 'aws:cdk:bundling-stacks': [] });
    new PgToolsLayer(other, 'PgTools', { postgresVersion: 15, description: 'pg tools' });
    Template.fromStack(other).hasResourceProperties('AWS::Lambda::LayerVersion', { Description: 'pg tools' });
  });
});

describe('PgToolsLayer validation', () => {
  it.each([
    [11, /postgresVersion must be between 12 and 18 \(got 11\)/],
    [19, /postgresVersion must be between 12 and 18 \(got 19\)/],
    [15.4, /postgresVersion must be a whole major version such as 15 \(got 15.4\)/],
  ])('refuses postgresVersion %p', (postgresVersion, message) => {
    expect(() => new PgToolsLayer(newStack(), 'PgTools', { postgresVersion })).toThrow(message);
  });

  it('names the construct in the error', () => {
    expect(() => new PgToolsLayer(newStack(), 'PgTools', { postgresVersion: 9 })).toThrow(/^PgToolsLayer Db\/PgTools: /);
  });

  it('refuses searchPaths with Docker-only bundling', () => {
    expect(
      () => new PgToolsLayer(newStack(), 'PgTools', { postgresVersion: 16, bundling: PgToolsBundling.DOCKER, searchPaths: ['/opt/pg'] }),
    ).toThrow(/searchPaths only applies to local bundling/);
  });
});

describe('PgToolsLayer when it cannot bundle', () => {
  const noDocker = () => {
    process.env.CDK_DOCKER = '/nonexistent/docker';
  };

  it('says to install the client or Docker when neither has the major', () => {
    noDocker();
    const props: PgToolsLayerProps = { postgresVersion: 16 };
    expect(() => new PgToolsLayer(newStack(), 'PgTools', props)).toThrow(
      new RegExp(
        'cannot build a layer with pg_dump, pg_dumpall, pg_restore and psql 16: this machine has no usable PostgreSQL 16 client tools in ' +
          '/usr/lib/postgresql/16/bin, /usr/pgsql-16/bin or on PATH.*; and Docker is not available: `/nonexistent/docker` is not installed\\. ' +
          'To fix: install the PostgreSQL 16 client tools \\(Debian/Ubuntu: `apt-get install postgresql-client-16`.*, ' +
          'or install and start Docker so the layer is built on Amazon Linux 2023 \\(`dnf install postgresql16`\\)',
      ),
    );
  });

  it('does not suggest Docker for a major Amazon Linux 2023 does not ship', () => {
    noDocker();
    let message = '';
    try {
      new PgToolsLayer(newStack(), 'PgTools', { postgresVersion: 13, searchPaths: ['/nonexistent/pg/bin'] });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/no usable PostgreSQL 13 client tools in \/nonexistent\/pg\/bin; and Amazon Linux 2023 has no postgresql13 package/);
    expect(message).toMatch(/To fix: install the PostgreSQL 13 client tools \(Debian\/Ubuntu: `apt-get install postgresql-client-13`/);
    expect(message).not.toMatch(/install and start Docker/);
  });

  it('fails forced local bundling without local binaries, even with Docker at hand', () => {
    fakeDocker();
    expect(() => new PgToolsLayer(newStack(), 'PgTools', { postgresVersion: 16, bundling: PgToolsBundling.LOCAL })).toThrow(
      /local bundling was requested but this machine has no usable PostgreSQL 16 client tools.*To fix: install the PostgreSQL 16 client tools/,
    );
  });

  it('fails forced Docker bundling without Docker, even with local binaries at hand', () => {
    noDocker();
    expect(() => new PgToolsLayer(newStack(), 'PgTools', { postgresVersion: 15, bundling: PgToolsBundling.DOCKER })).toThrow(
      /Docker bundling was requested but Docker is not available: `\/nonexistent\/docker` is not installed\. To fix: install and start Docker/,
    );
  });

  it('fails forced Docker bundling for a major Amazon Linux 2023 does not ship', () => {
    fakeDocker();
    expect(() => new PgToolsLayer(newStack(), 'PgTools', { postgresVersion: 14, bundling: PgToolsBundling.DOCKER })).toThrow(
      /Amazon Linux 2023 has no postgresql14 package \(it ships 15, 16, 17, 18\)\. To fix: use PgToolsBundling.AUTO or LOCAL and install the PostgreSQL 14 client tools/,
    );
  });

  it('does not look for tools when the stack is not being bundled (cdk deploy --exclusively of another stack)', () => {
    noDocker();
    const stack = newStack({ 'aws:cdk:bundling-stacks': [] });
    const layer = new PgToolsLayer(stack, 'PgTools', { postgresVersion: 16 });
    expect(layer.bundlingMethod).toBeUndefined();
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::LayerVersion', 1);
  });
});

describe('PgToolsLayer with Docker bundling', () => {
  it('runs Amazon Linux 2023 as root on linux/amd64 and installs postgresql<N> with dnf', () => {
    const docker = fakeDocker();
    const stack = newStack();
    const layer = new PgToolsLayer(stack, 'PgTools', { postgresVersion: 16, bundling: PgToolsBundling.DOCKER });
    expect(layer.bundlingMethod).toBe(PgToolsBundling.DOCKER);
    expect(layer.bundledVersion).toBeUndefined();
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['x86_64'] });

    const calls = docker.calls();
    expect(calls[0]).toEqual(['version', '--format', '{{.Server.Version}}']);
    const run = calls.find((c) => c[0] === 'run');
    expect(run).toBeDefined();
    const args = run!;
    expect(args).toEqual(expect.arrayContaining(['--platform', 'linux/amd64', '-u', 'root']));
    const image = args.indexOf('public.ecr.aws/amazonlinux/amazonlinux:2023');
    expect(image).toBeGreaterThan(0);
    expect(args.slice(image + 1, image + 3)).toEqual(['bash', '-c']);
    const script = args[image + 3];
    expect(script).toContain('dnf install -y --setopt=install_weak_deps=False postgresql16 ');
    expect(script).toContain("out='/asset-output'");
    const user = os.userInfo();
    expect(script).toContain(`chown -R ${user.uid}:${user.gid} "$out"`);
    expect(args.some((a) => a.includes(':/asset-output:'))).toBe(true);
  });

  it('falls back to Docker in AUTO mode when this machine lacks the major', () => {
    const docker = fakeDocker();
    const stack = newStack();
    const layer = new PgToolsLayer(stack, 'PgTools', { postgresVersion: 17 });
    expect(layer.bundlingMethod).toBe(PgToolsBundling.DOCKER);
    const run = docker.calls().find((c) => c[0] === 'run');
    expect(run?.some((a) => a.includes('dnf install -y --setopt=install_weak_deps=False postgresql17 '))).toBe(true);
  });

  it('says which local tools it passed over', () => {
    fakeDocker();
    const stack = newStack();
    new PgToolsLayer(stack, 'PgTools', { postgresVersion: 16, searchPaths: ['/usr/lib/postgresql/15/bin'] });
    Annotations.fromStack(stack).hasInfo(
      '/Db/PgTools',
      Match.stringLikeRegexp('built with Docker on Amazon Linux 2023; local tools not used: /usr/lib/postgresql/15/bin: pg_dump is version 15\\.\\d+, not 16'),
    );
  });
});
