import { TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { ConfigurationError } from '../common/errors';

/** Day of the week of a weekly recovery test. */
export type RecoveryTestWeekDay = 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN';

/** Options of {@link RecoveryTestSchedule.weekly}. */
export interface WeeklyRecoveryTestOptions {
  /** @default 'SUN' */
  readonly weekDay?: RecoveryTestWeekDay;
  /**
   * Hour, 0–23, in `timeZone`.
   * @default 5
   */
  readonly hour?: number;
  /**
   * Minute, 0–59.
   * @default 0
   */
  readonly minute?: number;
  /** @default TimeZone.ETC_UTC */
  readonly timeZone?: TimeZone;
}

/**
 * When a {@link RecoveryTest} runs by itself: an EventBridge Scheduler schedule that starts the state machine with
 * `{ "selection": { "latest": true } }`. Pick a time after the nightly backup has finished, so the test restores it.
 *
 * @example
 * RecoveryTestSchedule.weekly({ weekDay: 'SAT', hour: 6, timeZone: TimeZone.EUROPE_BERLIN });
 * RecoveryTestSchedule.cron({ expression: 'cron(0 6 1 * ? *)' }); // monthly
 * RecoveryTestSchedule.disabled(); // only by hand
 */
export class RecoveryTestSchedule {
  /** Once a week (default Sunday 05:00 UTC). */
  public static weekly(options: WeeklyRecoveryTestOptions = {}): RecoveryTestSchedule {
    const hour = options.hour ?? 5;
    const minute = options.minute ?? 0;
    if (!Number.isInteger(hour) || hour < 0 || hour > 23) throw new ConfigurationError(`RecoveryTestSchedule.weekly: hour must be a whole number from 0 to 23; got ${hour}.`);
    if (!Number.isInteger(minute) || minute < 0 || minute > 59) {
      throw new ConfigurationError(`RecoveryTestSchedule.weekly: minute must be a whole number from 0 to 59; got ${minute}.`);
    }
    return new RecoveryTestSchedule(`cron(${minute} ${hour} ? * ${options.weekDay ?? 'SUN'} *)`, options.timeZone);
  }

  /** Any EventBridge Scheduler cron expression with six fields, e.g. `cron(0 6 1 * ? *)`. */
  public static cron(options: { readonly expression: string; readonly timeZone?: TimeZone }): RecoveryTestSchedule {
    const match = /^cron\((.*)\)$/.exec(options.expression.trim());
    const fields = match ? match[1].trim().split(/\s+/) : [];
    if (fields.length !== 6) {
      throw new ConfigurationError(
        `RecoveryTestSchedule.cron: expression must be cron(minutes hours day-of-month month day-of-week year), six fields; got ${JSON.stringify(options.expression)}.`,
      );
    }
    if (fields[2] !== '?' && fields[4] !== '?') {
      throw new ConfigurationError(`RecoveryTestSchedule.cron: one of day-of-month and day-of-week must be "?"; got ${JSON.stringify(options.expression)}.`);
    }
    return new RecoveryTestSchedule(options.expression.trim(), options.timeZone);
  }

  /** No schedule: the test runs only when started by hand. */
  public static disabled(): RecoveryTestSchedule {
    return new RecoveryTestSchedule(undefined, undefined);
  }

  private constructor(
    /** The `cron(...)` expression, undefined when disabled. */
    public readonly cronExpression: string | undefined,
    private readonly zone: TimeZone | undefined,
  ) {}

  /**
   * About how many days lie between two runs (for synth checks against retention): from the cron fields — a year,
   * a month, a week (divided by the week days listed), else a day; `undefined` when disabled.
   */
  public get approximateIntervalDays(): number | undefined {
    if (this.cronExpression === undefined) return undefined;
    const [, , dayOfMonth, month, dayOfWeek] = /^cron\((.*)\)$/.exec(this.cronExpression)?.[1].trim().split(/\s+/) ?? [];
    const listed = (field: string): number => field.split(',').length;
    if (month !== undefined && month !== '*') return 365 / listed(month);
    if (dayOfMonth !== undefined && dayOfMonth !== '*' && dayOfMonth !== '?' && !dayOfMonth.includes('/')) return 30 / listed(dayOfMonth);
    if (dayOfWeek !== undefined && dayOfWeek !== '*' && dayOfWeek !== '?' && !dayOfWeek.includes('-')) return 7 / listed(dayOfWeek);
    return 1;
  }

  /** Whether a schedule is created. */
  public get enabled(): boolean {
    return this.cronExpression !== undefined;
  }

  /** The time zone the expression is read in. */
  public get timeZone(): TimeZone {
    return this.zone ?? TimeZone.ETC_UTC;
  }

  /** The EventBridge Scheduler expression. @throws for a disabled schedule */
  public toScheduleExpression(): scheduler.ScheduleExpression {
    if (this.cronExpression === undefined) throw new ConfigurationError('RecoveryTestSchedule.disabled() has no schedule expression.');
    return scheduler.ScheduleExpression.expression(this.cronExpression, this.timeZone);
  }
}
