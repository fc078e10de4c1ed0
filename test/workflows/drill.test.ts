/**
 * `npm run drill` end to end, as a user runs it: bin/drill.ts in its own process, starting its own embedded PostgreSQL
 * and moto_server (AWS_ENDPOINT_URL unset), with a small seed. Asserts each step's outcome and the JSON report, the
 * HTML report as a real headless Chromium shows it (a screenshot is kept in test-artifacts/), and one `--break` run:
 * FAILED where asked, cleanup done, nothing half-written, the notification shown.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { formatSeconds } from '../../local/drill/progress';
import { type FinishedDrill, ROOT, runDrillProcess } from './support/drill-process';

/** Debian's chromium (.ci/run installs it and exports CHROMIUM_PATH). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');

const STEPS = ['seed', 'synth', 'prepare', 'backup', 'recovery-test', 'failover', 'retention-plan', 'retention-apply'];

describe('npm run drill', () => {
  let succeeded: FinishedDrill | undefined;
  beforeAll(() => {
    succeeded = runDrillProcess();
  }, 300_000);
  afterAll(() => succeeded?.dirs.remove());

  it('runs every step of the example app locally and reports RPO/RTO against the targets', () => {
    const run = need(succeeded);
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
  });

  it('drill-report.html in headless Chromium: the timeline, RPO/RTO and the verdict are visible, and the page loads nothing', async () => {
    const run = need(succeeded);
    const fileUrl = pathToFileURL(run.htmlPath).href;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }).catch((error: unknown) => {
      throw new Error(`could not start Chromium at ${CHROMIUM} (install Debian's chromium, as .ci/run does, or set CHROMIUM_PATH): ${String(error)}`);
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const requested: string[] = [];
      // Every request but the page itself is recorded and refused: a self-contained page makes none.
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        if (url === fileUrl) return route.continue();
        requested.push(url);
        return route.abort();
      });
      const page = await context.newPage();
      page.on('request', (request) => {
        if (request.url() !== fileUrl && !requested.includes(request.url())) requested.push(request.url());
      });
      await page.goto(fileUrl, { waitUntil: 'load' });

      const { report } = run;
      await expect(page.locator('h1 .status').innerText()).resolves.toBe('SUCCEEDED');
      expect(await page.locator('h1').isVisible()).toBe(true);
      const steps = page.locator('#timeline tr.step');
      expect(await steps.count()).toBe(STEPS.length);
      for (const [index, step] of report.steps.entries()) {
        const row = steps.nth(index);
        expect(await row.isVisible()).toBe(true);
        expect(await row.getAttribute('data-step')).toBe(step.id);
        expect(await row.locator('td.title').innerText()).toContain(step.title);
        expect(await row.locator('td.status').innerText()).toBe('SUCCEEDED');
        // The step's bar on the timeline is drawn (a box with a width), not just present in the markup.
        const bar = await row.locator('.span').boundingBox();
        expect(bar?.width ?? 0).toBeGreaterThan(0);
      }
      for (const [id, objective] of [['rpo', report.rpo], ['rto', report.rto]] as const) {
        const box = page.locator(`#${id}`);
        expect(await box.isVisible()).toBe(true);
        expect(await box.locator('.measured').innerText()).toBe(formatSeconds(need(objective.measuredSeconds)));
        expect(await box.locator('.target').innerText()).toBe(formatSeconds(need(objective.targetSeconds)));
        expect(await box.locator('.note').innerText()).toMatch(/— met$/);
      }
      expect(await page.locator('#emulated li').count()).toBe(report.emulated.length);

      mkdirSync(ARTIFACTS, { recursive: true });
      const screenshot = join(ARTIFACTS, 'drill-report.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(statSync(screenshot).size).toBeGreaterThan(10_000);

      expect(requested).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('--break restore: the recovery test ends FAILED, its cleanup still runs, the notification is shown, the drill exits 0', () => {
    const run = runDrillProcess(['--break', 'restore']);
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
      run.dirs.remove();
    }
  }, 300_000);
});

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the drill run this test reads did not complete');
  return value;
}
