import { InvalidInput } from '../../../lambda/common/errors';
import { formatTableName, parseSelectionInput, parseTableName, resolveSelection, selectedTable } from '../../../lambda/restore/partial-restore';
import { parseRestoreInput } from '../../../lambda/restore/restore.handler';
import { parseRestoreVerifyInput } from '../../../lambda/restore/restore-verify.handler';
import { pgRestoreArgs } from '../../../lambda/restore/restore-core';

const tables = [
  { schema: 'app', name: 'Orders', rows: 10 },
  { schema: 'app', name: 'items', rows: 5 },
  { schema: 'billing', name: 'invoices', rows: 3 },
  { schema: 'billing', name: 'items', rows: 2 },
  { schema: 'my.schema', name: 't', rows: 1 },
];

describe('parseTableName', () => {
  it.each([
    ['orders', { name: 'orders' }],
    ['app.Orders', { schema: 'app', name: 'Orders' }],
    ['"my.schema".t', { schema: 'my.schema', name: 't' }],
    ['"we""ird"."a.b"', { schema: 'we"ird', name: 'a.b' }],
  ])('reads %s', (text, expected) => {
    expect(parseTableName(text)).toEqual(expected);
    expect(parseTableName(formatTableName(expected))).toEqual(expected);
  });

  it.each([
    ['a.b.c', /has 3 parts/],
    ['app.', /ends with a dot/],
    ['.t', /empty name/],
    ['"open', /unclosed double quote/],
    ['a"b', /quote a whole name/],
  ])('refuses %s', (text, message) => {
    expect(() => parseTableName(text)).toThrow(InvalidInput);
    expect(() => parseTableName(text)).toThrow(message);
  });
});

describe('resolveSelection', () => {
  it('a schema restores all its tables (pg_restore --schema)', () => {
    const resolved = resolveSelection(tables, { schemas: ['billing'] });
    expect(resolved.tables.map((t) => t.name)).toEqual(['invoices', 'items']);
    expect(resolved.pgRestoreArgs).toEqual(['--schema=billing']);
    expect(resolved.schemas).toEqual(['billing']);
  });

  it('a qualified table restores that table only, its schema created first', () => {
    const resolved = resolveSelection(tables, { tables: [{ schema: 'app', name: 'Orders' }] });
    expect(resolved).toEqual({ tables: [tables[0]], schemas: ['app'], pgRestoreArgs: ['--schema=app', '--table=Orders'] });
  });

  it('an unqualified name matches every schema, or those given with --schema', () => {
    expect(resolveSelection(tables, { tables: [{ name: 'items' }] }).tables).toEqual([tables[1], tables[3]]);
    expect(resolveSelection(tables, { schemas: ['billing'], tables: [{ name: 'items' }] }).tables).toEqual([tables[3]]);
  });

  it('refuses a selection pg_restore would widen (its -n and -t lists cross), and accepts one it cannot widen', () => {
    expect(() => resolveSelection(tables, { tables: [{ schema: 'app', name: 'items' }, { schema: 'billing', name: 'invoices' }] })).toThrow(
      /would also restore billing\.items; restore tables of different schemas in separate runs/,
    );
    expect(resolveSelection(tables, { tables: [{ schema: 'app', name: 'Orders' }, { schema: 'billing', name: 'invoices' }] }).tables).toEqual([tables[0], tables[2]]);
  });

  it('refuses a schema or table that is not in the backup (case-sensitive)', () => {
    expect(() => resolveSelection(tables, { schemas: ['App'] })).toThrow(/no table in schema\(s\) "App"/);
    expect(() => resolveSelection(tables, { tables: [{ schema: 'app', name: 'orders' }] })).toThrow(/table app\.orders is not in the backup/);
  });

  it('selectedTable keeps only the restored tables', () => {
    const keep = selectedTable(resolveSelection(tables, { schemas: ['app'] }));
    expect(tables.filter(keep).map((t) => t.name)).toEqual(['Orders', 'items']);
  });
});

describe('handler inputs and pg_restore arguments', () => {
  const target = { secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf', host: 'scratch', database: 'app_restore' };
  const manifestKey = 'postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json';

  it('the restore and restore-verify handlers take schemas and tables, validated before anything runs', () => {
    expect(parseRestoreInput({ manifestKey, target, schemas: ['app'], tables: ['app.Orders'] })).toMatchObject({ schemas: ['app'], tables: ['app.Orders'] });
    expect(parseRestoreVerifyInput({ manifestKey, target, tables: ['billing.items'] })).toMatchObject({ tables: ['billing.items'] });
    expect(() => parseRestoreInput({ manifestKey, target, tables: 'app.Orders' })).toThrow(/tables must be an array of non-empty names/);
    expect(() => parseRestoreVerifyInput({ manifestKey, target, tables: ['a.b.c'] })).toThrow(/has 3 parts/);
    expect(() => parseSelectionInput(Array.from({ length: 201 }, (_, i) => `s${i}`), undefined)).toThrow(/at most 200/);
    expect(parseSelectionInput(undefined, undefined)).toBeUndefined();
  });

  it('passes the selection to pg_restore after the connection and before the file', () => {
    const args = pgRestoreArgs({ host: 'h', port: 5432, user: 'u', database: 'd' }, 4, '/tmp/x.dump', false, ['--schema=app', '--table=Orders']);
    expect(args.slice(4)).toEqual(['--schema=app', '--table=Orders', '--jobs=4', '/tmp/x.dump']);
  });
});
