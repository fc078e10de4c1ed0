import {
  BOOL_OID,
  compareTableCounts,
  describeFailures,
  judgeValidationQuery,
  listedChecks,
  MAX_ERROR_DETAIL_LENGTH,
  MAX_LISTED_CHECKS,
  summarize,
  tableCheckName,
  UNLISTED_CHECKS_NAME,
  validationQueryProblems,
  type VerifyCheck,
} from '../../../lambda/restore/restore-verify-core';

const manifestTables = [
  { schema: 'public', name: 'customers', rows: 100 },
  { schema: 'sales', name: 'Order Lines', rows: 5000 },
  { schema: 'sales', name: 'empty', rows: 0 },
];

describe('compareTableCounts', () => {
  it('passes every table whose count equals the manifest', () => {
    const checks = compareTableCounts(manifestTables, [...manifestTables].reverse());
    expect(checks).toHaveLength(3);
    expect(checks.every((c) => c.passed)).toBe(true);
    expect(checks[1]).toEqual({ name: 'table "sales"."Order Lines"', passed: true, expected: 5000, actual: 5000 });
  });

  it('reports a count mismatch with both numbers', () => {
    const actual = manifestTables.map((t) => (t.name === 'customers' ? { ...t, rows: 99 } : t));
    const failed = compareTableCounts(manifestTables, actual).filter((c) => !c.passed);
    expect(failed).toEqual([
      { name: 'table "public"."customers"', passed: false, expected: 100, actual: 99, detail: 'row count differs from the manifest by -1' },
    ]);
  });

  it('reports a table missing from the restored database', () => {
    const failed = compareTableCounts(manifestTables, manifestTables.slice(0, 2)).filter((c) => !c.passed);
    expect(failed).toEqual([{ name: 'table "sales"."empty"', passed: false, expected: 0, detail: 'missing from the restored database' }]);
  });

  it('reports an extra table that the manifest does not list', () => {
    const actual = [...manifestTables, { schema: 'public', name: 'stray', rows: 3 }];
    const failed = compareTableCounts(manifestTables, actual).filter((c) => !c.passed);
    expect(failed).toEqual([{ name: 'table "public"."stray"', passed: false, actual: 3, detail: 'not in the manifest (extra table)' }]);
  });

  it('keeps schema and name apart: a.b.c is not a."b.c"', () => {
    const checks = compareTableCounts([{ schema: 'a.b', name: 'c', rows: 1 }], [{ schema: 'a', name: 'b.c', rows: 1 }]);
    expect(checks.map((c) => c.passed)).toEqual([false, false]);
  });

  it('distinguishes table names by case', () => {
    const checks = compareTableCounts([{ schema: 'public', name: 'Orders', rows: 1 }], [{ schema: 'public', name: 'orders', rows: 1 }]);
    expect(checks.map((c) => c.detail)).toEqual(['missing from the restored database', 'not in the manifest (extra table)']);
  });
});

describe('judgeValidationQuery', () => {
  const query = { name: 'has-orders', sql: 'SELECT count(*) > 0 FROM sales.orders' };

  it('passes one row whose first column is boolean true', () => {
    expect(judgeValidationQuery(query, { rows: [[true, 'ignored']], columnTypes: [BOOL_OID, 25] })).toEqual({
      name: 'query has-orders',
      passed: true,
      expected: true,
      actual: true,
    });
  });

  it('fails false', () => {
    const check = judgeValidationQuery(query, { rows: [[false]], columnTypes: [BOOL_OID] });
    expect(check).toMatchObject({ passed: false, actual: false, detail: 'returned false' });
  });

  it('fails NULL', () => {
    const check = judgeValidationQuery(query, { rows: [[null]], columnTypes: [BOOL_OID] });
    expect(check).toMatchObject({ passed: false, actual: null, detail: 'returned NULL; it must return true' });
  });

  it('fails zero rows and several rows', () => {
    expect(judgeValidationQuery(query, { rows: [], columnTypes: [BOOL_OID] }).detail).toBe('returned 0 rows; it must return exactly one');
    expect(judgeValidationQuery(query, { rows: [[true], [true]], columnTypes: [BOOL_OID] }).detail).toBe(
      'returned 2 rows; it must return exactly one',
    );
  });

  it('fails a non-boolean first column, even a truthy one', () => {
    const check = judgeValidationQuery(query, { rows: [['t']], columnTypes: [25] });
    expect(check.passed).toBe(false);
    expect(check.actual).toBe('"t"');
    expect(check.detail).toContain('not a boolean');
    expect(judgeValidationQuery(query, { rows: [[1]], columnTypes: [23] }).passed).toBe(false);
  });

  it('fails a query that errored, with the error', () => {
    const check = judgeValidationQuery(query, { rows: [], columnTypes: [], error: 'relation "sales.orders" does not exist' });
    expect(check).toMatchObject({ passed: false, detail: 'failed: relation "sales.orders" does not exist' });
  });

  it('fails a row without columns', () => {
    expect(judgeValidationQuery(query, { rows: [[]], columnTypes: [] }).passed).toBe(false);
  });
});

describe('summarize and describeFailures', () => {
  it('passes only when every check passed', () => {
    expect(summarize([{ name: 'a', passed: true }]).passed).toBe(true);
    expect(summarize([{ name: 'a', passed: true }, { name: 'b', passed: false }]).passed).toBe(false);
  });

  it('lists failing checks with expected and actual, and caps the list', () => {
    const result = summarize([
      { name: 'table "public"."t"', passed: false, expected: 3, actual: 2, detail: 'row count differs from the manifest by -1' },
      { name: 'query q', passed: false, expected: true, actual: false, detail: 'returned false' },
      { name: 'table "public"."ok"', passed: true, expected: 1, actual: 1 },
    ]);
    expect(describeFailures(result)).toBe(
      'table "public"."t": row count differs from the manifest by -1 (expected 3, actual 2); query q: returned false (expected true, actual false)',
    );
    expect(describeFailures(result, 1)).toBe(
      'table "public"."t": row count differs from the manifest by -1 (expected 3, actual 2); … and 1 more failed checks',
    );
  });

  it('says so when all passed', () => {
    expect(describeFailures(summarize([{ name: 'x', passed: true }]))).toBe('all checks passed');
  });
});

describe('validationQueryProblems', () => {
  it('accepts unique names with SQL', () => {
    expect(validationQueryProblems([{ name: 'a', sql: 'SELECT true' }, { name: 'b', sql: 'SELECT true' }])).toEqual([]);
  });

  it('refuses empty names, duplicate names and empty SQL', () => {
    expect(
      validationQueryProblems([
        { name: 'a', sql: 'SELECT true' },
        { name: 'a', sql: 'SELECT true' },
        { name: ' ', sql: 'SELECT true' },
        { name: 'c', sql: '' },
      ]),
    ).toEqual([
      'validationQueries[1].name "a" is used twice; names must be unique',
      'validationQueries[2].name must be a non-empty string',
      'validationQueries[3].sql must be a non-empty string',
    ]);
  });
});

describe('tableCheckName', () => {
  it('quotes both parts', () => {
    expect(tableCheckName({ schema: 'Sales', name: 'a"b' })).toBe('table "Sales"."a""b"');
  });
});

describe('listedChecks', () => {
  const check = (i: number, passed: boolean): VerifyCheck => ({ name: `table "public"."t${i}"`, passed, expected: i, actual: passed ? i : i + 1 });

  it('returns every check when they fit', () => {
    const checks = Array.from({ length: MAX_LISTED_CHECKS }, (_, i) => check(i, i !== 7));
    expect(listedChecks(checks)).toEqual(checks);
  });

  it('lists failed checks first, then passed ones in order, and counts the rest in one last check', () => {
    const checks = Array.from({ length: 10 }, (_, i) => check(i, i !== 8));
    const listed = listedChecks(checks, 4);
    expect(listed.map((c) => c.name)).toEqual(['table "public"."t0"', 'table "public"."t1"', 'table "public"."t8"', UNLISTED_CHECKS_NAME]);
    expect(listed[3]).toEqual({ name: UNLISTED_CHECKS_NAME, passed: true, detail: '7 more passed and 0 more failed; a result lists at most 4 checks' });
  });

  it('fails the last check when failed ones were left out', () => {
    const checks = Array.from({ length: 6 }, (_, i) => check(i, i % 2 === 0));
    const listed = listedChecks(checks, 3);
    expect(listed.map((c) => [c.name, c.passed])).toEqual([
      ['table "public"."t1"', false],
      ['table "public"."t3"', false],
      [UNLISTED_CHECKS_NAME, false],
    ]);
    expect(listed[2].detail).toBe('3 more passed and 1 more failed; a result lists at most 3 checks');
  });

  it('keeps a result for 5,000 tables far below the 256 KiB Step Functions limit', () => {
    const checks = Array.from({ length: 5000 }, (_, i) => ({ ...check(i, true), name: `table "tenant_${i}"."${'x'.repeat(60)}"` }));
    expect(JSON.stringify(checks).length).toBeGreaterThan(256 * 1024);
    expect(JSON.stringify(listedChecks(checks)).length).toBeLessThan(32 * 1024);
  });
});

describe('judgeValidationQuery on a failed query', () => {
  it('keeps at most MAX_ERROR_DETAIL_LENGTH characters of the error, which may quote a whole value', () => {
    const error = `invalid input syntax for type integer: "${'9'.repeat(300_000)}"`;
    const check = judgeValidationQuery({ name: 'n-positive', sql: "SELECT (payload->>'n')::int > 0 FROM t" }, { rows: [], columnTypes: [], error });
    expect(check).toMatchObject({ name: 'query n-positive', passed: false, expected: true });
    expect(check.detail).toBe(`failed: ${error.slice(0, MAX_ERROR_DETAIL_LENGTH)}…`);
    const short = judgeValidationQuery({ name: 'x', sql: 'SELECT 1' }, { rows: [], columnTypes: [], error: 'relation "t" does not exist' });
    expect(short.detail).toBe('failed: relation "t" does not exist');
  });
});
