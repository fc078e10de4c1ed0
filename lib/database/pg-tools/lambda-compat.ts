/**
 * What the Lambda execution environment (Amazon Linux 2023 for the Node.js 22 and 24 runtimes) provides itself,
 * and whether a bundled binary fits it. Pure.
 */
import { ElfInfo, machineName, VersionNeed } from './elf';

/** glibc of Amazon Linux 2023, the OS of the `nodejs22.x` and `nodejs24.x` Lambda runtimes. */
export const LAMBDA_GLIBC_VERSION = '2.34';

/** glibc's own shared objects (and the kernel's vDSO), matched as `<name>.so` or `<name>.so.<digits>`. */
const C_LIBRARY_NAMES = [
  'linux-vdso', 'linux-gate', 'ld64', 'libc', 'libm', 'libmvec', 'libpthread', 'libdl', 'librt', 'libresolv',
  'libutil', 'libanl', 'libBrokenLocale', 'libthread_db', 'libc_malloc_debug',
];
/** Dynamic loaders, matched by prefix: `ld-linux-x86-64.so.2`, `ld-linux-aarch64.so.1`, musl's loader and libc. */
const C_LIBRARY_PREFIXES = ['ld-linux', 'ld-musl-', 'libc.musl-'];

const ere = (literal: string): string => literal.replace(/\./g, '[.]');

/**
 * Sonames that belong to the C library itself (glibc's own shared objects and the dynamic loader) or to the kernel.
 * A layer must never ship these: the runtime's own glibc is used, and a foreign `libc.so.6` next to it crashes
 * the process. Everything else an executable needs is copied into the layer.
 *
 * Written in the common subset of JavaScript and POSIX extended regular expressions, so that the Docker bundling
 * script applies exactly the same rule with `grep -E`.
 */
export const C_LIBRARY_PATTERN =
  `^((${C_LIBRARY_NAMES.map(ere).join('|')})[.]so([.][0-9.]+)?|(${C_LIBRARY_PREFIXES.map(ere).join('|')})[A-Za-z0-9_.-]*)$`;

const C_LIBRARY_SONAME = new RegExp(C_LIBRARY_PATTERN);

/** True for the C library, its companions and the dynamic loader (never copied into the layer). */
export function isCLibrary(soname: string): boolean {
  return C_LIBRARY_SONAME.test(soname);
}

/** True when the soname is the musl C library or loader (Alpine): such binaries cannot run on glibc. */
export function isMusl(soname: string): boolean {
  return /^(ld-musl-|libc\.musl-)/.test(soname);
}

/**
 * Compares dotted version strings numerically ("2.9" < "2.34").
 * @returns negative, zero or positive like a sort comparator.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The highest `GLIBC_x.y` version a file needs from the C library, or undefined when it needs none. */
export function highestGlibcNeeded(needs: readonly VersionNeed[]): string | undefined {
  let highest: string | undefined;
  for (const need of needs.filter((n) => isCLibrary(n.file))) {
    for (const version of need.versions) {
      const match = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(version);
      if (match && (highest === undefined || compareVersions(match[1], highest) > 0)) highest = match[1];
    }
  }
  return highest;
}

/**
 * Why a file cannot be loaded by the given glibc, one message per problem; empty when it fits.
 * Checks the symbol versions it needs from the C library (`GLIBC_2.35` on a 2.34 system fails with
 * "version `GLIBC_2.35' not found"), and version names a plain versioned check would miss:
 * `GLIBC_PRIVATE` (ties the file to one exact glibc build) and `GLIBC_ABI_DT_RELR` (packed relocations, glibc 2.36+).
 */
export function glibcProblems(needs: readonly VersionNeed[], glibcVersion: string = LAMBDA_GLIBC_VERSION): string[] {
  const problems: string[] = [];
  for (const need of needs.filter((n) => isCLibrary(n.file))) {
    for (const version of need.versions) {
      const match = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(version);
      if (match) {
        if (compareVersions(match[1], glibcVersion) > 0) {
          problems.push(`needs ${version} from ${need.file}, newer than glibc ${glibcVersion}`);
        }
      } else if (version === 'GLIBC_ABI_DT_RELR') {
        if (compareVersions(glibcVersion, '2.36') < 0) {
          problems.push(`needs ${version} (packed relocations) from ${need.file}, which glibc ${glibcVersion} lacks`);
        }
      } else {
        problems.push(`needs ${version} from ${need.file}, which only the exact glibc it was built with provides`);
      }
    }
  }
  return problems;
}

/** {@link glibcProblems} plus the architecture check, for one parsed ELF file. */
export function lambdaProblems(elf: ElfInfo, expectedMachine: number, glibcVersion: string = LAMBDA_GLIBC_VERSION): string[] {
  const problems: string[] = [];
  if (elf.bits !== 64 || !elf.littleEndian || elf.machine !== expectedMachine) {
    problems.push(`built for ${machineName(elf.machine)} (ELF${elf.bits}), not ${machineName(expectedMachine)}`);
  }
  return [...problems, ...glibcProblems(elf.versionNeeds, glibcVersion)];
}
