import { parseToolVersion, postgresVersionProblem } from '../../../../lib/database/pg-tools/pg-version';

describe('parseToolVersion', () => {
  it.each([
    ['pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', 15, '15.18'],
    ['psql (PostgreSQL) 16.4', 16, '16.4'],
    ['pg_restore (PostgreSQL) 17devel', 17, '17devel'],
    ['pg_dump (PostgreSQL) 18beta2\n', 18, '18beta2'],
  ])('reads %j', (output, major, version) => {
    expect(parseToolVersion(output)).toEqual({ major, version });
  });

  it('returns undefined for other output', () => {
    expect(parseToolVersion('Usage: pg_wrapper ...')).toBeUndefined();
    expect(parseToolVersion('')).toBeUndefined();
  });
});

describe('postgresVersionProblem', () => {
  it.each([12, 15, 16, 17, 18])('accepts %i', (v) => expect(postgresVersionProblem(v)).toBeUndefined());

  it('says to pass a whole major version', () => {
    expect(postgresVersionProblem(15.4)).toMatch(/whole major version such as 15 \(got 15.4\)/);
    expect(postgresVersionProblem(Number.NaN)).toMatch(/whole major version/);
  });

  it('names the supported range and the pg_dump rule', () => {
    expect(postgresVersionProblem(11)).toMatch(/between 12 and 18 \(got 11\).*pg_dump must be at least the server's major version/);
    expect(postgresVersionProblem(19)).toMatch(/between 12 and 18 \(got 19\)/);
  });
});
