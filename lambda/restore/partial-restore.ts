/**
 * A partial restore: only some schemas or tables of a backup. Pure (no I/O): the restore core turns a selection into
 * `pg_restore --schema/--table` arguments and the schemas to create first, and the restore-verify core limits the
 * row-count check to the tables restored.
 *
 * pg_restore selects by schema and by table name separately (`-n app -n billing -t orders -t invoices` restores
 * `orders` and `invoices` of both schemas), so a selection is resolved against the manifest's table list and refused
 * when pg_restore would restore more, or less, than was asked. `pg_restore -n` does not create the schema itself;
 * the core creates the selected schemas (`CREATE SCHEMA IF NOT EXISTS`) before it runs. With tables selected,
 * pg_restore restores their definition and data only: indexes, constraints, triggers and types they depend on are
 * not restored (pg_restore's documented behaviour of `-t`).
 */
import type { TableRowCount } from '../backup/manifest';
import { InvalidInput } from '../common/errors';

/** A table named in a selection: `name` alone matches that name in every schema of the backup. */
export interface TableName {
  readonly schema?: string;
  readonly name: string;
}

/** What to restore; absent or empty lists restore everything. */
export interface RestoreSelection {
  /** Whole schemas (their tables, sequences, functions, types, indexes...). */
  readonly schemas?: readonly string[];
  /** Tables, definition and data only. */
  readonly tables?: readonly TableName[];
}

/** Most names a selection takes (each becomes a pg_restore argument). */
export const MAX_SELECTED_NAMES = 200;

/** A selection resolved against a manifest. */
export interface ResolvedSelection {
  /** The manifest's tables the restore brings back (what the row-count check compares). */
  readonly tables: readonly TableRowCount[];
  /** Schemas to create before pg_restore runs. */
  readonly schemas: readonly string[];
  /** `--schema=…` / `--table=…` arguments for pg_restore. */
  readonly pgRestoreArgs: readonly string[];
}

/**
 * Reads `schema.table`, `table`, or with double quotes around a part that contains a dot or a quote
 * (`"my.schema"."Orders"`, a doubled `""` for a quote). Unquoted parts are taken as written (no case folding):
 * the names are compared with the catalogue's exactly, as pg_restore does.
 *
 * @throws InvalidInput saying what is wrong
 */
export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let part = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= text.length) throw new InvalidInput(`table ${JSON.stringify(text)} has an unclosed double quote`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        part += text[i];
        i += 1;
      }
      if (i < text.length && text[i] !== '.') throw new InvalidInput(`table ${JSON.stringify(text)}: a quoted name must be followed by . or end`);
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      part = text.slice(i, end);
      if (part.includes('"')) throw new InvalidInput(`table ${JSON.stringify(text)}: quote a whole name ("My.Name"), not part of it`);
      i = end;
    }
    if (part === '') throw new InvalidInput(`table ${JSON.stringify(text)} has an empty name; write schema.table or table`);
    parts.push(part);
    if (i >= text.length) break;
    i += 1; // the dot
    if (i >= text.length) throw new InvalidInput(`table ${JSON.stringify(text)} ends with a dot; write schema.table or table`);
  }
  if (parts.length > 2) throw new InvalidInput(`table ${JSON.stringify(text)} has ${parts.length} parts; write schema.table or table (quote a name that contains a dot)`);
  return parts.length === 2 ? { schema: parts[0], name: parts[1] } : { name: parts[0] };
}

/** Writes a table back in {@link parseTableName}'s syntax (quotes only where a part needs them). */
export function formatTableName(table: TableName): string {
  const quote = (s: string) => (/^[^."]+$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return table.schema === undefined ? quote(table.name) : `${quote(table.schema)}.${quote(table.name)}`;
}

/**
 * Validates the `schemas` and `tables` fields of a handler input (arrays of strings; tables in
 * {@link parseTableName}'s syntax). Both absent: undefined (restore everything).
 *
 * @throws InvalidInput naming the field
 */
export function parseSelectionInput(schemas: unknown, tables: unknown): RestoreSelection | undefined {
  const strings = (value: unknown, field: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '' || v.includes('\0'))) {
      throw new InvalidInput(`${field} must be an array of non-empty names; got ${JSON.stringify(value)}`);
    }
    if (value.length > MAX_SELECTED_NAMES) throw new InvalidInput(`${field} names ${value.length}; at most ${MAX_SELECTED_NAMES}`);
    return value as string[];
  };
  const schemaList = strings(schemas, 'schemas');
  const tableList = strings(tables, 'tables')?.map(parseTableName);
  if (schemaList === undefined && tableList === undefined) return undefined;
  return { ...(schemaList ? { schemas: schemaList } : {}), ...(tableList ? { tables: tableList } : {}) };
}

/** Whether the selection restores only part of the backup. */
export function isPartial(selection: RestoreSelection | undefined): selection is RestoreSelection {
  return (selection?.schemas?.length ?? 0) + (selection?.tables?.length ?? 0) > 0;
}

function key(schema: string, name: string): string {
  return JSON.stringify([schema, name]);
}

/**
 * Resolves `selection` against the manifest's tables.
 *
 * - `schemas` only: every table of those schemas (`pg_restore -n`).
 * - `tables` (and maybe `schemas`): those tables; a name without schema matches it in every schema. The tables'
 *   schemas and the given `schemas` together must select exactly the tables asked for, since pg_restore combines its
 *   `-n` and `-t` lists as a cross product.
 *
 * @throws InvalidInput when a schema or table is not in the backup, or pg_restore cannot select exactly that
 */
export function resolveSelection(manifestTables: readonly TableRowCount[], selection: RestoreSelection): ResolvedSelection {
  const schemas = [...new Set(selection.schemas ?? [])];
  const tables = selection.tables ?? [];
  const inBackup = new Set(manifestTables.map((t) => t.schema));
  // The manifest lists tables only: a schema of the backup without tables cannot be told from a typo, and restoring
  // it would bring back nothing the row-count check could prove.
  const missingSchemas = schemas.filter((s) => !inBackup.has(s));
  if (missingSchemas.length > 0) {
    throw new InvalidInput(
      `the backup has no table in schema(s) ${missingSchemas.map((s) => JSON.stringify(s)).join(', ')}; ` +
        `its schemas with tables are ${[...inBackup].map((s) => JSON.stringify(s)).join(', ') || 'none'} (names are case-sensitive)`,
    );
  }
  if (tables.length === 0) {
    const picked = manifestTables.filter((t) => schemas.includes(t.schema));
    return { tables: picked, schemas, pgRestoreArgs: schemas.map((s) => `--schema=${s}`) };
  }
  const wanted = new Map<string, TableRowCount>();
  for (const table of tables) {
    const matches = manifestTables.filter(
      (t) => t.name === table.name && (table.schema !== undefined ? t.schema === table.schema : schemas.length === 0 || schemas.includes(t.schema)),
    );
    if (matches.length === 0) throw new InvalidInput(`table ${formatTableName(table)} is not in the backup (names are case-sensitive)`);
    for (const m of matches) wanted.set(key(m.schema, m.name), m);
  }
  const schemaArgs = [...new Set([...schemas, ...[...wanted.values()].map((t) => t.schema)])];
  const names = [...new Set([...wanted.values()].map((t) => t.name))];
  const restored = manifestTables.filter((t) => schemaArgs.includes(t.schema) && names.includes(t.name));
  const extra = restored.filter((t) => !wanted.has(key(t.schema, t.name)));
  if (extra.length > 0) {
    throw new InvalidInput(
      `pg_restore selects schemas and table names separately, so this selection would also restore ` +
        `${extra.map((t) => formatTableName(t)).join(', ')}; restore tables of different schemas in separate runs`,
    );
  }
  return {
    tables: restored,
    schemas: schemaArgs,
    pgRestoreArgs: [...schemaArgs.map((s) => `--schema=${s}`), ...names.map((n) => `--table=${n}`)],
  };
}

/** A predicate for the tables a resolved selection restored (for counting only those in the target). */
export function selectedTable(resolved: Pick<ResolvedSelection, 'tables'>): (table: { readonly schema: string; readonly name: string }) => boolean {
  const keys = new Set(resolved.tables.map((t) => key(t.schema, t.name)));
  return (table) => keys.has(key(table.schema, table.name));
}
