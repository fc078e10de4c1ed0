/**
 * `npm run drill -- --break dump|verify|cleanup` as a user runs it (--break restore is in drill.test.ts): the step
 * asked for ends FAILED, what follows is skipped, nothing half-written remains, the notification that would be sent is
 * shown, and the drill exits 0 because only the failure it was asked for happened.
 */
import type { DrillReport, DrillStep } from '../../local/drill/report';
import { type FinishedDrill, runDrillProcess } from './support/drill-process';

function step(report: DrillReport, id: DrillStep['id']): DrillStep {
  const found = report.steps.find((s) => s.id === id);
  if (found === undefined) throw new Error(`no step ${id} in the report`);
  return found;
}

function checks(s: DrillStep): Record<string, boolean> {
  return Object.fromEntries(s.checks.map((c) => [c.name, c.passed]));
}

function expectFailedAsAsked(run: FinishedDrill, breakStep: string, failedStep: DrillStep['id']): DrillStep {
  expect(run.code).toBe(0);
  expect(run.report.status).toBe('FAILED');
  expect(run.report.break).toEqual({ step: breakStep, failedAsAsked: true });
  expect(run.report.unexpectedFailures).toEqual([]);
  const failed = run.report.steps.filter((s) => s.status === 'FAILED');
  expect(failed.map((s) => s.id)).toEqual([failedStep]);
  expect(failed[0].expectedFailure).toBe(true);
  expect(run.stdout).toContain(`Drill FAILED (--break ${breakStep})`);
  expect(run.stdout).toContain('FAILED (as --break asked)');
  // The summary and the HTML page say it too.
  expect(run.html).toContain(`--break ${breakStep}`);
  expect(run.html).toContain('(as --break asked)');
  return failed[0];
}

describe('npm run drill -- --break', () => {
  it('verify: the dump is replaced after it was written; BackupWorkflow ends FAILED, nothing after runs, the notification is shown, exit 0', () => {
    const run = runDrillProcess(['--break', 'verify']);
    try {
      const backup = expectFailedAsAsked(run, 'verify', 'backup');
      expect(backup.error).toMatch(/BackupWorkflow ended FAILED/);
      const verify = backup.tasks.filter((t) => t.name === 'verify');
      expect(verify.length).toBeGreaterThan(0);
      expect(verify.every((t) => !t.ok)).toBe(true);
      expect(checks(backup)).toMatchObject({ 'no multipart upload left open': true });
      expect(Object.fromEntries(run.report.steps.map((s) => [s.id, s.status]))).toMatchObject({
        'recovery-test': 'SKIPPED',
        failover: 'SKIPPED',
        'retention-plan': 'SKIPPED',
        'retention-apply': 'SKIPPED',
      });
      expect(run.report.rto.measuredSeconds).toBeUndefined();
      expect(backup.notification?.topic).toMatch(/^arn:aws:sns:us-east-1:/);
      expect(backup.notification?.subject ?? backup.notification?.message).toMatch(/FAILED|fail/i);
      expect(run.stdout).toContain('notification that would be sent to arn:aws:sns:us-east-1:');
    } finally {
      run.dirs.remove();
    }
  }, 300_000);

  it('cleanup: deletes of older backups are denied; retention apply ends FAILED with what it could not delete, every remaining backup whole, exit 0', () => {
    const run = runDrillProcess(['--break', 'cleanup']);
    try {
      const apply = expectFailedAsAsked(run, 'cleanup', 'retention-apply');
      for (const id of ['seed', 'synth', 'prepare', 'backup', 'recovery-test', 'failover', 'retention-plan'] as const) {
        expect([id, step(run.report, id).status]).toEqual([id, 'SUCCEEDED']);
      }
      // The leftovers are reported: the failure names the objects whose deletes were refused.
      expect(apply.error).toMatch(/retention cleanup ended FAILED/);
      expect(apply.error).toMatch(/AccessDenied/);
      expect(apply.error).toMatch(/\.manifest\.json|\.dump/);
      expect(checks(apply)).toMatchObject({ 'nothing half-written: every remaining manifest has its dump': true });
      expect(apply.notification?.topic).toMatch(/^arn:aws:sns:us-east-1:/);
      expect(run.stdout).toContain('notification that would be sent to arn:aws:sns:us-east-1:');
      // The recovery objectives were measured before the broken step and stay in the report.
      expect(run.report.rpo.withinTarget).toBe(true);
      expect(run.report.rto.withinTarget).toBe(true);
    } finally {
      run.dirs.remove();
    }
  }, 300_000);

  it('dump: pg_dump is cut after 8 KiB; BackupWorkflow ends FAILED, no dump, manifest or multipart upload of the run remains, exit 0', () => {
    const run = runDrillProcess(['--break', 'dump']);
    try {
      const backup = expectFailedAsAsked(run, 'dump', 'backup');
      expect(backup.error).toMatch(/BackupWorkflow ended FAILED/);
      expect(backup.tasks.filter((t) => t.name === 'dump').every((t) => !t.ok)).toBe(true);
      expect(backup.tasks.map((t) => t.name)).not.toContain('verify');
      expect(checks(backup)).toEqual({
        'no multipart upload left open': true,
        'nothing half-written: no dump or manifest of this run in the bucket': true,
      });
      expect(run.report.sizes.dumpBytes).toBeUndefined();
      expect(step(run.report, 'recovery-test').status).toBe('SKIPPED');
      expect(backup.notification?.topic).toMatch(/^arn:aws:sns:us-east-1:/);
      expect(run.stdout).toContain('notification that would be sent to arn:aws:sns:us-east-1:');
    } finally {
      run.dirs.remove();
    }
  }, 300_000);
});
