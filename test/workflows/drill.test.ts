/**
 * `npm run drill` end to end, as a user runs it: bin/drill.ts in its own process, starting its own embedded PostgreSQL
 * and moto_server (AWS_ENDPOINT_URL unset), with a small seed. Asserts each step's outcome and the JSON report, and
 * one `--break` run: FAILED where asked, cleanup done, nothing half-written, the notification shown.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DrillReport } from '../../local/drill/report';

const ROOT = resolve(__dirname, '..', '..');

function drill(args: string[]): { code: number | null; stdout: string; stderr: string; report: DrillReport; html: string; out: string } {
  const out = mkdtempSync(join(tmpdir(), 'drill-test-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (/^(AWS_|PG)/.test(name)) delete env[name];
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'drill.ts'), '--rows', '1000', '--out', out, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const report = JSON.parse(readFileSync(join(out, 'drill-report.json'), 'utf8')) as DrillReport;
  const html = readFileSync(join(out, 'drill-report.html'), 'utf8');
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, report, html, out };
}

const STEPS = ['seed', 'synth', 'prepare', 'backup', 'recovery-test', 'failover', 'retention-plan', 'retention-apply'];

describe('npm run drill', () => {
  it('runs every step of the example app locally and reports RPO/RTO against the targets', () => {
    const run = drill([]);
    try {
      expect(run.stderr).not.toMatch(/Error/);
      expect(run.code).toBe(0);
      const { report } = run;
      expect(report.status).toBe('SUCCEEDED');
      expect(report.unexpectedFailures).toEqual([]);
      expect(report.steps.map((s) => [s.id, s.status])).toEqual(STEPS.map((id) => [id, 'SUCCEEDED']));
      for (const step of report.steps) expect(step.checks.filter((c) => !c.passed)).toEqual([]);
      expect(report.database?.totalRows).toBeGreaterThanOrEqual(1000);
      expect(report.database?.tables.map((t) => `${t.schema}.${t.name}`)).toContain('inventory.StockLevels');
      const backup = report.steps.find((s) => s.id === 'backup');
      expect(backup?.bytes).toBeGreaterThan(0);
      expect(backup?.tasks.map((t) => t.name)).toEqual(expect.arrayContaining(['dump', 'verify', 'report']));
      const recovery = report.steps.find((s) => s.id === 'recovery-test');
      expect(recovery?.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['cleanup: scratch instance deleted', 'report: table "inventory"."StockLevels"']));
      // The data is seconds old when the recovery test restores it; the example app's targets are 26 h and 2 h.
      expect(report.rpo).toMatchObject({ targetSeconds: 26 * 3600, withinTarget: true });
      expect(report.rpo.measuredSeconds).toBeLessThan(600);
      expect(report.rto).toMatchObject({ targetSeconds: 2 * 3600, withinTarget: true });
      expect(report.rto.measuredSeconds).toBeGreaterThan(0);
      expect(report.sizes.dumpBytes).toBeGreaterThan(0);
      const plan = report.steps.find((s) => s.id === 'retention-plan');
      expect(plan?.summary).toMatch(/keep \d+, delete [1-9]\d*/);
      expect(report.emulated.join('\n')).toMatch(/has no PostgreSQL server/);
      expect(report.emulated.join('\n')).toMatch(/S3 replication/);
      expect(run.stdout).toContain('Drill SUCCEEDED');
      expect(run.stdout).toMatch(/dump: .* streamed in .*\/s\)/);
      expect(run.html).toContain('id="timeline"');
      expect(run.html).not.toMatch(/<(script|link)\b|https?:\/\/(?!127\.0\.0\.1)/);
    } finally {
      rmSync(run.out, { recursive: true, force: true });
    }
  }, 300_000);

  it('--break restore: the recovery test ends FAILED, its cleanup still runs, the notification is shown, the drill exits 0', () => {
    const run = drill(['--break', 'restore']);
    try {
      expect(run.code).toBe(0);
      const { report } = run;
      expect(report.status).toBe('FAILED');
      expect(report.break).toEqual({ step: 'restore', failedAsAsked: true });
      expect(report.unexpectedFailures).toEqual([]);
      const statuses = Object.fromEntries(report.steps.map((s) => [s.id, s.status]));
      expect(statuses).toMatchObject({ backup: 'SUCCEEDED', 'recovery-test': 'FAILED', failover: 'SKIPPED' });
      const recovery = report.steps.find((s) => s.id === 'recovery-test');
      expect(recovery?.expectedFailure).toBe(true);
      expect(recovery?.error).toMatch(/RecoveryTest ended FAILED/);
      // Nothing half-written: the scratch instance, its secret and the database the restore filled are gone.
      expect(recovery?.checks.filter((c) => /cleanup/.test(c.name)).map((c) => [c.name, c.passed])).toEqual([
        ['cleanup: scratch instance deleted', true],
        ['cleanup: scratch database dropped', true],
        ['report: cleanup', true],
      ]);
      expect(recovery?.notification?.subject).toMatch(/FAILED/);
      expect(run.stdout).toContain('notification that would be sent to arn:aws:sns:us-east-1:');
      expect(run.stdout).toContain('FAILED (as --break asked)');
    } finally {
      rmSync(run.out, { recursive: true, force: true });
    }
  }, 300_000);
});
