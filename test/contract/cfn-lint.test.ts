/**
 * cfn-lint (AWS CloudFormation Linter, from this machine's Python like moto) over every synthesized template: the
 * example app's stacks (bin/app.ts) and the test stacks the constructs tests synthesized (kept by
 * test/support/record-templates.ts). No errors; the warnings are printed for the reader.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

function cfnLint(files: readonly string[]): CfnLintMatch[] {
  const run = spawnSync('cfn-lint', ['--format', 'json', '--regions', 'us-east-1', 'us-west-2', '--', ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error !== undefined) {
    throw new Error(`cfn-lint could not be run (${run.error.message}): install it in this machine's Python: ${INSTALL}`);
  }
  if (run.stdout.trim() === '') throw new Error(`cfn-lint printed no report (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as CfnLintMatch[];
}

function summary(matches: readonly CfnLintMatch[]): string[] {
  return matches.map((m) => `${m.Level} ${m.Rule.Id} ${m.Filename.replace(/^.*\//, '')} ${(m.Location.Path ?? []).join('/')}: ${m.Message}`);
}

function lintAndReport(files: readonly string[]): void {
  const matches = cfnLint(files);
  const warnings = matches.filter((m) => m.Level !== 'Error');
  if (warnings.length > 0) process.stdout.write(`cfn-lint warnings (${warnings.length}):\n${[...new Set(summary(warnings))].join('\n')}\n`);
  expect(summary(matches.filter((m) => m.Level === 'Error'))).toEqual([]);
}

test('the example app (bin/app.ts): every stack passes cfn-lint without errors', () => {
  const app = new App();
  const { primary, dr } = buildExampleApp(app);
  const files = [primary, dr].map((stack) => {
    const file = join(workDir, `${stack.stackName}.template.json`);
    writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON()));
    return file;
  });
  lintAndReport(files);
});

test('the test stacks of the constructs tests pass cfn-lint without errors', () => {
  const files = existsSync(TEMPLATES_DIR) ? readdirSync(TEMPLATES_DIR).map((name) => join(TEMPLATES_DIR, name)) : [];
  if (files.length === 0) {
    throw new Error(`no construct templates in ${TEMPLATES_DIR}: the constructs tests keep them; run npx jest --selectProjects constructs first, or npm test`);
  }
  lintAndReport(files);
}, 600_000);
