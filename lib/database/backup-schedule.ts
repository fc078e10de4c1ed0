import { TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { ConfigurationError } from '../common/errors';

/** A retention tier a backup run satisfies; recorded in the manifest and the report. */
export type BackupTier = 'daily' | 'weekly' | 'monthly' | 'yearly';

/** The tiers in increasing order of rarity. */
export const BACKUP_TIERS: readonly BackupTier[] = ['daily', 'weekly', 'monthly', 'yearly'];

/** Day of the week for a weekly schedule. */
export type WeekDay = 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN';

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
    const { hour, minute } = checkedTime(time);
    return new BackupSchedule('daily', cron({ minute, hour, day: '*', month: '*', weekDay: '?' }), time.timeZone, ['daily']);
  }

  /** Once a week on the given day; the run satisfies the daily and the weekly tier. */
  public static weekly(options: TimeOfDay & { readonly weekDay?: WeekDay } = {}): BackupSchedule {
    const { hour, minute } = checkedTime(options);
    const weekDay = options.weekDay ?? 'SUN';
    return new BackupSchedule(`weekly-${weekDay.toLowerCase()}`, cron({ minute, hour, day: '?', month: '*', weekDay }), options.timeZone, [
      'daily',
      'weekly',
    ]);
  }

  /** Once a month on the given day (1–28, so that every month has it); satisfies daily, weekly and monthly. */
  public static monthly(options: TimeOfDay & { readonly day?: number } = {}): BackupSchedule {
    const { hour, minute } = checkedTime(options);
    const day = checkedDayOfMonth(options.day ?? 1);
    return new BackupSchedule(`monthly-${day}`, cron({ minute, hour, day: `${day}`, month: '*', weekDay: '?' }), options.timeZone, [
      'daily',
      'weekly',
      'monthly',
    ]);
  }

  /** Once a year on the given month (1–12) and day (1–28); satisfies every tier. */
  public static yearly(options: TimeOfDay & { readonly month?: number; readonly day?: number } = {}): BackupSchedule {
    const { hour, minute } = checkedTime(options);
    const month = options.month ?? 1;
    if (!Number.isInteger(month) || month < 1 || month > 12) {
      throw new ConfigurationError(`BackupSchedule.yearly: month must be an integer from 1 to 12, got ${month}.`);
    }
    const day = checkedDayOfMonth(options.day ?? 1);
    return new BackupSchedule(`yearly-${month}-${day}`, cron({ minute, hour, day: `${day}`, month: `${month}`, weekDay: '?' }), options.timeZone, [
      ...BACKUP_TIERS,
    ]);
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

  private constructor(
    /** A short name used in the schedule's construct id. */
    public readonly id: string,
    /** The `cron(...)` expression. */
    public readonly cronExpression: string,
    private readonly zone: TimeZone | undefined,
    /** The tiers a run started by this schedule satisfies. */
    public readonly tiers: BackupTier[],
  ) {}

  /** The time zone the expression is read in. */
  public get timeZone(): TimeZone {
    return this.zone ?? TimeZone.ETC_UTC;
  }

  /** The EventBridge Scheduler expression. */
  public toScheduleExpression(): scheduler.ScheduleExpression {
    return scheduler.ScheduleExpression.expression(this.cronExpression, this.timeZone);
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
