import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { ELF_MACHINE_AARCH64, ELF_MACHINE_X86_64, isElf, machineName, readElf } from '../../../../lib/database/pg-tools/elf';

interface FakeElf {
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
  readonly machine: number;
  readonly needs: ReadonlyArray<{ file: string; versions: string[] }>;
}

/** Builds a minimal ELF file: a null section, a string table and a .gnu.version_r section. */
function buildElf(spec: FakeElf): Buffer {
  const le = spec.littleEndian;
  const is64 = spec.bits === 64;
  const headerSize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;

  const strings: string[] = [''];
  const offsets = new Map<string, number>();
  let strSize = 1;
  const str = (s: string): number => {
    if (!offsets.has(s)) {
      offsets.set(s, strSize);
      strings.push(s);
      strSize += Buffer.byteLength(s) + 1;
    }
    return offsets.get(s)!;
  };
  const verneed: Array<{ file: number; names: number[] }> = spec.needs.map((n) => ({ file: str(n.file), names: n.versions.map(str) }));
  const strtab = Buffer.from(strings.join('\0') + '\0', 'latin1');

  const verneedSize = verneed.reduce((sum, n) => sum + 16 + 16 * n.names.length, 0);
  const strtabOffset = headerSize;
  const verneedOffset = strtabOffset + strtab.length;
  const shoff = verneedOffset + verneedSize;
  const buf = Buffer.alloc(shoff + 3 * shentsize);
  const u16 = (at: number, v: number) => (le ? buf.writeUInt16LE(v, at) : buf.writeUInt16BE(v, at));
  const u32 = (at: number, v: number) => (le ? buf.writeUInt32LE(v, at) : buf.writeUInt32BE(v, at));
  const addr = (at: number, v: number) =>
    is64 ? (le ? buf.writeBigUInt64LE(BigInt(v), at) : buf.writeBigUInt64BE(BigInt(v), at)) : u32(at, v);

  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  u16(16, 3);
  u16(18, spec.machine);
  u32(20, 1);
  addr(is64 ? 40 : 32, shoff);
  u16(is64 ? 52 : 40, headerSize);
  u16(is64 ? 58 : 46, shentsize);
  u16(is64 ? 60 : 48, 3);

  strtab.copy(buf, strtabOffset);
  let at = verneedOffset;
  verneed.forEach((need, i) => {
    const size = 16 + 16 * need.names.length;
    u16(at, 1);
    u16(at + 2, need.names.length);
    u32(at + 4, need.file);
    u32(at + 8, 16);
    u32(at + 12, i === verneed.length - 1 ? 0 : size);
    need.names.forEach((name, j) => {
      const aux = at + 16 + 16 * j;
      u32(aux + 8, name);
      u32(aux + 12, j === need.names.length - 1 ? 0 : 16);
    });
    at += size;
  });

  const section = (index: number, type: number, offset: number, size: number, link: number, info: number) => {
    const sh = shoff + index * shentsize;
    u32(sh + 4, type);
    if (is64) {
      addr(sh + 24, offset);
      addr(sh + 32, size);
      u32(sh + 40, link);
      u32(sh + 44, info);
    } else {
      u32(sh + 16, offset);
      u32(sh + 20, size);
      u32(sh + 24, link);
      u32(sh + 28, info);
    }
  };
  section(1, 3, strtabOffset, strtab.length, 0, 0);
  section(2, 0x6ffffffe, verneedOffset, verneedSize, 1, verneed.length);
  return buf;
}

const NEEDS = [
  { file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.34'] },
  { file: 'libssl.so.3', versions: ['OPENSSL_3.0.0'] },
];

describe('readElf', () => {
  it.each([
    [64, true],
    [64, false],
    [32, true],
  ] as const)('reads the machine and the version needs of an ELF%i file (little endian: %s)', (bits, littleEndian) => {
    const info = readElf(buildElf({ bits, littleEndian, machine: ELF_MACHINE_X86_64, needs: NEEDS }));
    expect(info).toEqual({ bits, littleEndian, machine: ELF_MACHINE_X86_64, versionNeeds: NEEDS });
  });

  it('reports the architecture it was built for', () => {
    expect(readElf(buildElf({ bits: 64, littleEndian: true, machine: ELF_MACHINE_AARCH64, needs: [] })).machine).toBe(ELF_MACHINE_AARCH64);
    expect(machineName(ELF_MACHINE_AARCH64)).toBe('arm64');
    expect(machineName(ELF_MACHINE_X86_64)).toBe('x86_64');
  });

  it('returns no version needs for a file without a .gnu.version_r section', () => {
    const elf = buildElf({ bits: 64, littleEndian: true, machine: ELF_MACHINE_X86_64, needs: [] });
    expect(readElf(elf).versionNeeds).toEqual([]);
  });

  it('refuses what is not ELF and what is truncated', () => {
    expect(() => readElf(Buffer.from('#!/usr/bin/perl\n'))).toThrow('not an ELF file');
    expect(isElf(Buffer.from('#!/bin/sh'))).toBe(false);
    const elf = buildElf({ bits: 64, littleEndian: true, machine: ELF_MACHINE_X86_64, needs: NEEDS });
    expect(() => readElf(elf.subarray(0, elf.length - 30))).toThrow(/truncated ELF file/);
  });

  it.each(['/usr/lib/postgresql/15/bin/pg_dump', '/lib/x86_64-linux-gnu/libpq.so.5'])(
    'agrees with objdump -p on the Version References of %s',
    (file) => {
      const objdump = execFileSync('objdump', ['-p', file], { encoding: 'utf8' }).split('Version References:')[1];
      const expected: Array<{ file: string; versions: string[] }> = [];
      for (const line of objdump.split('\n')) {
        const from = /required from (\S+):/.exec(line);
        const version = /^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)/.exec(line);
        if (from) expected.push({ file: from[1], versions: [] });
        else if (version) expected[expected.length - 1].versions.push(version[1]);
      }
      const sorted = (needs: ReadonlyArray<{ file: string; versions: readonly string[] }>) =>
        needs.map((n) => ({ file: n.file, versions: [...n.versions].sort() })).sort((a, b) => a.file.localeCompare(b.file));
      expect(expected.length).toBeGreaterThan(0);
      expect(sorted(readElf(fs.readFileSync(file)).versionNeeds)).toEqual(sorted(expected));
    },
  );
});
