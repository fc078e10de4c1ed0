/**
 * The drill's report: `drill-report.json` (the data) and `drill-report.html` (one self-contained page, no network:
 * the timeline of the steps, RPO/RTO against the targets, each check, what was emulated).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes, formatSeconds } from './progress';

export type DrillStepId = 'seed' | 'synth' | 'prepare' | 'backup' | 'recovery-test' | 'failover' | 'retention-plan' | 'retention-apply';

export interface DrillCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail?: string;
}

/** One handler invocation inside a step. */
export interface TaskTiming {
  readonly name: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly error?: string;
}

/** The SNS message a failed run published (to the emulator: this is what subscribers would get). */
export interface DrillNotification {
  readonly topic: string;
  readonly subject?: string;
  readonly message: string;
}

export interface DrillStep {
  readonly id: DrillStepId;
  readonly title: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  readonly startedAt: string;
  readonly durationMs: number;
  readonly summary: string;
  readonly checks: readonly DrillCheck[];
  readonly tasks: readonly TaskTiming[];
  readonly error?: string;
  /** The failure `--break` asked for. */
  readonly expectedFailure?: boolean;
  readonly notification?: DrillNotification;
  readonly bytes?: number;
  readonly throughputBytesPerSecond?: number;
}

interface Objective {
  readonly targetSeconds?: number;
  readonly measuredSeconds?: number;
  readonly withinTarget?: boolean;
  readonly measuredAs: string;
}

export interface DrillReport {
  readonly schemaVersion: 1;
  readonly tool: 'cdk-backup-dr drill';
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly break?: { readonly step: string; readonly failedAsAsked: boolean };
  /** Failed steps other than the one `--break` asked for: the drill exits non-zero when there is one. */
  readonly unexpectedFailures: readonly string[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly wallSeconds: number;
  readonly environment: { readonly postgres: string; readonly emulator: string; readonly emulatorStartedByDrill: boolean; readonly stacks: readonly string[] };
  readonly database?: { readonly name: string; readonly totalRows: number; readonly bytes: number; readonly tables: ReadonlyArray<{ schema: string; name: string; rows: number }> };
  readonly rpo: Objective;
  readonly rto: Objective & { readonly failoverRehearsalSeconds?: number };
  readonly sizes: { readonly databaseBytes?: number; readonly dumpBytes?: number };
  readonly steps: readonly DrillStep[];
  readonly emulated: readonly string[];
}

/** Writes both files into `dir`; returns their paths. */
export function writeDrillReports(report: DrillReport, dir: string): { json: string; html: string } {
  const json = join(dir, 'drill-report.json');
  const html = join(dir, 'drill-report.html');
  // Each file appears complete or not at all, also when the process is stopped between the two.
  const write = (path: string, text: string): void => {
    const partial = `${path}.partial-${process.pid}`;
    try {
      writeFileSync(partial, text);
      renameSync(partial, path);
    } finally {
      rmSync(partial, { force: true });
    }
  };
  write(json, `${JSON.stringify(report, null, 2)}\n`);
  write(html, renderHtml(report));
  return { json, html };
}

/** The summary printed at the end. */
export function summaryLines(report: DrillReport): string[] {
  const lines = ['', `Drill ${report.status}${report.break ? ` (--break ${report.break.step})` : ''} in ${formatSeconds(report.wallSeconds)}`];
  for (const step of report.steps) {
    const mark = step.status === 'SUCCEEDED' ? 'ok     ' : step.status === 'SKIPPED' ? 'skipped' : step.expectedFailure ? 'FAILED*' : 'FAILED ';
    lines.push(`  ${mark} ${formatSeconds(step.durationMs / 1000).padStart(9)}  ${step.title}: ${step.summary}`);
  }
  const objective = (name: string, o: Objective): string =>
    `  ${name}: ${o.measuredSeconds === undefined ? 'not measured' : formatSeconds(o.measuredSeconds)} against a target of ${o.targetSeconds === undefined ? '?' : formatSeconds(o.targetSeconds)}` +
    `${o.withinTarget === undefined ? '' : o.withinTarget ? ' (met)' : ' (MISSED)'} — ${o.measuredAs}`;
  lines.push(objective('RPO (data age)', report.rpo), objective('RTO', report.rto));
  lines.push(`  sizes: database ${report.sizes.databaseBytes === undefined ? '?' : formatBytes(report.sizes.databaseBytes)}, dump ${report.sizes.dumpBytes === undefined ? '?' : formatBytes(report.sizes.dumpBytes)}`);
  lines.push('  emulated (what ran differently than on AWS):', ...report.emulated.map((note) => `    - ${note}`));
  if (report.break) lines.push(`  * the failure --break ${report.break.step} asked for`);
  return lines;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function objectiveHtml(id: string, name: string, o: Objective): string {
  const measured = o.measuredSeconds === undefined ? 'not measured' : formatSeconds(o.measuredSeconds);
  const target = o.targetSeconds === undefined ? '?' : formatSeconds(o.targetSeconds);
  const ratio = o.measuredSeconds !== undefined && o.targetSeconds ? Math.min(100, (o.measuredSeconds / o.targetSeconds) * 100) : 0;
  const cls = o.withinTarget === undefined ? 'unknown' : o.withinTarget ? 'ok' : 'bad';
  return `<div class="objective ${cls}" id="${id}"><h3>${escape(name)}</h3><p class="figure"><span class="measured">${escape(measured)}</span> of <span class="target">${escape(target)}</span> target</p>
<div class="bar"><div style="width:${ratio.toFixed(2)}%"></div></div><p class="note">${escape(o.measuredAs)}${o.withinTarget === undefined ? '' : o.withinTarget ? ' — met' : ' — MISSED'}</p></div>`;
}

/** The self-contained HTML page. */
export function renderHtml(report: DrillReport): string {
  const start = Date.parse(report.startedAt);
  const total = Math.max(1, Date.parse(report.finishedAt) - start);
  const rows = report.steps
    .map((step) => {
      const left = ((Date.parse(step.startedAt) - start) / total) * 100;
      const width = Math.max(0.4, (step.durationMs / total) * 100);
      const cls = step.status === 'SUCCEEDED' ? 'ok' : step.status === 'SKIPPED' ? 'skipped' : step.expectedFailure ? 'expected' : 'bad';
      const checks = step.checks.map((c) => `<li class="${c.passed ? 'pass' : 'fail'}">${c.passed ? '✔' : '✘'} ${escape(c.name)}${c.detail ? ` <small>${escape(c.detail)}</small>` : ''}</li>`).join('');
      const tasks = step.tasks.map((t) => `<li class="${t.ok ? 'pass' : 'fail'}">${escape(t.name)} — ${formatSeconds(t.durationMs / 1000)}${t.error ? ` <small>${escape(t.error)}</small>` : ''}</li>`).join('');
      const notification = step.notification
        ? `<div class="notification"><b>Notification to ${escape(step.notification.topic)}</b>${step.notification.subject ? `<br>Subject: ${escape(step.notification.subject)}` : ''}<pre>${escape(step.notification.message)}</pre></div>`
        : '';
      return `<tr class="step ${cls}" data-step="${step.id}"><td class="title">${escape(step.title)}<br><small>${escape(step.summary)}</small>${step.error ? `<br><small class="error">${escape(step.error)}</small>` : ''}</td>
<td class="status">${step.status}${step.expectedFailure ? ' (as --break asked)' : ''}</td><td class="duration">${formatSeconds(step.durationMs / 1000)}</td>
<td class="lane"><div class="span ${cls}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div></td></tr>
${checks || tasks || notification ? `<tr class="details"><td colspan="4">${tasks ? `<ul class="tasks">${tasks}</ul>` : ''}${checks ? `<ul class="checks">${checks}</ul>` : ''}${notification}</td></tr>` : ''}`;
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cdk-backup-dr drill — ${report.status}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1d2430}
h1 .status{padding:.1rem .5rem;border-radius:.3rem;color:#fff}.SUCCEEDED{background:#1a7f37}.FAILED{background:#cf222e}
.objectives{display:flex;gap:1rem;flex-wrap:wrap}.objective{flex:1;min-width:18rem;border:1px solid #d0d7de;border-radius:.5rem;padding:.5rem 1rem}
.objective .figure{font-size:1.6rem;margin:.2rem 0}.bar{height:.6rem;background:#eaeef2;border-radius:.3rem}.bar div{height:100%;background:#1a7f37;border-radius:.3rem}
.objective.bad .bar div{background:#cf222e}.note{color:#57606a;margin:.3rem 0}
table{border-collapse:collapse;width:100%}td{border-top:1px solid #d0d7de;padding:.35rem;vertical-align:top}tr.details td{border-top:none;padding-top:0}
td.lane{width:35%;position:relative}.span{position:absolute;top:.6rem;height:1rem;border-radius:.2rem}.span.ok{background:#1a7f37}.span.bad{background:#cf222e}
.span.expected{background:#bf8700}.span.skipped{background:#afb8c1}small{color:#57606a}.error{color:#cf222e}
ul{margin:.2rem 0 .4rem;padding-left:1.2rem}li.fail{color:#cf222e}.notification{background:#fff8c5;padding:.4rem;border-radius:.3rem}pre{white-space:pre-wrap;margin:.2rem 0}
</style></head><body>
<h1>cdk-backup-dr drill <span class="status ${report.status}">${report.status}</span></h1>
<p>${escape(report.startedAt)} — wall time ${formatSeconds(report.wallSeconds)}${report.break ? ` — fault injected with <code>--break ${escape(report.break.step)}</code>` : ''}.
${escape(report.environment.postgres)}; AWS emulator ${escape(report.environment.emulator)}; stacks ${escape(report.environment.stacks.join(', '))}.
${report.database ? `Database <code>${escape(report.database.name)}</code>: ${report.database.totalRows.toLocaleString('en-US')} rows, ${formatBytes(report.database.bytes)}.` : ''}
${report.sizes.dumpBytes !== undefined ? `Dump: ${formatBytes(report.sizes.dumpBytes)}.` : ''}</p>
<h2>Recovery objectives</h2><div class="objectives">${objectiveHtml('rpo', 'RPO (data age)', report.rpo)}${objectiveHtml('rto', 'RTO (restore + verify)', report.rto)}</div>
<h2>Timeline</h2><table id="timeline"><tbody>${rows}</tbody></table>
<h2>Emulated</h2><ul id="emulated">${report.emulated.map((note) => `<li>${escape(note)}</li>`).join('')}</ul>
</body></html>
`;
}
