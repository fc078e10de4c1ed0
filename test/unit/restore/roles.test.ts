import { classifyStatement, planRoleReplay, splitSqlStatements } from '../../../lambda/restore/roles';

/** What pg_dumpall 15.14+ writes with --globals-only --no-role-passwords (psql meta-commands included). */
const GLOBALS = `\\restrict abc123
--
-- PostgreSQL database cluster dump
--

SET default_transaction_read_only = off;

--
-- Roles
--

CREATE ROLE app;
ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5 VALID UNTIL 'infinity';
CREATE ROLE "Odd ""x""; y";
ALTER ROLE "Odd ""x""; y" WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN REPLICATION NOBYPASSRLS;
CREATE ROLE master;
ALTER ROLE master WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
COMMENT ON ROLE app IS 'the app; its login';
ALTER ROLE app SET search_path TO 'shop', 'public';

--
-- Role memberships
--

GRANT "Odd ""x""; y" TO app GRANTED BY postgres;

\\unrestrict abc123
`;

describe('splitSqlStatements', () => {
  it('splits at semicolons outside quotes and drops comments and psql meta-commands', () => {
    const statements = splitSqlStatements(GLOBALS);
    expect(statements).toHaveLength(10);
    expect(statements[0]).toBe('SET default_transaction_read_only = off');
    expect(statements[4]).toBe('ALTER ROLE "Odd ""x""; y" WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN REPLICATION NOBYPASSRLS');
    expect(statements[7]).toBe("COMMENT ON ROLE app IS 'the app; its login'");
    expect(statements.some((s) => s.includes('restrict'))).toBe(false);
    expect(splitSqlStatements('DO $$ BEGIN PERFORM 1; END $$; SELECT 2')).toEqual(['DO $$ BEGIN PERFORM 1; END $$', 'SELECT 2']);
  });

  it('classifies role statements with quoted and bare names', () => {
    expect(classifyStatement('CREATE ROLE "Odd ""x""; y"')).toEqual({ kind: 'create-role', role: 'Odd "x"; y', sql: 'CREATE ROLE "Odd ""x""; y"' });
    expect(classifyStatement('CREATE ROLE App')).toMatchObject({ kind: 'create-role', role: 'app' });
    expect(classifyStatement('ALTER ROLE app SET search_path TO shop')).toMatchObject({ kind: 'role-setting', role: 'app' });
    expect(classifyStatement('GRANT a TO b GRANTED BY c')).toMatchObject({ kind: 'grant-role' });
    expect(classifyStatement('GRANT ALL ON TABLESPACE t TO b')).toMatchObject({ kind: 'other' });
  });
});

describe('planRoleReplay', () => {
  it('as a non-superuser: skips existing roles, drops superuser-only attributes and reports the positive ones, drops GRANTED BY', () => {
    const plan = planRoleReplay(GLOBALS, { currentUser: 'master', superuser: false, existing: new Set(['master', 'postgres']) });
    expect(plan.existing).toEqual(['master']);
    expect(plan.toCreate).toEqual(['app', 'Odd "x"; y']);
    expect(plan.attributesNotRestored).toEqual(['Odd "x"; y: SUPERUSER, REPLICATION']);
    expect(plan.statements.map((s) => s.sql)).toEqual([
      'SET default_transaction_read_only = off',
      'CREATE ROLE app',
      `ALTER ROLE "app" WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN CONNECTION LIMIT 5 VALID UNTIL 'infinity'`,
      'CREATE ROLE "Odd ""x""; y"',
      'ALTER ROLE "Odd ""x""; y" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN',
      "COMMENT ON ROLE app IS 'the app; its login'",
      "ALTER ROLE app SET search_path TO 'shop', 'public'",
      'GRANT "Odd ""x""; y" TO app',
    ]);
  });

  it('as a superuser: replays the attributes and the grantor as written', () => {
    const plan = planRoleReplay(GLOBALS, { currentUser: 'postgres', superuser: true, existing: new Set(['postgres']) });
    expect(plan.attributesNotRestored).toEqual([]);
    expect(plan.toCreate).toEqual(['app', 'Odd "x"; y', 'master']);
    expect(plan.statements.map((s) => s.sql)).toContain('GRANT "Odd ""x""; y" TO app GRANTED BY postgres');
    expect(plan.statements.map((s) => s.sql)).toContain('ALTER ROLE "Odd ""x""; y" WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN REPLICATION NOBYPASSRLS');
  });
});
