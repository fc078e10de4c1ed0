/**
 * Pure pieces of the retention bench (`--suite retention`): the backup histories and the naive baseline the GFS
 * decision (lambda/retention/policy.ts) is measured against.
 */
import type { RetainedBackup, RetentionRules } from '../../lambda/retention/policy';

const HOUR = 3_600_000;

/** `count` hourly backups, the newest at `newest` (epoch ms), every one verified; ids `b<n>`, oldest first. */
export function hourlyBackups(count: number, newest: number): RetainedBackup[] {
  return Array.from({ length: count }, (_, i) => ({ id: `b${String(i).padStart(7, '0')}`, time: newest - (count - 1 - i) * HOUR, verified: true }));
}

/** ISO-8601 week of a calendar date as `YYYY-Www`, by the textbook Thursday rule (independent of policy.ts). */
function isoWeek(year: number, month: number, day: number): string {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${week}`;
}

/**
 * The straightforward implementation of restic's `forget` the decision is compared with: one `Intl` call per backup
 * (no cache, no UTC shortcut), string bucket keys, no reasons. Handles `last`, the calendar rules (with restic's
 * "oldest" rule), `withinSeconds`, backups dated after `now` and the newest verified backup; not locks, holds, in-use
 * or `minimumKeep` (the bench's histories have none of those).
 *
 * @returns the ids kept
 */
export function naiveKeptIds(backups: readonly RetainedBackup[], rules: RetentionRules, now: number): Set<string> {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone: rules.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const sorted = [...backups].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const kept = new Set<string>();
  const past = sorted.filter((b) => {
    if (b.time > now) kept.add(b.id);
    return b.time <= now;
  });
  const rulesInOrder: Array<{ left: number; last?: string; key: (date: string, nr: number) => string }> = [
    { left: rules.last ?? 0, key: (_date, nr) => String(nr) },
    { left: rules.daily ?? 0, key: (date) => date },
    { left: rules.weekly ?? 0, key: (date) => isoWeek(Number(date.slice(0, 4)), Number(date.slice(5, 7)), Number(date.slice(8, 10))) },
    { left: rules.monthly ?? 0, key: (date) => date.slice(0, 7) },
    { left: rules.yearly ?? 0, key: (date) => date.slice(0, 4) },
  ];
  const withinSince = past.length > 0 ? past[0].time - (rules.withinSeconds ?? 0) * 1000 : 0;
  past.forEach((backup, nr) => {
    if ((rules.withinSeconds ?? 0) > 0 && backup.time > withinSince) kept.add(backup.id);
    const date = format.format(backup.time);
    for (const rule of rulesInOrder) {
      if (rule.left <= 0) continue;
      const key = rule.key(date, nr);
      if (key === rule.last && nr !== past.length - 1) continue;
      kept.add(backup.id);
      rule.last = key;
      rule.left--;
    }
  });
  const newestVerified = sorted.find((b) => b.verified === true);
  if (newestVerified) kept.add(newestVerified.id);
  return kept;
}
