#!/usr/bin/env node
/**
 * `npm run drill`: the whole backup and recovery story locally, without an AWS account (see local/drill/).
 *
 *   npm run drill -- [--rows N] [--break dump|verify|restore|cleanup] [--out DIR]
 *
 * Exit codes: 0 every step succeeded (or only the step --break asked for failed); 1 a step failed; 2 bad arguments
 * or an environment that cannot run the drill (moto_server missing); 130/143 interrupted (everything stopped).
 */
import '../local/drill/quiet-sdk';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BREAK_STEPS, type BreakStep, runDrill } from '../local/drill/drill';
import { streamProgress } from '../local/drill/progress';
import { summaryLines, writeDrillReports } from '../local/drill/report';
import { DEFAULT_ROWS, MIN_ROWS } from '../local/drill/seed';
import { Cleanup, startMoto, startPostgres } from '../local/services';

const USAGE = `usage: npm run drill -- [--rows N] [--break ${BREAK_STEPS.join('|')}] [--out DIR]
  --rows N     rows to seed (default ${DEFAULT_ROWS}, at least ${MIN_ROWS})
  --break S    inject a fault into step S: the run ends FAILED, cleanup still runs, the notification is shown
  --out DIR    where drill-report.json and drill-report.html go (default: the current directory)
AWS_ENDPOINT_URL, when set, names a running AWS emulator to use instead of starting moto_server.`;

interface Args {
  rows: number;
  breakStep?: BreakStep;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { rows: DEFAULT_ROWS, out: process.cwd() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--rows') {
      const rows = Number(value());
      if (!Number.isInteger(rows) || rows < MIN_ROWS) throw new Error(`--rows must be a whole number of at least ${MIN_ROWS}`);
      args.rows = rows;
    } else if (arg === '--break') {
      const step = value();
      if (!(BREAK_STEPS as readonly string[]).includes(step)) throw new Error(`--break takes one of ${BREAK_STEPS.join(', ')}; got ${step}`);
      args.breakStep = step as BreakStep;
    } else if (arg === '--out') {
      args.out = resolve(value());
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const progress = streamProgress();
  const cleanup = new Cleanup((line) => progress.line(line));
  cleanup.add('report', async () => {
    if (cleanup.interruptedBy !== undefined) progress.line(`interrupted by ${cleanup.interruptedBy}: everything the drill started is stopped; no report written`);
  });
  const workDir = mkdtempSync(join(tmpdir(), 'cdk-backup-dr-drill-'));
  cleanup.add('work directory', async () => rmSync(workDir, { recursive: true, force: true }));
  // Never a real account: the emulator takes any credentials, and nothing may fall back to a profile or IMDS.
  for (const name of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) delete process.env[name];
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  try {
    let endpoint = process.env.AWS_ENDPOINT_URL;
    const startedEmulator = endpoint === undefined;
    if (endpoint === undefined) {
      try {
        const moto = await startMoto((line) => progress.line(line), { quiet: true });
        cleanup.add('moto_server', moto.stop);
        endpoint = moto.endpoint;
      } catch (error) {
        console.error((error as Error).message);
        return 2;
      }
      process.env.AWS_ENDPOINT_URL = endpoint;
    }
    const pg = await startPostgres((line) => progress.line(line), { quiet: true });
    cleanup.add('PostgreSQL', pg.stop);
    cleanup.takeOverSignals();
    progress.line(`embedded PostgreSQL 15 on ${pg.host}:${pg.port}; AWS emulator ${endpoint}${startedEmulator ? ' (moto_server, started by the drill)' : ' (AWS_ENDPOINT_URL)'}`);
    const report = await runDrill({
      rows: args.rows,
      breakStep: args.breakStep,
      endpoint,
      emulatorStartedByDrill: startedEmulator,
      server: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, label: 'the embedded server' },
      workDir,
      progress,
    });
    // A signal stops the services under the running steps: what they report then is not a drill result.
    if (cleanup.interruptedBy !== undefined) return 1;
    for (const line of summaryLines(report)) progress.line(line);
    mkdirSync(args.out, { recursive: true });
    const files = writeDrillReports(report, args.out);
    progress.line(`  reports: ${files.json}, ${files.html}`);
    return report.unexpectedFailures.length === 0 ? 0 : 1;
  } finally {
    await cleanup.run();
    cleanup.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
