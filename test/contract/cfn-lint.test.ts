/**
 * cfn-lint (AWS CloudFormation Linter, from this machine's Python like moto) over every synthesized template: the
 * example app's stacks (bin/app.ts) and the test stacks the constructs tests synthesized (kept by
 * test/support/record-templates.ts). No errors; the warnings are printed for the reader.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildExampleApp } from '../../bin/app';
import { TEMPLATES_DIR } from '../support/iam-recordings';

const INSTALL = "pip install 'cfn-lint==1.51.0'";

interface CfnLintMatch {
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Rule: { readonly Id: string };
  readonly Filename: string;
  readonly Location: { readonly Path?: ReadonlyArray<string | number> };
  readonly Message: string;
}

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'cfn-lint-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** Runs cfn-lint over `files`, in as many processes as there are CPUs. */
async function cfnLint(files: readonly string[]): Promise<CfnLintMatch[]> {
  const processes = Math.max(1, Math.min(availableParallelism(), files.length));
  const chunks = Array.from({ length: processes }, (_, i) => files.filter((_file, index) => index % processes === i));
  return (await Promise.all(chunks.map(lintChunk))).flat();
}

function lintChunk(files: readonly string[]): Promise<CfnLintMatch[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--format', 'json', '--regions', 'us-east-1', 'us-west-2', '--', ...files]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error) => reject(new Error(`cfn-lint could not be run (${error.message}): install it in this machine's Python: ${INSTALL}`)));
    child.on('close', (code) => {
      if (stdout.trim() === '') reject(new Error(`cfn-lint printed no report (exit ${code}): ${stderr}`));
      else resolve(JSON.parse(stdout) as CfnLintMatch[]);
    });
  });
}

function summary(matches: readonly CfnLintMatch[]): string[] {
  return matches.map((m) => `${m.Level} ${m.Rule.Id} ${m.Filename.replace(/^.*\//, '')} ${(m.Location.Path ?? []).join('/')}: ${m.Message}`);
}

/** `W3005 ×95, W3010 ×78` with one example message per rule: the full list is long and the same few rules repeat. */
function countByRule(matches: readonly CfnLintMatch[]): string {
  const byRule = new Map<string, { count: number; example: string }>();
  for (const m of matches) {
    const entry = byRule.get(m.Rule.Id) ?? { count: 0, example: m.Message };
    byRule.set(m.Rule.Id, { ...entry, count: entry.count + 1 });
  }
  return [...byRule].map(([rule, { count, example }]) => `${rule} ×${count} (e.g. ${example})`).join('; ');
}

async function lintAndReport(files: readonly string[]): Promise<void> {
  const matches = await cfnLint(files);
  const warnings = matches.filter((m) => m.Level !== 'Error');
  if (warnings.length > 0) process.stdout.write(`cfn-lint warnings (${warnings.length}): ${countByRule(warnings)}\n`);
  expect(summary(matches.filter((m) => m.Level === 'Error'))).toEqual([]);
}

test('the example app (bin/app.ts): every stack passes cfn-lint without errors', async () => {
  const app = new App();
  const { primary, dr } = buildExampleApp(app);
  const files = [primary, dr].map((stack) => {
    const file = join(workDir, `${stack.stackName}.template.json`);
    writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON()));
    return file;
  });
  await lintAndReport(files);
}, 600_000);

test('the test stacks of the constructs tests pass cfn-lint without errors', async () => {
  const files = existsSync(TEMPLATES_DIR) ? readdirSync(TEMPLATES_DIR).map((name) => join(TEMPLATES_DIR, name)) : [];
  if (files.length === 0) {
    throw new Error(`no construct templates in ${TEMPLATES_DIR}: the constructs tests keep them; run npx jest --selectProjects constructs first, or npm test`);
  }
  await lintAndReport(files);
}, 600_000);
