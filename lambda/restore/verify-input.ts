/**
 * The input fields both verify handlers (restore-verify after a dump restore, recovery-verify after a snapshot
 * restore) take besides their target: the operator's validation queries and whether a failed check throws.
 */
import { InvalidInput } from '../common/errors';
import { JsonObject, expectObject } from '../common/validate';
import { ValidationQuery, validationQueryProblems } from './restore-verify-core';

/** The validated `validationQueries` and `throwOnFailure` of a verify input; each absent when not given. */
export interface VerifyOptions {
  readonly validationQueries?: ValidationQuery[];
  readonly throwOnFailure?: boolean;
}

/**
 * Validates `validationQueries` (an array of `{ name, sql }` with unique names, see validationQueryProblems) and
 * `throwOnFailure` of the input `v`.
 *
 * @throws InvalidInput naming the field
 */
export function parseVerifyOptions(v: JsonObject): VerifyOptions {
  let validationQueries: ValidationQuery[] | undefined;
  if (v.validationQueries !== undefined) {
    if (!Array.isArray(v.validationQueries)) throw new InvalidInput('validationQueries must be an array of { name, sql }');
    validationQueries = v.validationQueries.map((q: unknown, i) => {
      const o = expectObject(q, `validationQueries[${i}]`);
      return { name: o.name, sql: o.sql } as ValidationQuery;
    });
    const problems = validationQueryProblems(validationQueries);
    if (problems.length > 0) throw new InvalidInput(problems.join('; '));
  }
  if (v.throwOnFailure !== undefined && typeof v.throwOnFailure !== 'boolean') {
    throw new InvalidInput(`throwOnFailure must be true or false; got ${JSON.stringify(v.throwOnFailure)}`);
  }
  return {
    ...(validationQueries !== undefined ? { validationQueries } : {}),
    ...(v.throwOnFailure !== undefined ? { throwOnFailure: v.throwOnFailure } : {}),
  };
}
