/**
 * The package as a consumer gets it: `npm pack`, then a fresh CDK app that installs the tarball and only the peer
 * dependencies (plus TypeScript), compiles every TypeScript block of the README and docs/ (free variables declared in
 * one ambient file), and synthesizes PostgresDisasterRecovery over an imported database — with no esbuild and no
 * Docker in that app.
 *
 * The tarball is packed with --ignore-scripts from the build `npm test` made first: `prepack` would rebuild dist/ and
 * assets/ while the other jest projects read them. That `prepack` builds is asserted on package.json.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const ownPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
};
const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: { readonly path: string; readonly size: number }[];
}

/** The TypeScript blocks of a markdown file, with the line each starts on. */
export function typescriptBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** README.md and every markdown file under docs/, relative to the repository. */
function documentationFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.md')) files.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, 'docs'));
  return files;
}

/** What the documentation's examples refer to without declaring (an ambient script: a block may shadow any of these). */
const FREE_VARIABLES = `
type Stack = import('aws-cdk-lib').Stack;
declare const app: import('aws-cdk-lib').App;
declare const primaryStack: Stack;
declare const drStack: Stack;
declare const failoverStack: Stack;
declare const opsStack: Stack;
declare const primary: Stack;
declare const vpc: import('aws-cdk-lib/aws-ec2').IVpc;
declare const drVpc: import('aws-cdk-lib/aws-ec2').IVpc;
declare const ordersDb: import('aws-cdk-lib/aws-rds').DatabaseInstance;
declare const db: import('aws-cdk-lib/aws-rds').DatabaseInstance;
declare const cluster: import('aws-cdk-lib/aws-rds').DatabaseCluster;
declare const replica: import('aws-cdk-lib/aws-rds').IDatabaseInstance;
declare const replicaSecret: import('aws-cdk-lib/aws-secretsmanager').ISecret;
declare const appSecret: import('aws-cdk-lib/aws-secretsmanager').ISecret;
declare const zone: import('aws-cdk-lib/aws-route53').IHostedZone;
declare const onCallRole: import('aws-cdk-lib/aws-iam').IRole;
declare const dumpFunction: import('aws-cdk-lib/aws-lambda').IFunction;
declare const drSnapshotKeyArn: string;
declare const backups: import('cdk-backup-dr').BackupBucket;
declare const replicaBucket: import('cdk-backup-dr').BackupBucket;
declare const primaryBucket: import('cdk-backup-dr').BackupBucket;
declare const primaryVpc: import('aws-cdk-lib/aws-ec2').IVpc;
declare const failoverProps: Omit<import('cdk-backup-dr').FailoverProps, 'bucket'>;
declare const backupProps: Omit<import('cdk-backup-dr').PostgresBackupProps, 'notificationTopic'>;
declare const recoveryTest: import('cdk-backup-dr').RecoveryTest;
declare const recoveryTestProps: import('cdk-backup-dr').RecoveryTestProps;
declare const disasterRecoveryProps: import('cdk-backup-dr').PostgresDisasterRecoveryProps;
declare const instanceType: import('aws-cdk-lib/aws-ec2').InstanceType;
declare const engineVersion: import('aws-cdk-lib/aws-rds').PostgresEngineVersion;
`;

/** Imports a fragment (a block without imports of its own) may use: the package and the aws-cdk-lib modules. */
function fragmentHeader(packageExports: string[]): string {
  return [
    `import { ${packageExports.join(', ')} } from 'cdk-backup-dr';`,
    "import { App, Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';",
    "import { Construct } from 'constructs';",
    ...['cloudwatch', 'ec2', 'iam', 'kms', 'lambda', 'rds', 's3', 'secretsmanager', 'sns', 'route53'].map(
      (module) => `import * as ${module} from 'aws-cdk-lib/aws-${module}';`,
    ),
  ].join('\n');
}

let workDir: string;
let appDir: string;
let packed: PackResult;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'cdk-backup-dr-consumer-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', workDir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  packed = (JSON.parse(stdout) as PackResult[])[0];
  appDir = join(workDir, 'app');
  mkdirSync(appDir);
  writeFileSync(
    join(appDir, 'package.json'),
    JSON.stringify({
      name: 'consumer-app',
      private: true,
      dependencies: {
        'cdk-backup-dr': `file:${join(workDir, packed.filename)}`,
        'aws-cdk-lib': installedVersion('aws-cdk-lib'),
        constructs: installedVersion('constructs'),
      },
      devDependencies: { typescript: installedVersion('typescript'), '@types/node': installedVersion('@types/node') },
    }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: appDir, maxBuffer: 64 * 1024 * 1024 });
}, 600_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('builds before packing (prepack) and has no runtime dependency beyond the peers', () => {
    expect(ownPackage.scripts.prepack).toMatch(/npm run build/);
    expect(ownPackage.dependencies ?? {}).toEqual({});
    const installed = JSON.parse(readFileSync(join(appDir, 'node_modules', 'cdk-backup-dr', 'package.json'), 'utf8')) as { dependencies?: object };
    expect(installed.dependencies ?? {}).toEqual({});
  });

  it('ships compiled code, the bundled handlers and CLI, the LICENSE, and no source text in its source maps', () => {
    const paths = packed.files.map((f) => f.path);
    for (const required of ['LICENSE', 'README.md', 'package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/cli/index.js', 'assets/dump/index.js', 'assets/runner-image/Dockerfile', 'assets/runner-image/task-entrypoint.js', 'container/Dockerfile']) {
      expect(paths).toContain(required);
    }
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    const maps = paths.filter((p) => p.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    for (const map of maps) {
      const content = JSON.parse(readFileSync(join(appDir, 'node_modules', 'cdk-backup-dr', map), 'utf8')) as { sourcesContent?: unknown };
      expect({ map, sourcesContent: content.sourcesContent }).toEqual({ map, sourcesContent: undefined });
    }
    // The measured sizes, for the closing note and for anyone who wonders why a release grew.
    process.stdout.write(`packed ${packed.size} bytes, unpacked ${packed.unpackedSize} bytes, ${packed.files.length} files\n`);
  });

  it('installs into an app that has neither esbuild nor the AWS SDK', () => {
    expect(existsSync(join(appDir, 'node_modules', 'esbuild'))).toBe(false);
    expect(existsSync(join(appDir, 'node_modules', '@aws-sdk'))).toBe(false);
  });
});

describe('the documentation examples, compiled in the consumer app', () => {
  it('compiles every TypeScript block of the README and docs/', async () => {
    const { stdout: exportList } = await run('node', ['-e', "console.log(Object.keys(require('cdk-backup-dr')).join(' '))"], { cwd: appDir });
    const exportsOfPackage = exportList.trim().split(' ').filter((name) => /^[A-Z]/.test(name));
    const srcDir = join(appDir, 'readme');
    mkdirSync(srcDir, { recursive: true });
    writeFileSync(join(srcDir, 'free-variables.d.ts'), FREE_VARIABLES);
    const origins: Record<string, string> = {};
    for (const file of documentationFiles()) {
      typescriptBlocks(readFileSync(join(ROOT, file), 'utf8')).forEach((block, index) => {
        const name = `${file.replace(/[^A-Za-z0-9]+/g, '_')}_${index + 1}.ts`;
        origins[name] = `${file}:${block.line}`;
        const isModule = /^import /m.test(block.code);
        const code = isModule
          ? block.code
          : `${fragmentHeader(exportsOfPackage)}\n\nexport class Example extends Stack {\n  constructor(scope: Construct, id: string) {\n    super(scope, id);\n${block.code}\n  }\n}\n`;
        writeFileSync(join(srcDir, name), code);
      });
    }
    expect(Object.keys(origins).length).toBeGreaterThanOrEqual(5);
    writeFileSync(
      join(appDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'commonjs', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], noUnusedLocals: false },
        include: ['readme/**/*.ts'],
      }),
    );
    const result = await run(join(appDir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: appDir }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    // Name the documentation line of each error, not the generated file.
    const located = result.replace(/readme\/([A-Za-z0-9_]+\.ts)\((\d+),\d+\)/g, (_, name: string, line: string) => `${origins[name] ?? name} (generated line ${line})`);
    expect(located).toBe('');
  }, 300_000);
});

describe('an app built on the package', () => {
  it('synthesizes PostgresDisasterRecovery over an imported database without esbuild or Docker', async () => {
    writeFileSync(
      join(appDir, 'app.js'),
      `
const { App, Stack } = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const rds = require('aws-cdk-lib/aws-rds');
const secretsmanager = require('aws-cdk-lib/aws-secretsmanager');
const { BackupSource, PostgresDisasterRecovery } = require('cdk-backup-dr');
const app = new App({ outdir: 'cdk.out' });
const dr = new Stack(app, 'Dr', { env: { account: '111111111111', region: 'us-west-2' } });
const primary = new Stack(app, 'Primary', { env: { account: '111111111111', region: 'us-east-1' } });
const vpc = (stack) => new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, subnetConfiguration: [
  { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
  { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
const primaryVpc = vpc(primary);
const db = rds.DatabaseInstance.fromDatabaseInstanceAttributes(primary, 'Db', {
  instanceIdentifier: 'orders-db', instanceEndpointAddress: 'orders-db.abc.us-east-1.rds.amazonaws.com', port: 5432,
  securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(primary, 'DbSg', 'sg-0123456789abcdef0')] });
const secret = secretsmanager.Secret.fromSecretCompleteArn(primary, 'DbSecret', 'arn:aws:secretsmanager:us-east-1:111111111111:secret:orders-AbCdEf');
new PostgresDisasterRecovery(primary, 'Orders', {
  source: BackupSource.fromInstance(db, { secret }), databases: ['orders'], postgresVersion: 15,
  vpc: primaryVpc, drStack: dr, drVpc: vpc(dr) });
app.synth();
`,
    );
    // PATH without a docker binary: synthesis must not need one.
    const env = { ...process.env, PATH: (process.env.PATH ?? '').split(':').filter((dir) => !existsSync(join(dir, 'docker'))).join(':') };
    await run('node', ['app.js'], { cwd: appDir, env, maxBuffer: 64 * 1024 * 1024 });
    const template = (stack: string): { Resources: Record<string, { Type: string }> } =>
      JSON.parse(readFileSync(join(appDir, 'cdk.out', `${stack}.template.json`), 'utf8')) as { Resources: Record<string, { Type: string }> };
    const count = (stack: string, type: string): number => Object.values(template(stack).Resources).filter((r) => r.Type === type).length;
    expect(count('Primary', 'AWS::StepFunctions::StateMachine')).toBeGreaterThanOrEqual(3);
    expect(count('Dr', 'AWS::StepFunctions::StateMachine')).toBeGreaterThanOrEqual(1);
    expect(count('Primary', 'AWS::RDS::DBInstance')).toBe(0);
    expect(count('Primary', 'AWS::Lambda::Function')).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
