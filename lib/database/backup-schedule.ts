import { TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { IConstruct } from 'constructs';
import { ConfigurationError } from '../common/errors';

/** A retention tier a backup run satisfies; recorded in the manifest and the report. */
export type BackupTier = 'daily' | 'weekly' | 'monthly' | 'yearly';

/** The tiers in increasing order of rarity. */
export const BACKUP_TIERS: readonly BackupTier[] = ['daily', 'weekly', 'monthly', 'yearly'];

/** Day of the week for a weekly schedule. */
export type WeekDay = 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN';

/** The days of the week in EventBridge Scheduler's order (1 = SUN). */
const WEEK_DAYS: readonly WeekDay[] = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Time of day, in the schedule's time zone. */
export interface TimeOfDay {
  /**
   * Hour, 0–23.
   * @default 3
   */
  readonly hour?: number;
  /**
   * Minute, 0–59.
   * @default 0
   */
  readonly minute?: number;
  /**
   * The time zone the hour and minute are read in.
   * @default TimeZone.ETC_UTC
   */
  readonly timeZone?: TimeZone;
}

/** Id of the warning that two schedules, one of them a custom cron, start at the same minute and hour. */
export const SCHEDULE_WARNINGS = { mayCoincide: 'cdk-backup-dr:schedules-may-coincide' } as const;

/** The schedules a list of {@link BackupSchedule}s is deployed as; see {@link BackupSchedule.foldCoinciding}. */
export interface FoldedSchedules {
  /** The schedules to create, in the order given, ids kept. */
  readonly schedules: BackupSchedule[];
  /** One message per pair of schedules, one of them a custom cron, that start at the same minute and hour. */
  readonly warnings: string[];
}

/**
 * When a backup runs and which tiers that run satisfies.
 *
 * Each schedule becomes an EventBridge Scheduler schedule that starts the backup workflow with `{ "tiers": [...] }`.
 *
 * @example
 * const schedules = [
 *   BackupSchedule.daily({ hour: 2, timeZone: TimeZone.EUROPE_BERLIN }),
 *   BackupSchedule.monthly({ day: 1, hour: 4 }),
 * ];
 */
export class BackupSchedule {
  /** Every day at the given time. */
  public static daily(time: TimeOfDay = {}): BackupSchedule {
    return BackupSchedule.builtIn('daily', { ...checkedTime(time), months: ALL.months }, time.timeZone, ['daily']);
  }

  /** Once a week on the given day; the run satisfies the daily and the weekly tier. */
  public static weekly(options: TimeOfDay & { readonly weekDay?: WeekDay } = {}): BackupSchedule {
    const weekDay = options.weekDay ?? 'SUN';
    if (!WEEK_DAYS.includes(weekDay)) {
      throw new ConfigurationError(`BackupSchedule.weekly: weekDay must be one of ${WEEK_DAYS.join(', ')}, got '${weekDay}'.`);
    }
    const calendar = { ...checkedTime(options), months: ALL.months, weekDays: [WEEK_DAYS.indexOf(weekDay) + 1] };
    return BackupSchedule.builtIn(`weekly-${weekDay.toLowerCase()}`, calendar, options.timeZone, ['daily', 'weekly']);
  }

  /** Once a month on the given day (1–28, so that every month has it); satisfies daily, weekly and monthly. */
  public static monthly(options: TimeOfDay & { readonly day?: number } = {}): BackupSchedule {
    const day = checkedDayOfMonth(options.day ?? 1);
    const calendar = { ...checkedTime(options), months: ALL.months, daysOfMonth: [day] };
    return BackupSchedule.builtIn(`monthly-${day}`, calendar, options.timeZone, ['daily', 'weekly', 'monthly']);
  }

  /** Once a year on the given month (1–12) and day (1–28); satisfies every tier. */
  public static yearly(options: TimeOfDay & { readonly month?: number; readonly day?: number } = {}): BackupSchedule {
    const month = options.month ?? 1;
    if (!Number.isInteger(month) || month < 1 || month > 12) {
      throw new ConfigurationError(`BackupSchedule.yearly: month must be an integer from 1 to 12, got ${month}.`);
    }
    const day = checkedDayOfMonth(options.day ?? 1);
    const calendar = { ...checkedTime(options), months: [month], daysOfMonth: [day] };
    return BackupSchedule.builtIn(`yearly-${month}-${day}`, calendar, options.timeZone, [...BACKUP_TIERS]);
  }

  /**
   * Any EventBridge Scheduler cron expression (six fields, e.g. `cron(0 3 ? * MON-FRI *)`) with the tiers its runs satisfy.
   */
  public static cron(options: { readonly expression: string; readonly tiers: BackupTier[]; readonly timeZone?: TimeZone; readonly id?: string }): BackupSchedule {
    validateCronExpression(options.expression);
    if (options.tiers.length === 0) {
      throw new ConfigurationError('BackupSchedule.cron: tiers must name at least one of daily, weekly, monthly, yearly.');
    }
    const unknown = options.tiers.filter((t) => !BACKUP_TIERS.includes(t));
    if (unknown.length > 0) {
      throw new ConfigurationError(`BackupSchedule.cron: unknown tier(s) ${unknown.join(', ')}; use daily, weekly, monthly or yearly.`);
    }
    return new BackupSchedule(options.id ?? 'custom', options.expression, options.timeZone, [...new Set(options.tiers)]);
  }

  /**
   * The schedules to deploy so that no two runs start at the same time: two runs at once take two dumps and two RDS
   * snapshots, and the second snapshot fails while the first is being made. Where a built-in schedule would start
   * together with a rarer one (`daily()` and `monthly()` both at 03:00 on the 1st), the rarer run, which satisfies the
   * other's tiers too, runs alone on those days: `daily()` becomes `cron(0 3 2-31 * ? *)`. Schedules with the same
   * expression and time zone become one with the union of their tiers. Custom cron expressions are not read: one with
   * the same minute and hour as another schedule gives a warning.
   *
   * @param scope the construct the schedules belong to; its path leads an error's message
   * @throws ConfigurationError when no cron expression can leave the shared days out (a weekly and a monthly schedule
   * at the same time: the 1st can be the weekly day), naming both schedules and what to change
   */
  public static foldCoinciding(schedules: readonly BackupSchedule[], scope?: IConstruct): FoldedSchedules {
    const merged: BackupSchedule[] = [];
    for (const s of schedules) {
      const i = merged.findIndex((m) => m.cronExpression === s.cronExpression && m.timeZone.timezoneName === s.timeZone.timezoneName);
      if (i < 0) {
        merged.push(s);
      } else {
        const m = merged[i];
        const tiers = BACKUP_TIERS.filter((t) => m.tiers.includes(t) || s.tiers.includes(t));
        merged[i] = new BackupSchedule(m.id, m.cronExpression, m.zone, tiers, m.calendar && s.calendar ? m.calendar : undefined);
      }
    }
    const warnings = merged.flatMap((a, i) =>
      merged
        .slice(i + 1)
        .filter((b) => !(a.calendar && b.calendar) && startsAtSameTime(a, b))
        .map((b) => {
          const [minute, hour] = cronFields(a.cronExpression);
          return `${a.factoryCall()} and ${b.factoryCall()} both start at minute '${minute}' of hour '${hour}' (${a.timeZone.timezoneName}): on a day both run, two dumps and two RDS snapshots start at once and the second snapshot fails. Give one of them another minute or hour, or make sure their days never meet and acknowledge this warning.`;
        }),
    );

    const folded: BackupSchedule[] = [];
    for (const lower of merged) {
      const own = lower.calendar;
      if (!own) {
        folded.push(lower);
        continue;
      }
      // Least rare first: once a monthly run has taken day 1 from daily(), a yearly run on January 1 no longer meets it.
      const rarer = merged
        .filter((h) => h.calendar && h.rank > lower.rank && startsAtSameTime(lower, h))
        .sort((a, b) => a.rank - b.rank);
      let days: Calendar = own;
      const foldedInto: BackupSchedule[] = [];
      for (const h of rarer) {
        const theirs = h.calendar!;
        if (runsNever(days) || !overlaps(days, theirs)) continue;
        const rest = leaveOut(days, theirs);
        if (!rest) {
          throw new ConfigurationError(BackupSchedule.collisionMessage(lower, h, foldedInto), scope);
        }
        days = rest;
        foldedInto.push(h);
      }
      if (runsNever(days)) continue;
      folded.push(days === own ? lower : new BackupSchedule(lower.id, cronOf(days), lower.zone, lower.tiers, days));
    }
    return { schedules: folded, warnings };
  }

  private static builtIn(id: string, calendar: Calendar, zone: TimeZone | undefined, tiers: BackupTier[]): BackupSchedule {
    return new BackupSchedule(id, cronOf(calendar), zone, tiers, calendar);
  }

  private constructor(
    /** A short name used in the schedule's construct id. */
    public readonly id: string,
    /** The `cron(...)` expression. */
    public readonly cronExpression: string,
    private readonly zone: TimeZone | undefined,
    /** The tiers a run started by this schedule satisfies. */
    public readonly tiers: BackupTier[],
    /** The days a built-in schedule runs on; none for a custom cron expression. */
    private readonly calendar?: Calendar,
  ) {}

  /** The time zone the expression is read in. */
  public get timeZone(): TimeZone {
    return this.zone ?? TimeZone.ETC_UTC;
  }

  /** The EventBridge Scheduler expression. */
  public toScheduleExpression(): scheduler.ScheduleExpression {
    return scheduler.ScheduleExpression.expression(this.cronExpression, this.timeZone);
  }

  /** The rarest tier this schedule's runs satisfy, as an index into BACKUP_TIERS. */
  private get rank(): number {
    return Math.max(...this.tiers.map((t) => BACKUP_TIERS.indexOf(t)));
  }

  /** How the schedule is written, e.g. `BackupSchedule.monthly({ day: 1 })`, with `extra` options added. */
  private factoryCall(extra: string[] = []): string {
    const c = this.calendar;
    if (!c) return `BackupSchedule.cron({ expression: '${this.cronExpression}' })`;
    const options = [
      ...(c.weekDays ? [`weekDay: '${WEEK_DAYS[c.weekDays[0] - 1]}'`] : []),
      ...(c.months.length < 12 ? [`month: ${c.months[0]}`] : []),
      ...(c.daysOfMonth ? [`day: ${c.daysOfMonth[0]}`] : []),
      ...extra,
    ];
    return `BackupSchedule.${BACKUP_TIERS[this.rank]}(${options.length > 0 ? `{ ${options.join(', ')} }` : ''})`;
  }

  /** Why `lower` cannot leave out the days `rarer` runs on, and what to change. */
  private static collisionMessage(lower: BackupSchedule, rarer: BackupSchedule, foldedInto: BackupSchedule[]): string {
    const ours = lower.calendar!;
    const theirs = rarer.calendar!;
    const at = `${pad(ours.hour)}:${pad(ours.minute)} ${lower.timeZone.timezoneName}`;
    const moved = rarer.factoryCall([`hour: ${(theirs.hour + 1) % 24}`, ...(theirs.minute === 0 ? [] : [`minute: ${theirs.minute}`])]);
    const change = `Give ${rarer.factoryCall()} another hour or minute, e.g. ${moved}.`;
    const byWeekDay = (c: Calendar) => c.weekDays !== undefined;
    const otherField = foldedInto.filter((f) => byWeekDay(f.calendar!) !== byWeekDay(theirs));
    if (otherField.length > 0) {
      const others = otherField.map((f) => `${f.factoryCall()} (on ${daysText(f.calendar!)})`).join(', ');
      return `${lower.factoryCall()} starts at ${at} together with ${others} and with ${rarer.factoryCall()} (on ${daysText(theirs)}): one cron expression cannot leave both days of the week and days of the month out of ${lower.factoryCall()}. ${change}`;
    }
    const when = ours.weekDays && theirs.daysOfMonth ? `whenever ${daysText(theirs)} is a ${WEEK_DAY_NAMES[ours.weekDays[0] - 1]}` : `on ${daysText(theirs)}`;
    return `${lower.factoryCall()} and ${rarer.factoryCall()} both start at ${at}, so ${when} two backup runs would start at once (two dumps, and a second RDS snapshot that fails); one cron expression cannot leave those days out of ${lower.factoryCall()}. ${change}`;
  }
}

function checkedTime(time: TimeOfDay): { hour: number; minute: number } {
  const hour = time.hour ?? 3;
  const minute = time.minute ?? 0;
  if (!Number.isInteger(hour) || hour < 0 || hour > 23) {
    throw new ConfigurationError(`BackupSchedule: hour must be an integer from 0 to 23, got ${hour}.`);
  }
  if (!Number.isInteger(minute) || minute < 0 || minute > 59) {
    throw new ConfigurationError(`BackupSchedule: minute must be an integer from 0 to 59, got ${minute}.`);
  }
  return { hour, minute };
}

function checkedDayOfMonth(day: number): number {
  if (!Number.isInteger(day) || day < 1 || day > 28) {
    throw new ConfigurationError(`BackupSchedule: day of month must be an integer from 1 to 28 (so every month has it), got ${day}.`);
  }
  return day;
}

function cron(f: { minute: number; hour: number; day: string; month: string; weekDay: string }): string {
  return `cron(${f.minute} ${f.hour} ${f.day} ${f.month} ${f.weekDay} *)`;
}

const CRON_FIELD = /^[0-9A-Za-z*?,\-/#L]+$/;

/**
 * Checks the shape of an EventBridge Scheduler cron expression: `cron(minutes hours day-of-month month day-of-week year)`,
 * where exactly one of day-of-month and day-of-week is `?`.
 */
export function validateCronExpression(expression: string): void {
  const match = /^cron\((.*)\)$/.exec(expression.trim());
  const help = 'Write it as cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 3 * * ? *).';
  if (!match) {
    throw new ConfigurationError(`Invalid cron expression '${expression}': it must be wrapped in cron(...). ${help}`);
  }
  const fields = match[1].trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ConfigurationError(`Invalid cron expression '${expression}': it has ${fields.length} fields, EventBridge Scheduler needs 6. ${help}`);
  }
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  if (bad !== undefined) {
    throw new ConfigurationError(`Invalid cron expression '${expression}': field '${bad}' has characters cron does not allow. ${help}`);
  }
  const [minutes, hours, dayOfMonth, , dayOfWeek] = fields;
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    throw new ConfigurationError(`Invalid cron expression '${expression}': exactly one of day-of-month and day-of-week must be '?'. ${help}`);
  }
  checkRange(expression, 'minutes', minutes, 59);
  checkRange(expression, 'hours', hours, 23);
}

function checkRange(expression: string, name: string, field: string, max: number): void {
  for (const n of field.split(/[,\-/]/)) {
    if (/^\d+$/.test(n) && Number(n) > max) {
      throw new ConfigurationError(`Invalid cron expression '${expression}': ${name} value ${n} is above ${max}.`);
    }
  }
}

/** The days a built-in schedule runs on, as one cron expression states them; no days of the month or week: every day. */
interface Calendar {
  readonly minute: number;
  readonly hour: number;
  /** 1–12. */
  readonly months: readonly number[];
  /** 1–31; set only when weekDays is not. */
  readonly daysOfMonth?: readonly number[];
  /** 1 (Sunday) to 7 (Saturday), as EventBridge Scheduler numbers them; set only when daysOfMonth is not. */
  readonly weekDays?: readonly number[];
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ALL = { months: range(1, 12), daysOfMonth: range(1, 31), weekDays: range(1, 7) } as const;
const WEEK_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function cronOf(c: Calendar): string {
  const day = c.weekDays ? '?' : cronList(c.daysOfMonth ?? ALL.daysOfMonth, ALL.daysOfMonth.length);
  const weekDay = c.weekDays ? cronList(c.weekDays, ALL.weekDays.length, (d) => WEEK_DAYS[d - 1]) : '?';
  return cron({ minute: c.minute, hour: c.hour, day, month: cronList(c.months, ALL.months.length), weekDay });
}

/** A cron field listing sorted values, with runs as ranges: `1-14,16-31`; `*` when it lists them all. */
function cronList(values: readonly number[], count: number, name: (value: number) => string = String): string {
  if (values.length === count) return '*';
  const parts: string[] = [];
  for (let i = 0; i < values.length; i++) {
    const first = i;
    while (i + 1 < values.length && values[i + 1] === values[i] + 1) i++;
    parts.push(i > first ? `${name(values[first])}-${name(values[i])}` : name(values[i]));
  }
  return parts.join(',');
}

function overlaps(a: Calendar, b: Calendar): boolean {
  const meet = (x: readonly number[], y: readonly number[]) => x.some((v) => y.includes(v));
  if (!meet(a.months, b.months)) return false;
  if (a.daysOfMonth && b.daysOfMonth) return meet(a.daysOfMonth, b.daysOfMonth);
  if (a.weekDays && b.weekDays) return meet(a.weekDays, b.weekDays);
  return true; // every day of a month falls on every day of the week in some year
}

/**
 * `ours` without the days `theirs` runs on, when one cron expression can state that: the same field (day of the month
 * or of the week) left out in all our months, or our months left out for all our days. Undefined when it cannot.
 */
function leaveOut(ours: Calendar, theirs: Calendar): Calendar | undefined {
  const field = theirs.weekDays ? 'weekDays' : 'daysOfMonth';
  if (ours[field === 'weekDays' ? 'daysOfMonth' : 'weekDays']) return undefined;
  const ourDays = ours[field] ?? ALL[field];
  const theirDays = theirs[field] ?? ALL[field];
  if (ours.months.every((m) => theirs.months.includes(m))) return { ...ours, [field]: ourDays.filter((d) => !theirDays.includes(d)) };
  if (ourDays.every((d) => theirDays.includes(d))) return { ...ours, months: ours.months.filter((m) => !theirs.months.includes(m)) };
  return undefined;
}

function runsNever(c: Calendar): boolean {
  return c.months.length === 0 || c.daysOfMonth?.length === 0 || c.weekDays?.length === 0;
}

function daysText(c: Calendar): string {
  if (c.weekDays) return c.weekDays.map((d) => `${WEEK_DAY_NAMES[d - 1]}s`).join(', ');
  const days = (c.daysOfMonth ?? ALL.daysOfMonth).join(', ');
  return c.months.length === ALL.months.length ? `day ${days} of a month` : `${c.months.map((m) => MONTH_NAMES[m - 1]).join(', ')} ${days}`;
}

/** Same time zone and literally the same minute and hour fields. */
function startsAtSameTime(a: BackupSchedule, b: BackupSchedule): boolean {
  const [aMinute, aHour] = cronFields(a.cronExpression);
  const [bMinute, bHour] = cronFields(b.cronExpression);
  return a.timeZone.timezoneName === b.timeZone.timezoneName && aMinute === bMinute && aHour === bHour;
}

function cronFields(expression: string): string[] {
  return (/^cron\((.*)\)$/.exec(expression.trim())?.[1] ?? '').trim().split(/\s+/);
}

const pad = (n: number) => String(n).padStart(2, '0');
