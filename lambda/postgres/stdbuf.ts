/**
 * GNU coreutils' `libstdbuf.so`, the library `stdbuf -o` preloads to resize a program's stdio output buffer. The dump
 * preloads it into pg_dump; the PgToolsLayer ships a copy. No imports: both the Lambda code and the construct use it.
 */

/** Its file name, on the system and in the layer's `lib/`. */
export const STDBUF_LIBRARY_NAME = 'libstdbuf.so';

/** Where distributions put it: Debian/Ubuntu and Amazon Linux/Fedora, Arch, other 64-bit RPM layouts. */
export const SYSTEM_STDBUF_PATHS: readonly string[] = [
  '/usr/libexec/coreutils/libstdbuf.so',
  '/usr/lib/coreutils/libstdbuf.so',
  '/usr/lib64/coreutils/libstdbuf.so',
];

/** Size of pg_dump's writes to its output when libstdbuf is preloaded: fits a socket buffer whole. */
export const PG_DUMP_WRITE_BYTES = 128 * 1024;

/** The environment that preloads `library` so that pg_dump writes {@link PG_DUMP_WRITE_BYTES} at a time. */
export function stdbufEnv(library: string): Record<string, string> {
  return { LD_PRELOAD: library, _STDBUF_O: String(PG_DUMP_WRITE_BYTES) };
}
