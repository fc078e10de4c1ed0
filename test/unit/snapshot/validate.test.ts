import { InvalidInput } from '../../../lambda/common/errors';
import { expectNumber, expectObject, expectString, expectTiers, expectTimestamp } from '../../../lambda/common/validate';

describe('shared validators', () => {
  test('expectTiers deduplicates and orders tiers canonically', () => {
    expect(expectTiers(['yearly', 'daily', 'yearly'])).toEqual(['daily', 'yearly']);
  });

  test('expectTiers names the field and the allowed values', () => {
    expect(() => expectTiers('daily')).toThrow('tiers must be a non-empty array of daily, weekly, monthly, yearly; got "daily"');
    expect(() => expectTiers(['daily', 7], 'run.tiers')).toThrow("run.tiers[1] must be one of 'daily', 'weekly', 'monthly', 'yearly'; got number 7");
  });

  test('expectTimestamp accepts ISO-8601 date-times only', () => {
    expect(expectTimestamp('2024-01-31T02:00:00.000Z', 't').toISOString()).toBe('2024-01-31T02:00:00.000Z');
    expect(expectTimestamp('2024-01-31T03:00:00+01:00', 't').toISOString()).toBe('2024-01-31T02:00:00.000Z');
    expect(() => expectTimestamp('2024', 't')).toThrow(InvalidInput);
    expect(() => expectTimestamp('2024-13-45T99:00:00Z', 't')).toThrow(InvalidInput);
  });

  test('expectString, expectNumber and expectObject describe what they got', () => {
    expect(() => expectString('', 'name')).toThrow('name must be a non-empty string; got ""');
    expect(() => expectString('ab', 'name', /^a$/, 'must be a')).toThrow('name must be a; got "ab"');
    expect(() => expectNumber(-1, 'bytes', 0)).toThrow('bytes must be at least 0; got -1');
    expect(() => expectNumber(Number.NaN, 'bytes')).toThrow('bytes must be a finite number');
    expect(() => expectObject('x'.repeat(200), 'event')).toThrow(/got "x{80}…"/);
  });
});
