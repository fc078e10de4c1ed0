/**
 * Retention rules and the one decision over a series of backups: for every backup, keep or delete, with the reasons.
 *
 * The rules follow restic's `forget` (https://restic.readthedocs.io, "Removing backup snapshots"): the backups are
 * walked newest first; `last` keeps the newest n; each calendar rule (`daily`, `weekly`, `monthly`, `yearly`) keeps the
 * newest backup of each of its newest n calendar buckets (days, ISO weeks, months, years in the policy's time zone);
 * when a calendar rule still has count left at the oldest backup, the oldest is kept too ("oldest daily"); `within`
 * keeps every backup newer than the newest backup minus that duration; the rules are ORed. Backups dated after `now`
 * are kept and take no part in the rules (restic: "ignored … and hence not removed").
 *
 * On top of the rules, what is never deleted: the newest verified backup, anything under Object Lock retention or a
 * legal hold, anything a running recovery test or failover picked; then, when fewer than `minimumKeep` would remain,
 * the newest of the rest. The tiers each run recorded are carried beside the decision, never used in it.
 *
 * Pure and dependency-free: the constructs import it to check a policy at synth, the cleanup handler to decide.
 */

/** The calendar rules, in restic's order. */
export const CALENDAR_RULES = ['daily', 'weekly', 'monthly', 'yearly'] as const;

/** One calendar rule. */
export type CalendarRule = (typeof CALENDAR_RULES)[number];

/** A retention policy as the handler receives it (JSON). Counts are whole numbers; 0 or absent means "not used". */
export interface RetentionRules {
  /** Keep the newest n backups. */
  readonly last?: number;
  /** Keep the newest backup of each of the newest n days. */
  readonly daily?: number;
  /** … of each of the newest n ISO weeks (Monday to Sunday). */
  readonly weekly?: number;
  /** … of each of the newest n months. */
  readonly monthly?: number;
  /** … of each of the newest n years. */
  readonly yearly?: number;
  /** Keep every backup newer than the newest backup minus this many seconds. */
  readonly withinSeconds?: number;
  /** Never leave fewer than this many backups (the newest of those the rules would delete are kept). */
  readonly minimumKeep?: number;
  /** IANA time zone of the calendar buckets, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
}

/** The largest count a rule accepts (about 27 years of daily backups; more is a typo). */
export const MAX_RULE_COUNT = 10_000;

/** Whether `timeZone` is an IANA time zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Every problem of `rules`, each saying what to change; empty when the rules can be applied. A policy whose rules
 * keep nothing (restic refuses an empty policy) is a problem: it would delete every backup but the protected ones.
 */
export function retentionRulesProblems(rules: RetentionRules): string[] {
  const problems: string[] = [];
  for (const field of ['last', ...CALENDAR_RULES, 'minimumKeep'] as const) {
    const value = rules[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > MAX_RULE_COUNT)) {
      problems.push(`${field === 'last' ? 'keepLast' : field} must be a whole number from 0 to ${MAX_RULE_COUNT}; got ${value}`);
    }
  }
  if (rules.withinSeconds !== undefined && (!Number.isFinite(rules.withinSeconds) || rules.withinSeconds < 0)) {
    problems.push(`keepWithin must be a non-negative duration; got ${rules.withinSeconds} seconds`);
  }
  if (!isTimeZone(rules.timeZone)) problems.push(`timeZone must be an IANA time zone such as "Europe/Berlin"; got ${JSON.stringify(rules.timeZone)}`);
  if (keepsNothing(rules)) {
    problems.push(
      'the policy keeps nothing: set at least one of keepLast, daily, weekly, monthly, yearly or keepWithin above 0 ' +
        '(minimumKeep alone is a floor, not a policy)',
    );
  }
  return problems;
}

/** Whether no rule of `rules` keeps anything (minimumKeep does not count: it is a floor). */
export function keepsNothing(rules: RetentionRules): boolean {
  return (
    !((rules.last ?? 0) > 0) &&
    CALENDAR_RULES.every((rule) => !((rules[rule] ?? 0) > 0)) &&
    !((rules.withinSeconds ?? 0) > 0)
  );
}

/** One backup of a series (one database's dumps, or one instance's snapshots in one region). */
export interface RetainedBackup {
  /** Unique in the series: the manifest key, the snapshot identifier. */
  readonly id: string;
  /** When it was taken, epoch milliseconds. */
  readonly time: number;
  /** It passed verification (a dump whose manifest is valid and whose object matches it; an available snapshot). */
  readonly verified?: boolean;
  /** Object Lock retain-until date, epoch milliseconds: never deleted before then. */
  readonly lockedUntil?: number;
  /** Object Lock legal hold on: never deleted. */
  readonly legalHold?: boolean;
  /** What picked it and is still running (a recovery test, a failover): never deleted. */
  readonly inUseBy?: string;
  /** The tiers its run recorded; shown beside the decision, not used in it. */
  readonly tiers?: readonly string[];
}

/** The decision about one backup. */
export interface RetentionDecision {
  readonly id: string;
  readonly time: number;
  readonly keep: boolean;
  /** Why it is kept (`daily 3 of 7`, `newest verified`, `locked until …`, `minimumKeep 3`); empty when deleted. */
  readonly reasons: readonly string[];
  /** The tiers its run recorded, when known. */
  readonly tiers?: readonly string[];
}

/** Calendar parts of an instant in a time zone. */
interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/**
 * A function from an instant to its local calendar date in `timeZone`. Results are cached per 15-minute slot of UTC
 * (every time zone offset in use since 1970 is a multiple of 15 minutes, so a local date never changes inside one);
 * the cache lives as long as the returned function, never longer than one decision.
 */
function localDates(timeZone: string): (time: number) => LocalDate {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
    return (time) => {
      const d = new Date(time);
      return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
    };
  }
  const format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', era: 'short' });
  const cache = new Map<number, LocalDate>();
  return (time) => {
    const slot = Math.floor(time / 900_000);
    const hit = cache.get(slot);
    if (hit) return hit;
    let year = 0;
    let month = 0;
    let day = 0;
    let bc = false;
    for (const part of format.formatToParts(time)) {
      if (part.type === 'year') year = Number(part.value);
      else if (part.type === 'month') month = Number(part.value);
      else if (part.type === 'day') day = Number(part.value);
      else if (part.type === 'era') bc = part.value === 'BC';
    }
    const local = { year: bc ? 1 - year : year, month, day };
    cache.set(slot, local);
    return local;
  };
}

/** ISO-8601 week-numbering year and week of a calendar date, as `year * 100 + week` (Go's `ISOWeek`, restic's `yw`). */
export function isoWeekKey(year: number, month: number, day: number): number {
  const date = new Date(Date.UTC(2000, month - 1, day));
  date.setUTCFullYear(year); // years below 100 too
  const weekday = (date.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  date.setUTCDate(date.getUTCDate() + 3 - weekday); // the Thursday of the same week names the year and the week
  const isoYear = date.getUTCFullYear();
  const januaryFirst = new Date(Date.UTC(2000, 0, 1));
  januaryFirst.setUTCFullYear(isoYear);
  const dayOfYear = Math.round((date.getTime() - januaryFirst.getTime()) / 86_400_000);
  return isoYear * 100 + Math.floor(dayOfYear / 7) + 1;
}

/** The bucket key of a calendar rule for a local date (restic's `ymd`, `yw`, `ym`, `y`). */
function bucketKey(rule: CalendarRule, local: LocalDate): number {
  switch (rule) {
    case 'daily':
      return local.year * 10_000 + local.month * 100 + local.day;
    case 'weekly':
      return isoWeekKey(local.year, local.month, local.day);
    case 'monthly':
      return local.year * 100 + local.month;
    case 'yearly':
      return local.year;
  }
}

/** A whole number of days, hours or seconds, for reasons. */
export function describeSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  return `${seconds}s`;
}

/** Newest first; equal times by id descending, so the order is total and the decision deterministic. */
function newestFirst(a: RetainedBackup, b: RetainedBackup): number {
  if (a.time !== b.time) return b.time - a.time;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Decides, for every backup of one series, keep or delete with the reasons. The result is newest first.
 *
 * Applying the decision and deciding again over what is left (with the same `now`) deletes nothing more.
 *
 * @param now epoch milliseconds: what counts as "in the future" and whether an Object Lock has expired
 * @throws Error when the rules have a problem ({@link retentionRulesProblems}) or two backups share an id
 */
export function decideRetention(backups: readonly RetainedBackup[], rules: RetentionRules, now: number): RetentionDecision[] {
  const problems = retentionRulesProblems(rules);
  if (problems.length > 0) throw new Error(`invalid retention policy: ${problems.join('; ')}`);
  const sorted = [...backups].sort(newestFirst);
  const reasons: string[][] = sorted.map(() => []);
  const ids = new Set<string>();
  for (const backup of sorted) {
    if (ids.has(backup.id)) throw new Error(`backup id ${JSON.stringify(backup.id)} appears twice in one series`);
    ids.add(backup.id);
  }

  // Backups dated after now take no part in the rules and are kept (a clock skew must not delete anything).
  const past: number[] = [];
  sorted.forEach((backup, i) => {
    if (backup.time > now) reasons[i].push('dated in the future');
    else past.push(i);
  });
  applyRules(sorted, past, rules, reasons);
  protect(sorted, now, reasons);

  const minimum = rules.minimumKeep ?? 0;
  let kept = reasons.filter((r) => r.length > 0).length;
  for (let i = 0; i < sorted.length && kept < minimum; i++) {
    if (reasons[i].length === 0) {
      reasons[i].push(`minimumKeep ${minimum}`);
      kept++;
    }
  }

  return sorted.map((backup, i) => ({
    id: backup.id,
    time: backup.time,
    keep: reasons[i].length > 0,
    reasons: reasons[i],
    ...(backup.tiers !== undefined ? { tiers: backup.tiers } : {}),
  }));
}

/** restic's walk over the backups not in the future (`order` indexes `sorted`, newest first). */
function applyRules(sorted: readonly RetainedBackup[], order: readonly number[], rules: RetentionRules, reasons: string[][]): void {
  if (order.length === 0) return;
  const dateOf = localDates(rules.timeZone);
  const latest = sorted[order[0]].time;
  const within = rules.withinSeconds ?? 0;
  const withinSince = latest - within * 1000;
  const counters = [
    { name: 'last', total: rules.last ?? 0, left: rules.last ?? 0, last: Number.NaN, key: (_t: number, nr: number) => nr },
    ...CALENDAR_RULES.map((rule) => ({
      name: rule,
      total: rules[rule] ?? 0,
      left: rules[rule] ?? 0,
      last: Number.NaN,
      key: (time: number) => bucketKey(rule, dateOf(time)),
    })),
  ];
  order.forEach((index, nr) => {
    const time = sorted[index].time;
    const out = reasons[index];
    if (within > 0 && time > withinSince) out.push(`within ${describeSeconds(within)} of the newest`);
    const oldest = nr === order.length - 1;
    for (const counter of counters) {
      if (counter.left <= 0) continue;
      const key = counter.key(time, nr);
      if (key === counter.last && !oldest) continue;
      const position = counter.total - counter.left + 1;
      out.push(key === counter.last ? `oldest ${counter.name}` : `${counter.name} ${position} of ${counter.total}`);
      counter.last = key;
      counter.left--;
    }
  });
}

/** The backups never deleted whatever the rules say. */
function protect(sorted: readonly RetainedBackup[], now: number, reasons: string[][]): void {
  const newestVerified = sorted.findIndex((backup) => backup.verified === true);
  if (newestVerified >= 0) reasons[newestVerified].push('newest verified');
  sorted.forEach((backup, i) => {
    if (backup.legalHold) reasons[i].push('legal hold');
    if (backup.lockedUntil !== undefined && backup.lockedUntil > now) reasons[i].push(`locked until ${new Date(backup.lockedUntil).toISOString()}`);
    if (backup.inUseBy !== undefined) reasons[i].push(`in use by ${backup.inUseBy}`);
  });
}
