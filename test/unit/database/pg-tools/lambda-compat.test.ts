import { spawnSync } from 'child_process';
import { ELF_MACHINE_AARCH64, ELF_MACHINE_X86_64 } from '../../../../lib/database/pg-tools/elf';
import {
  C_LIBRARY_PATTERN,
  compareVersions,
  glibcProblems,
  highestGlibcNeeded,
  isCLibrary,
  isMusl,
  lambdaProblems,
  LAMBDA_GLIBC_VERSION,
} from '../../../../lib/database/pg-tools/lambda-compat';

const C_LIBRARY = [
  'libc.so.6', 'libm.so.6', 'libmvec.so.1', 'libpthread.so.0', 'libdl.so.2', 'librt.so.1', 'libresolv.so.2',
  'libutil.so.1', 'libanl.so.1', 'libthread_db.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1',
  'linux-vdso.so.1', 'ld-musl-x86_64.so.1', 'libc.musl-x86_64.so.1', 'libc.so',
];
const BUNDLED = [
  'libpq.so.5', 'libcrypto.so.3', 'libssl.so.3', 'libz.so.1', 'libcom_err.so.2', 'libcrypt.so.1', 'libnsl.so.2',
  'libreadline.so.8', 'libldap-2.5.so.0', 'libmagic.so.1', 'libmount.so.1', 'librtmp.so.1', 'libcap.so.2',
  'libdlt.so.2', 'libm4ri.so.0', 'libstdc++.so.6', 'libgcc_s.so.1',
];

describe('the C-library rule', () => {
  it.each(C_LIBRARY)('never ships %s', (name) => expect(isCLibrary(name)).toBe(true));
  it.each(BUNDLED)('ships %s', (name) => expect(isCLibrary(name)).toBe(false));

  it('means the same in grep -E (the Docker script) as in JavaScript', () => {
    const names = [...C_LIBRARY, ...BUNDLED];
    const grep = spawnSync('grep', ['-E', C_LIBRARY_PATTERN], { input: names.join('\n') + '\n', encoding: 'utf8' });
    expect(grep.status).toBe(0);
    expect(grep.stdout.trim().split('\n')).toEqual(names.filter(isCLibrary));
  });

  it('recognises musl', () => {
    expect(isMusl('libc.musl-x86_64.so.1')).toBe(true);
    expect(isMusl('libc.so.6')).toBe(false);
  });
});

describe('glibc compatibility', () => {
  it('compares versions numerically', () => {
    expect(compareVersions('2.9', '2.34')).toBeLessThan(0);
    expect(compareVersions('2.34', '2.34')).toBe(0);
    expect(compareVersions('2.35', '2.34')).toBeGreaterThan(0);
    expect(compareVersions('2.2.5', '2.2')).toBeGreaterThan(0);
  });

  it('targets Amazon Linux 2023', () => {
    expect(LAMBDA_GLIBC_VERSION).toBe('2.34');
  });

  it('accepts what 2.34 provides and names what it does not', () => {
    const fits = [{ file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.34'] }];
    expect(glibcProblems(fits)).toEqual([]);
    const tooNew = [
      { file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.38'] },
      { file: 'libm.so.6', versions: ['GLIBC_2.35'] },
    ];
    expect(glibcProblems(tooNew)).toEqual([
      'needs GLIBC_2.38 from libc.so.6, newer than glibc 2.34',
      'needs GLIBC_2.35 from libm.so.6, newer than glibc 2.34',
    ]);
    expect(highestGlibcNeeded(tooNew)).toBe('2.38');
  });

  it('flags GLIBC_PRIVATE and packed relocations, which a plain version compare would miss', () => {
    expect(glibcProblems([{ file: 'ld-linux-x86-64.so.2', versions: ['GLIBC_PRIVATE'] }])).toEqual([
      'needs GLIBC_PRIVATE from ld-linux-x86-64.so.2, which only the exact glibc it was built with provides',
    ]);
    expect(glibcProblems([{ file: 'libc.so.6', versions: ['GLIBC_ABI_DT_RELR'] }])).toHaveLength(1);
    expect(glibcProblems([{ file: 'libc.so.6', versions: ['GLIBC_ABI_DT_RELR'] }], '2.36')).toEqual([]);
  });

  it('ignores versions needed from bundled libraries', () => {
    expect(glibcProblems([{ file: 'libssl.so.3', versions: ['OPENSSL_3.9.0'] }])).toEqual([]);
    expect(highestGlibcNeeded([{ file: 'libssl.so.3', versions: ['OPENSSL_3.0.0'] }])).toBeUndefined();
  });

  it('rejects another architecture', () => {
    const arm = { bits: 64 as const, littleEndian: true, machine: ELF_MACHINE_AARCH64, versionNeeds: [] };
    expect(lambdaProblems(arm, ELF_MACHINE_X86_64)).toEqual(['built for arm64 (ELF64), not x86_64']);
    expect(lambdaProblems({ ...arm, machine: ELF_MACHINE_X86_64 }, ELF_MACHINE_X86_64)).toEqual([]);
  });
});
