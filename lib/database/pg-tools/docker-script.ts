/** The shell script that builds the layer inside an Amazon Linux 2023 container. Pure: it only renders text. */
import { PG_DUMP_WRITE_BYTES, STDBUF_LIBRARY_NAME, SYSTEM_STDBUF_PATHS } from '../../../lambda/postgres/stdbuf';
import { C_LIBRARY_PATTERN } from './lambda-compat';
import { PG_TOOLS } from './pg-version';

/** The image the Docker bundling runs in: the OS of the Node.js 22/24 Lambda runtimes. */
export const AL2023_IMAGE = 'public.ecr.aws/amazonlinux/amazonlinux:2023';

/** Options of {@link dockerBundlingScript}. */
export interface DockerScriptOptions {
  /** Major version to install (`postgresql<major>`). */
  readonly major: number;
  /** Where the layer is written. */
  readonly outputDir: string;
  /** `uid:gid` to give the output to, so the synth user can delete cdk.out again; omitted → left as is. */
  readonly owner?: string;
  /**
   * Where to look for GNU coreutils' `libstdbuf.so` (copied when found and pg_dump runs with it preloaded).
   * @default - the usual system locations
   */
  readonly stdbufCandidates?: readonly string[];
}

/**
 * Renders a bash script that installs `postgresql<major>` with dnf, copies pg_dump, pg_dumpall, pg_restore and psql into
 * `<outputDir>/bin` and every shared library they need except the C library into `<outputDir>/lib` (the same rule
 * as local bundling: {@link C_LIBRARY_PATTERN}), then proves the result by running each tool with only
 * `LD_LIBRARY_PATH=<outputDir>/lib` in an otherwise empty environment.
 */
export function dockerBundlingScript(options: DockerScriptOptions): string {
  const { major, outputDir } = options;
  if (!Number.isInteger(major)) throw new Error(`major must be an integer, got ${major}`);
  const out = shellQuote(outputDir);
  const stdbuf = `"$out/lib/${STDBUF_LIBRARY_NAME}"`;
  const preload = `LD_PRELOAD=${stdbuf} _STDBUF_O=${PG_DUMP_WRITE_BYTES}`;
  const lines = [
    'set -euo pipefail',
    `dnf install -y --setopt=install_weak_deps=False postgresql${major} glibc-common findutils >&2`,
    `out=${out}`,
    'mkdir -p "$out/bin" "$out/lib"',
    `export PATH="/usr/pgsql-${major}/bin:/usr/lib/postgresql/${major}/bin:$PATH"`,
    `for tool in ${PG_TOOLS.join(' ')}; do`,
    '  src="$(command -v "$tool")" || { echo "$tool is not installed" >&2; exit 1; }',
    '  src="$(readlink -f "$src")"',
    '  version="$("$src" --version)"',
    `  case "$version" in *"(PostgreSQL) ${major}"[.a-z]*) ;; *) echo "$src is not PostgreSQL ${major}: $version" >&2; exit 1;; esac`,
    '  cp "$src" "$out/bin/$tool"',
    '  chmod 0755 "$out/bin/$tool"',
    'done',
    'deps="$(mktemp)"',
    `for tool in ${PG_TOOLS.join(' ')}; do ldd "$out/bin/$tool"; done > "$deps"`,
    'if grep -q "not found" "$deps"; then cat "$deps" >&2; exit 1; fi',
    'while read -r name arrow path _rest; do',
    '  [ "$arrow" = "=>" ] || continue',
    '  case "$path" in /*) ;; *) continue;; esac',
    `  if grep -Eq '${C_LIBRARY_PATTERN}' <<< "$name"; then continue; fi`,
    '  cp -L "$path" "$out/lib/$name"',
    '  chmod 0644 "$out/lib/$name"',
    'done < "$deps"',
    'rm -f "$deps"',
    // Optional: the dump preloads it so that pg_dump writes 128 KiB at a time (see lambda/postgres/pg-tools.ts).
    `for f in ${(options.stdbufCandidates ?? SYSTEM_STDBUF_PATHS).map(shellQuote).join(' ')}; do`,
    `  if [ -f "$f" ]; then cp -L "$f" ${stdbuf}; chmod 0644 ${stdbuf}; break; fi`,
    'done',
    `for tool in ${PG_TOOLS.join(' ')}; do`,
    '  env -i LD_LIBRARY_PATH="$out/lib" "$out/bin/$tool" --version >&2',
    'done',
    `if [ -f ${stdbuf} ]; then`,
    `  said="$(env -i LD_LIBRARY_PATH="$out/lib" ${preload} "$out/bin/pg_dump" --version 2>&1)" ||`,
    '    said="pg_dump failed with it preloaded: $said"',
    `  case "$said" in *"cannot be preloaded"*|"pg_dump failed"*) echo "$said; leaving ${STDBUF_LIBRARY_NAME} out" >&2; rm -f ${stdbuf};; esac`,
    'fi',
  ];
  if (options.owner !== undefined) {
    if (!/^\d+:\d+$/.test(options.owner)) throw new Error(`owner must be uid:gid, got ${options.owner}`);
    lines.push(`chown -R ${options.owner} "$out"`);
  }
  return lines.join('\n') + '\n';
}

/** Single-quotes a string for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
