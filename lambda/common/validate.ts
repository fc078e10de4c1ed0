/**
 * Small, dependency-free validators for handler input. Each one throws {@link InvalidInput} with a message that
 * names the field and says what is expected, so a bad Step Functions payload fails before any side effect.
 */
import { InvalidInput } from './errors';

/** Backup tiers a run can satisfy, from most to least frequent. */
export const TIERS = ['daily', 'weekly', 'monthly', 'yearly'] as const;

/** A backup tier. */
export type Tier = (typeof TIERS)[number];

/** A plain JSON object (what a Step Functions task receives). */
export type JsonObject = Record<string, unknown>;

/** `text`, cut to `max` characters with `…` when longer. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Describes a value for an error message without dumping it whole. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(clip(value, 80));
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** `value` must be a non-null, non-array object. */
export function expectObject(value: unknown, field: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInput(`${field} must be an object; got ${describe(value)}`);
  }
  return value as JsonObject;
}

/** `value` must be a non-empty string (optionally matching `pattern`, explained by `hint`). */
export function expectString(value: unknown, field: string, pattern?: RegExp, hint?: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInput(`${field} must be a non-empty string; got ${describe(value)}`);
  }
  if (pattern && !pattern.test(value)) {
    throw new InvalidInput(`${field} ${hint ?? `must match ${pattern}`}; got ${describe(value)}`);
  }
  return value;
}

/** Like {@link expectString} but `undefined` passes through. */
export function optionalString(value: unknown, field: string, pattern?: RegExp, hint?: string): string | undefined {
  return value === undefined ? undefined : expectString(value, field, pattern, hint);
}

/** `value` must be a finite number, at least `min` when given. */
export function expectNumber(value: unknown, field: string, min?: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidInput(`${field} must be a finite number; got ${describe(value)}`);
  }
  if (min !== undefined && value < min) {
    throw new InvalidInput(`${field} must be at least ${min}; got ${value}`);
  }
  return value;
}

/** `value` must be one of `allowed`. */
export function expectOneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidInput(`${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${describe(value)}`);
  }
  return value as T;
}

/** `value` must be an ISO-8601 timestamp that `Date` can parse; returns the parsed date. */
export function expectTimestamp(value: unknown, field: string): Date {
  const text = expectString(value, field);
  // Require at least a full date and a time so that "2024" or "1" are not silently accepted.
  const date = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidInput(`${field} must be an ISO-8601 timestamp such as 2024-01-31T02:00:00Z; got ${describe(value)}`);
  }
  return date;
}

/**
 * `value` must be a non-empty array of tiers. Duplicates are removed and the result is in canonical order
 * (daily, weekly, monthly, yearly), so equal sets always serialize the same way.
 */
export function expectTiers(value: unknown, field = 'tiers'): Tier[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidInput(`${field} must be a non-empty array of ${TIERS.join(', ')}; got ${describe(value)}`);
  }
  const seen = new Set<Tier>();
  value.forEach((tier, i) => seen.add(expectOneOf(tier, `${field}[${i}]`, TIERS)));
  return TIERS.filter((tier) => seen.has(tier));
}
