/**
 * Parsing of `ldd` output (glibc's and musl's formats). Pure.
 *
 * ```
 *         linux-vdso.so.1 (0x00007ffd...)
 *         libpq.so.5 => /lib/x86_64-linux-gnu/libpq.so.5 (0x00007f1e...)
 *         /lib64/ld-linux-x86-64.so.2 (0x00007f1e...)
 *         libfoo.so.1 => not found
 * ```
 */

/** One line of `ldd` output. */
export interface LddEntry {
  /** The name the executable asks for (its soname), or the basename for a line that only has a path. */
  readonly name: string;
  /** Absolute path the dynamic loader resolved the name to; undefined for the vDSO and for "not found". */
  readonly path?: string;
  /** True when the loader could not find the library. */
  readonly notFound: boolean;
}

const ARROW_LINE = /^(\S+)\s+=>\s+(.*?)\s*$/;
const ADDRESS_SUFFIX = /\s*\(0x[0-9a-fA-F]+\)$/;

/**
 * Parses the output of `ldd <file>`.
 *
 * @throws Error when ldd says the file is not dynamically linked: nothing of it can be resolved.
 */
export function parseLddOutput(output: string): LddEntry[] {
  const entries: LddEntry[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (/not a dynamic executable|statically linked/.test(line)) {
      throw new Error(`ldd: ${line}`);
    }
    const arrow = ARROW_LINE.exec(line);
    if (arrow) {
      const [, name, target] = arrow;
      if (target === 'not found') {
        entries.push({ name, notFound: true });
        continue;
      }
      const resolved = target.replace(ADDRESS_SUFFIX, '').trim();
      entries.push({ name, path: resolved.startsWith('/') ? resolved : undefined, notFound: false });
      continue;
    }
    const bare = line.replace(ADDRESS_SUFFIX, '').trim();
    if (bare.startsWith('/')) {
      entries.push({ name: bare.slice(bare.lastIndexOf('/') + 1), path: bare, notFound: false });
    } else if (/^\S+$/.test(bare)) {
      entries.push({ name: bare, notFound: false });
    } else {
      throw new Error(`ldd: cannot read line "${line}"`);
    }
  }
  return entries;
}
