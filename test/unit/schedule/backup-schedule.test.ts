import { TimeZone } from 'aws-cdk-lib';
import { ConfigurationError } from '../../../lib/common/errors';
import { BackupSchedule, validateCronExpression, type WeekDay } from '../../../lib/database/backup-schedule';

describe('BackupSchedule', () => {
  test('daily defaults to 03:00 UTC and satisfies the daily tier', () => {
    const s = BackupSchedule.daily();
    expect(s.cronExpression).toBe('cron(0 3 * * ? *)');
    expect(s.timeZone.timezoneName).toBe('Etc/UTC');
    expect(s.tiers).toEqual(['daily']);
  });

  test('weekly, monthly and yearly runs also satisfy the finer tiers', () => {
    expect(BackupSchedule.weekly({ weekDay: 'SAT', hour: 1, minute: 30 }).cronExpression).toBe('cron(30 1 ? * SAT *)');
    expect(BackupSchedule.weekly().tiers).toEqual(['daily', 'weekly']);
    const monthly = BackupSchedule.monthly({ day: 15, timeZone: TimeZone.EUROPE_BERLIN });
    expect(monthly.cronExpression).toBe('cron(0 3 15 * ? *)');
    expect(monthly.timeZone.timezoneName).toBe('Europe/Berlin');
    expect(monthly.tiers).toEqual(['daily', 'weekly', 'monthly']);
    expect(BackupSchedule.yearly({ month: 12, day: 28 }).cronExpression).toBe('cron(0 3 28 12 ? *)');
    expect(BackupSchedule.yearly().tiers).toEqual(['daily', 'weekly', 'monthly', 'yearly']);
  });

  test.each([
    [() => BackupSchedule.daily({ hour: 24 }), /hour must be an integer from 0 to 23/],
    [() => BackupSchedule.daily({ minute: -1 }), /minute must be an integer from 0 to 59/],
    [() => BackupSchedule.monthly({ day: 31 }), /from 1 to 28/],
    [() => BackupSchedule.yearly({ month: 13 }), /month must be an integer from 1 to 12/],
    [() => BackupSchedule.weekly({ weekDay: 'sun' as WeekDay }), /weekDay must be one of SUN, MON, TUE, WED, THU, FRI, SAT, got 'sun'/],
    [() => BackupSchedule.cron({ expression: 'cron(0 3 * * ? *)', tiers: [] }), /at least one of daily/],
  ])('rejects bad options with a message saying what to change (%#)', (make, message) => {
    expect(make).toThrow(message);
  });

  test('custom cron keeps the expression and de-duplicates tiers', () => {
    const s = BackupSchedule.cron({ expression: 'cron(15 2 ? * MON-FRI *)', tiers: ['daily', 'daily'] });
    expect(s.cronExpression).toBe('cron(15 2 ? * MON-FRI *)');
    expect(s.tiers).toEqual(['daily']);
  });
});

describe('validateCronExpression', () => {
  test.each([
    ['0 3 * * ? *', /wrapped in cron/],
    ['cron(0 3 * * ?)', /has 5 fields, EventBridge Scheduler needs 6/],
    ['cron(0 3 * * * *)', /exactly one of day-of-month and day-of-week/],
    ['cron(0 3 ? * ? *)', /exactly one of day-of-month and day-of-week/],
    ['cron(61 3 * * ? *)', /minutes value 61 is above 59/],
    ['cron(0 25 * * ? *)', /hours value 25 is above 23/],
    ['cron(0 3 * * ? $)', /characters cron does not allow/],
  ])('%s is refused', (expression, message) => {
    expect(() => validateCronExpression(expression)).toThrow(message);
  });

  test('accepts valid expressions', () => {
    expect(() => validateCronExpression('cron(0/15 1-5 ? * MON#1 2027)')).not.toThrow();
    expect(() => validateCronExpression('cron(0 3 L * ? *)')).not.toThrow();
  });
});

describe('BackupSchedule.foldCoinciding', () => {
  const runs = (schedules: BackupSchedule[]) =>
    BackupSchedule.foldCoinciding(schedules).schedules.map((s) => ({ id: s.id, cron: s.cronExpression, tiers: s.tiers }));
  const all = ['daily', 'weekly', 'monthly', 'yearly'];

  test('daily and monthly at the same time: daily leaves the monthly day out, the monthly run carries daily+weekly+monthly', () => {
    expect(runs([BackupSchedule.daily(), BackupSchedule.monthly()])).toEqual([
      { id: 'daily', cron: 'cron(0 3 2-31 * ? *)', tiers: ['daily'] },
      { id: 'monthly-1', cron: 'cron(0 3 1 * ? *)', tiers: ['daily', 'weekly', 'monthly'] },
    ]);
    expect(runs([BackupSchedule.daily(), BackupSchedule.monthly({ day: 15 }), BackupSchedule.monthly({ day: 28 })])[0].cron).toBe(
      'cron(0 3 1-14,16-27,29-31 * ? *)',
    );
  });

  test('daily and weekly at the same time: daily runs on the other six days of the week', () => {
    expect(runs([BackupSchedule.weekly({ weekDay: 'WED', hour: 1 }), BackupSchedule.daily({ hour: 1 })])).toEqual([
      { id: 'weekly-wed', cron: 'cron(0 1 ? * WED *)', tiers: ['daily', 'weekly'] },
      { id: 'daily', cron: 'cron(0 1 ? * SUN-TUE,THU-SAT *)', tiers: ['daily'] },
    ]);
    expect(runs([BackupSchedule.daily(), BackupSchedule.weekly()])[0].cron).toBe('cron(0 3 ? * MON-SAT *)');
  });

  test('monthly and yearly on the same day: monthly runs in the other eleven months', () => {
    expect(runs([BackupSchedule.monthly({ day: 5 }), BackupSchedule.yearly({ month: 6, day: 5 })])).toEqual([
      { id: 'monthly-5', cron: 'cron(0 3 5 1-5,7-12 ? *)', tiers: ['daily', 'weekly', 'monthly'] },
      { id: 'yearly-6-5', cron: 'cron(0 3 5 6 ? *)', tiers: all },
    ]);
  });

  test('daily, monthly and yearly on the 1st: each leaves out the days of the next rarer one', () => {
    expect(runs([BackupSchedule.daily(), BackupSchedule.monthly(), BackupSchedule.yearly()]).map((r) => r.cron)).toEqual([
      'cron(0 3 2-31 * ? *)',
      'cron(0 3 1 2-12 ? *)',
      'cron(0 3 1 1 ? *)',
    ]);
  });

  test('schedules that never start together are left as they are (the README example, another time zone)', () => {
    const schedules = [
      BackupSchedule.daily({ hour: 2 }),
      BackupSchedule.monthly({ day: 1, hour: 4 }),
      BackupSchedule.monthly({ day: 1, timeZone: TimeZone.EUROPE_BERLIN }),
      BackupSchedule.weekly({ weekDay: 'MON' }),
      BackupSchedule.weekly({ weekDay: 'TUE' }),
    ];
    expect(BackupSchedule.foldCoinciding(schedules)).toEqual({ schedules, warnings: [] });
  });

  test('the same schedule twice becomes one run with the union of the tiers', () => {
    const custom = BackupSchedule.cron({ expression: 'cron(0 3 * * ? *)', tiers: ['weekly'] });
    expect(runs([BackupSchedule.daily(), BackupSchedule.daily(), custom])).toEqual([{ id: 'daily', cron: 'cron(0 3 * * ? *)', tiers: ['daily', 'weekly'] }]);
  });

  test('a schedule whose every day a rarer one takes is dropped', () => {
    const weekDays = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
    const weeklies = weekDays.map((weekDay) => BackupSchedule.weekly({ weekDay }));
    expect(runs([BackupSchedule.daily(), ...weeklies]).map((r) => r.id)).toEqual(weeklies.map((w) => w.id));
  });

  test.each([
    [
      'weekly and monthly',
      [BackupSchedule.weekly(), BackupSchedule.monthly()],
      "BackupSchedule.weekly({ weekDay: 'SUN' }) and BackupSchedule.monthly({ day: 1 }) both start at 03:00 Etc/UTC, so whenever day 1 of a month is a Sunday two backup runs would start at once (two dumps, and a second RDS snapshot that fails); one cron expression cannot leave those days out of BackupSchedule.weekly({ weekDay: 'SUN' }). Give BackupSchedule.monthly({ day: 1 }) another hour or minute, e.g. BackupSchedule.monthly({ day: 1, hour: 4 }).",
    ],
    [
      'weekly and yearly',
      [BackupSchedule.weekly({ weekDay: 'FRI', minute: 30 }), BackupSchedule.yearly({ month: 3, day: 13, minute: 30 })],
      "BackupSchedule.weekly({ weekDay: 'FRI' }) and BackupSchedule.yearly({ month: 3, day: 13 }) both start at 03:30 Etc/UTC, so whenever March 13 is a Friday two backup runs would start at once (two dumps, and a second RDS snapshot that fails); one cron expression cannot leave those days out of BackupSchedule.weekly({ weekDay: 'FRI' }). Give BackupSchedule.yearly({ month: 3, day: 13 }) another hour or minute, e.g. BackupSchedule.yearly({ month: 3, day: 13, hour: 4, minute: 30 }).",
    ],
    [
      'daily and yearly',
      [BackupSchedule.daily({ hour: 23 }), BackupSchedule.yearly({ month: 12, day: 24, hour: 23 })],
      'BackupSchedule.daily() and BackupSchedule.yearly({ month: 12, day: 24 }) both start at 23:00 Etc/UTC, so on December 24 two backup runs would start at once (two dumps, and a second RDS snapshot that fails); one cron expression cannot leave those days out of BackupSchedule.daily(). Give BackupSchedule.yearly({ month: 12, day: 24 }) another hour or minute, e.g. BackupSchedule.yearly({ month: 12, day: 24, hour: 0 }).',
    ],
    [
      'daily with a weekly and a monthly',
      [BackupSchedule.daily(), BackupSchedule.weekly(), BackupSchedule.monthly()],
      "BackupSchedule.daily() starts at 03:00 Etc/UTC together with BackupSchedule.weekly({ weekDay: 'SUN' }) (on Sundays) and with BackupSchedule.monthly({ day: 1 }) (on day 1 of a month): one cron expression cannot leave both days of the week and days of the month out of BackupSchedule.daily(). Give BackupSchedule.monthly({ day: 1 }) another hour or minute, e.g. BackupSchedule.monthly({ day: 1, hour: 4 }).",
    ],
  ])('refuses %s at the same time, saying when they meet and what to change', (_, schedules, message) => {
    expect(() => BackupSchedule.foldCoinciding(schedules)).toThrow(new ConfigurationError(message));
  });

  test('a custom cron with the same minute and hour as another schedule is kept, with a warning', () => {
    const custom = BackupSchedule.cron({ expression: 'cron(0 3 ? * MON-FRI *)', tiers: ['weekly'] });
    const folded = BackupSchedule.foldCoinciding([BackupSchedule.daily(), custom, BackupSchedule.daily({ hour: 4 })]);
    expect(folded.schedules.map((s) => s.cronExpression)).toEqual(['cron(0 3 * * ? *)', 'cron(0 3 ? * MON-FRI *)', 'cron(0 4 * * ? *)']);
    expect(folded.warnings).toEqual([
      "BackupSchedule.daily() and BackupSchedule.cron({ expression: 'cron(0 3 ? * MON-FRI *)' }) both start at minute '0' of hour '3' (Etc/UTC): on a day both run, two dumps and two RDS snapshots start at once and the second snapshot fails. Give one of them another minute or hour, or make sure their days never meet and acknowledge this warning.",
    ]);
  });
});
