import { TimeZone } from 'aws-cdk-lib';
import { BackupSchedule, validateCronExpression } from '../../../lib/database/backup-schedule';

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
