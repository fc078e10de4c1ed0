/**
 * Recreating the source's roles before a restore: the `pg_dumpall --globals-only --no-role-passwords` SQL beside a
 * dump, replayed statement by statement by a user who may not be a superuser (RDS's master user is not: it has
 * CREATEROLE and CREATEDB, and is refused SUPERUSER, REPLICATION and BYPASSRLS, and setting another grantor).
 *
 * The rules, so that a replay never changes what is already there and always says what it could not do:
 * - a role that already exists on the target (the restoring user, RDS's own roles) is left as it is: its
 *   CREATE ROLE, ALTER ROLE (attributes and settings) and COMMENT are skipped and it is listed as `existing`;
 * - for a non-superuser, SUPERUSER, REPLICATION and BYPASSRLS (and their NO… forms, which are a new role's defaults)
 *   are taken out of ALTER ROLE; a role that had one of them is listed in `attributesNotRestored`; `GRANTED BY` is
 *   taken out of GRANT (the restoring user becomes the grantor);
 * - every other statement runs as written; one that fails is listed in `failed` with the server's words, and the
 *   replay goes on (a tablespace the target cannot have must not stop the roles).
 * Passwords are never in the SQL: set them after the restore (see the README).
 *
 * The parsing and planning are pure; {@link replayRoles} runs the plan on a connection.
 */
import type { Client } from 'pg';

/** The source's attributes a non-superuser cannot give a role. */
export const SUPERUSER_ONLY_ATTRIBUTES = ['SUPERUSER', 'REPLICATION', 'BYPASSRLS'] as const;

/** Statements named one by one in an outcome; the rest are counted (the outcome travels through Step Functions). */
export const MAX_LISTED = 50;

/** Longest statement text kept in an outcome. */
const MAX_STATEMENT_CHARS = 200;

/**
 * Splits SQL into statements at `;` outside quotes, comments and dollar quotes; comments, blank statements and psql
 * meta-commands (a line starting with `\`, such as the `\restrict` / `\unrestrict` that pg_dumpall writes since
 * 17.6, 16.10, 15.14, 14.19 and 13.22) are dropped.
 */
export function splitSqlStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '\\' && current.trim() === '') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
      current += '\n';
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) break;
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j += 1;
      }
      current += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end < 0 ? sql.length : end + tag[0].length;
        current += sql.slice(i, stop);
        i = stop;
        continue;
      }
    }
    if (c === ';') {
      if (current.trim()) out.push(current.trim());
      current = '';
      i += 1;
      continue;
    }
    current += c;
    i += 1;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** An identifier at the start of `text` (bare or double-quoted), unquoted, and what follows it. */
function leadingIdentifier(text: string): { readonly name: string; readonly rest: string } | undefined {
  if (text.startsWith('"')) {
    let j = 1;
    let name = '';
    while (j < text.length) {
      if (text[j] === '"') {
        if (text[j + 1] === '"') {
          name += '"';
          j += 2;
          continue;
        }
        return { name, rest: text.slice(j + 1) };
      }
      name += text[j];
      j += 1;
    }
    return undefined;
  }
  const m = /^([A-Za-z_][A-Za-z0-9_$]*)/.exec(text);
  // A bare identifier is folded to lower case by the server.
  return m ? { name: m[1].toLowerCase(), rest: text.slice(m[1].length) } : undefined;
}

/** What one statement of the globals SQL is about. */
export type GlobalsStatement =
  | { readonly kind: 'create-role'; readonly role: string; readonly sql: string }
  | { readonly kind: 'alter-role-attributes'; readonly role: string; readonly sql: string; readonly attributes: readonly string[] }
  | { readonly kind: 'role-setting'; readonly role: string; readonly sql: string }
  | { readonly kind: 'grant-role'; readonly sql: string }
  | { readonly kind: 'other'; readonly sql: string };

const ROLE_SUBJECT = /^(CREATE ROLE|ALTER ROLE|COMMENT ON ROLE|SECURITY LABEL (?:FOR \S+ )?ON ROLE)\s+/i;

/** Classifies one statement (pure). */
export function classifyStatement(sql: string): GlobalsStatement {
  const subject = ROLE_SUBJECT.exec(sql);
  if (subject) {
    const id = leadingIdentifier(sql.slice(subject[0].length));
    if (id) {
      const verb = subject[1].toUpperCase();
      if (verb === 'CREATE ROLE' && /^\s*$/.test(id.rest)) return { kind: 'create-role', role: id.name, sql };
      const withClause = /^\s+WITH\s+(.*)$/is.exec(id.rest);
      if (verb === 'ALTER ROLE' && withClause) {
        return { kind: 'alter-role-attributes', role: id.name, sql, attributes: attributeWords(withClause[1]) };
      }
      return { kind: 'role-setting', role: id.name, sql };
    }
  }
  if (/^GRANT\s/i.test(sql) && !/\sON\s/i.test(sql.replace(/"(?:[^"]|"")*"/g, '""'))) return { kind: 'grant-role', sql };
  return { kind: 'other', sql };
}

/** The upper-cased words of an attribute list, quoted strings (VALID UNTIL '…') kept as they are. */
function attributeWords(text: string): string[] {
  return (text.match(/'(?:[^']|'')*'|\S+/g) ?? []).map((w) => (w.startsWith("'") ? w : w.toUpperCase()));
}

/** A statement to run, and for whom (the role it creates or changes, when it is about one). */
export interface PlannedStatement {
  readonly sql: string;
  readonly role?: string;
}

/** The roles the target has, and who is restoring. */
export interface TargetRoles {
  readonly currentUser: string;
  readonly superuser: boolean;
  readonly existing: ReadonlySet<string>;
}

/** What {@link planRoleReplay} decided. */
export interface RolePlan {
  readonly statements: readonly PlannedStatement[];
  /** Roles of the source the target already has (left as they are). */
  readonly existing: readonly string[];
  /** Roles this replay creates. */
  readonly toCreate: readonly string[];
  /** Roles whose superuser-only attributes cannot be given by this user: `role: ATTR, ATTR`. */
  readonly attributesNotRestored: readonly string[];
}

/** Plans the replay of the globals SQL on a target (pure); see the module comment for the rules. */
export function planRoleReplay(sql: string, target: TargetRoles): RolePlan {
  const statements: PlannedStatement[] = [];
  const existing = new Set<string>();
  const toCreate: string[] = [];
  const notRestored: string[] = [];
  for (const statement of splitSqlStatements(sql).map(classifyStatement)) {
    switch (statement.kind) {
      case 'create-role':
        if (target.existing.has(statement.role)) {
          existing.add(statement.role);
        } else {
          toCreate.push(statement.role);
          statements.push({ sql: statement.sql, role: statement.role });
        }
        break;
      case 'alter-role-attributes': {
        if (target.existing.has(statement.role)) break;
        let attributes = statement.attributes;
        if (!target.superuser) {
          const refused = attributes.filter((a) => (SUPERUSER_ONLY_ATTRIBUTES as readonly string[]).includes(a));
          if (refused.length > 0) notRestored.push(`${statement.role}: ${refused.join(', ')}`);
          attributes = attributes.filter((a) => !(SUPERUSER_ONLY_ATTRIBUTES as readonly string[]).includes(a.replace(/^NO/, '')));
        }
        if (attributes.length > 0) {
          statements.push({ sql: `ALTER ROLE ${quoteIdentifier(statement.role)} WITH ${attributes.join(' ')}`, role: statement.role });
        }
        break;
      }
      case 'role-setting':
        if (!target.existing.has(statement.role)) statements.push({ sql: statement.sql, role: statement.role });
        break;
      case 'grant-role':
        statements.push({ sql: target.superuser ? statement.sql : statement.sql.replace(/\s+GRANTED\s+BY\s+(?:"(?:[^"]|"")*"|\S+)\s*$/i, '') });
        break;
      default:
        statements.push({ sql: statement.sql });
    }
  }
  return { statements, existing: [...existing], toCreate, attributesNotRestored: notRestored };
}

/** `"name"`, with inner quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** What replaying the roles did. Lists are capped at {@link MAX_LISTED}; `omitted` counts what was left out. */
export interface RolesOutcome {
  readonly created: readonly string[];
  readonly existing: readonly string[];
  readonly attributesNotRestored: readonly string[];
  /** Statements the server refused: `<statement>: <error>`. */
  readonly failed: readonly string[];
  /** Memberships granted to the restoring user for the restore (so it may give objects to those owners); revoked after. */
  readonly temporaryMemberships: readonly string[];
  readonly omitted: number;
}

function cap(items: readonly string[], counter: { omitted: number }): string[] {
  if (items.length <= MAX_LISTED) return [...items];
  counter.omitted += items.length - MAX_LISTED;
  return items.slice(0, MAX_LISTED);
}

function short(sql: string): string {
  const one = sql.replace(/\s+/g, ' ');
  return one.length > MAX_STATEMENT_CHARS ? `${one.slice(0, MAX_STATEMENT_CHARS)}…` : one;
}

/** The roles a replay touched, and the memberships to revoke after the restore. */
export interface RoleReplay {
  readonly outcome: RolesOutcome;
  /** Revokes the temporary memberships; failures are added to the outcome's `failed`. */
  finish(): Promise<RolesOutcome>;
}

/**
 * Replays the globals SQL on `client` (connected as the restoring user), then, when that user is not a superuser,
 * makes it a member of each role of the source it is not yet a member of, so that pg_restore may give objects to
 * them (`ALTER … OWNER TO` needs it); {@link RoleReplay.finish} revokes those memberships again.
 */
export async function replayRoles(client: Client, sql: string): Promise<RoleReplay> {
  const who = await client.query<{ user: string; superuser: boolean }>(
    'SELECT current_user AS user, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user',
  );
  const { user, superuser } = who.rows[0];
  const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles');
  const plan = planRoleReplay(sql, { currentUser: user, superuser, existing: new Set(roles.rows.map((r) => r.rolname)) });

  const failed: string[] = [];
  const notCreated = new Set<string>();
  for (const statement of plan.statements) {
    try {
      await client.query(statement.sql);
    } catch (error) {
      failed.push(`${short(statement.sql)}: ${error instanceof Error ? error.message : String(error)}`);
      if (statement.role !== undefined && /^CREATE ROLE/i.test(statement.sql)) notCreated.add(statement.role);
    }
  }

  const granted: string[] = [];
  if (!superuser) {
    const sourceRoles = [...plan.existing, ...plan.toCreate].filter((r) => r !== user && !notCreated.has(r));
    const members = await client.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE pg_has_role(current_user, oid, 'USAGE') OR rolsuper",
    );
    const already = new Set(members.rows.map((r) => r.rolname));
    for (const role of sourceRoles.filter((r) => !already.has(r))) {
      try {
        await client.query(`GRANT ${quoteIdentifier(role)} TO ${quoteIdentifier(user)}`);
        granted.push(role);
      } catch (error) {
        failed.push(`GRANT ${role} TO ${user} (so the restore may give it objects): ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  const build = (extraFailed: readonly string[]): RolesOutcome => {
    const counter = { omitted: 0 };
    return {
      created: cap(plan.toCreate.filter((r) => !notCreated.has(r)), counter),
      existing: cap(plan.existing, counter),
      attributesNotRestored: cap(plan.attributesNotRestored, counter),
      failed: cap([...failed, ...extraFailed], counter),
      temporaryMemberships: cap(granted, counter),
      omitted: counter.omitted,
    };
  };
  return {
    outcome: build([]),
    async finish() {
      const revokeFailed: string[] = [];
      for (const role of granted) {
        try {
          await client.query(`REVOKE ${quoteIdentifier(role)} FROM ${quoteIdentifier(user)}`);
        } catch (error) {
          revokeFailed.push(`REVOKE ${role} FROM ${user}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return build(revokeFailed);
    },
  };
}
