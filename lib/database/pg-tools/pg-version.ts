/** Version rules for the PostgreSQL client tools in the layer. Pure. */

/** The client tools every layer holds. */
export const PG_TOOLS = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql'] as const;
export type PgTool = (typeof PG_TOOLS)[number];

/** Oldest and newest major version a layer can be built for. */
export const MIN_POSTGRES_MAJOR = 12;
export const MAX_POSTGRES_MAJOR = 18;

/**
 * Majors Amazon Linux 2023 ships as `postgresql<N>` packages (what the Docker bundling installs): 15 since launch,
 * 16 and 17 added later, 18 since release 2023.10.20260330. Older majors are not packaged for AL2023.
 */
export const AL2023_POSTGRES_MAJORS: readonly number[] = [15, 16, 17, 18];

/** A version as printed by `pg_dump --version`. */
export interface ToolVersion {
  /** The major version: 15 for 15.18, 17 for 17devel. */
  readonly major: number;
  /** The version as printed, e.g. `15.18`, `17beta2`. */
  readonly version: string;
}

/**
 * Reads the version from `pg_dump --version` / `psql --version` output, e.g.
 * `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
 *
 * @returns undefined when the output is not a PostgreSQL tool's version line.
 */
export function parseToolVersion(output: string): ToolVersion | undefined {
  const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*(?:devel|(?:alpha|beta|rc)\d+)?)/.exec(output);
  if (!match) return undefined;
  return { version: match[1], major: Number(match[2]) };
}

/**
 * Why `postgresVersion` is not usable, or undefined when it is. The message says what to change.
 */
export function postgresVersionProblem(postgresVersion: number): string | undefined {
  if (!Number.isInteger(postgresVersion)) {
    return `postgresVersion must be a whole major version such as 15 (got ${postgresVersion}); ` +
      'pass the major version of your database server, or a newer one';
  }
  if (postgresVersion < MIN_POSTGRES_MAJOR || postgresVersion > MAX_POSTGRES_MAJOR) {
    return `postgresVersion must be between ${MIN_POSTGRES_MAJOR} and ${MAX_POSTGRES_MAJOR} (got ${postgresVersion}); ` +
      'pass the major version of your database server, or a newer one: pg_dump must be at least the server\'s major version';
  }
  return undefined;
}
