/**
 * A minimal ELF reader: just enough to tell whether a file is a native executable or library for the Lambda
 * architecture and which symbol versions it needs from which shared library (the `.gnu.version_r` section, what
 * `objdump -p` prints under "Version References"). Pure: it reads a buffer, never the file system, so it needs no
 * binutils on the synth machine.
 */

/** `e_machine` values this project cares about. */
export const ELF_MACHINE_X86_64 = 62;
export const ELF_MACHINE_AARCH64 = 183;

const SHT_GNU_VERNEED = 0x6ffffffe;
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** The symbol versions one ELF file needs from one shared library, e.g. `libc.so.6` → `GLIBC_2.34`. */
export interface VersionNeed {
  /** Soname of the library the versions are needed from. */
  readonly file: string;
  /** Version names, e.g. `GLIBC_2.2.5`, `GLIBC_2.34`, `OPENSSL_3.0.0`. */
  readonly versions: readonly string[];
}

/** What {@link readElf} found. */
export interface ElfInfo {
  /** 64 for ELFCLASS64, 32 for ELFCLASS32. */
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
  /** `e_machine`, e.g. {@link ELF_MACHINE_X86_64}. */
  readonly machine: number;
  /** Empty when the file needs no versioned symbols (or is statically linked). */
  readonly versionNeeds: readonly VersionNeed[];
}

/** True when the buffer starts with the ELF magic number. */
export function isElf(data: Uint8Array): boolean {
  return data.length >= 4 && ELF_MAGIC.every((byte, i) => data[i] === byte);
}

/** Human name of an `e_machine` value, for messages. */
export function machineName(machine: number): string {
  switch (machine) {
    case ELF_MACHINE_X86_64:
      return 'x86_64';
    case ELF_MACHINE_AARCH64:
      return 'arm64';
    case 3:
      return 'i386';
    default:
      return `ELF machine ${machine}`;
  }
}

/**
 * Reads the header and the version-needs section of an ELF file.
 *
 * @throws Error when the buffer is not a well-formed ELF file.
 */
export function readElf(data: Buffer): ElfInfo {
  if (!isElf(data)) throw new Error('not an ELF file');
  const elfClass = data[4];
  const encoding = data[5];
  if (elfClass !== 1 && elfClass !== 2) throw new Error(`unknown ELF class ${elfClass}`);
  if (encoding !== 1 && encoding !== 2) throw new Error(`unknown ELF data encoding ${encoding}`);
  const bits = elfClass === 2 ? 64 : 32;
  const le = encoding === 1;
  const reader = new Reader(data, le, bits);

  const machine = reader.u16(18);
  const shoff = bits === 64 ? reader.addr(40) : reader.addr(32);
  const shentsize = reader.u16(bits === 64 ? 58 : 46);
  const shnum = reader.u16(bits === 64 ? 60 : 48);

  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    sections.push(reader.section(shoff + i * shentsize));
  }

  const versionNeeds: VersionNeed[] = [];
  for (const section of sections.filter((s) => s.type === SHT_GNU_VERNEED)) {
    const strtab = sections[section.link];
    if (!strtab) throw new Error(`version-needs section links to missing string table ${section.link}`);
    let entry = section.offset;
    for (let n = 0; n < section.info; n++) {
      const count = reader.u16(entry + 2);
      const file = reader.cstring(strtab.offset + reader.u32(entry + 4));
      const versions: string[] = [];
      let aux = entry + reader.u32(entry + 8);
      for (let a = 0; a < count; a++) {
        versions.push(reader.cstring(strtab.offset + reader.u32(aux + 8)));
        const nextAux = reader.u32(aux + 12);
        if (nextAux === 0) break;
        aux += nextAux;
      }
      versionNeeds.push({ file, versions });
      const next = reader.u32(entry + 12);
      if (next === 0) break;
      entry += next;
    }
  }
  return { bits, littleEndian: le, machine, versionNeeds };
}

interface Section {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
}

class Reader {
  constructor(
    private readonly data: Buffer,
    private readonly le: boolean,
    private readonly bits: 32 | 64,
  ) {}

  u16(at: number): number {
    this.check(at, 2);
    return this.le ? this.data.readUInt16LE(at) : this.data.readUInt16BE(at);
  }

  u32(at: number): number {
    this.check(at, 4);
    return this.le ? this.data.readUInt32LE(at) : this.data.readUInt32BE(at);
  }

  /** An address or offset field: 8 bytes in ELF64, 4 in ELF32. */
  addr(at: number): number {
    if (this.bits === 32) return this.u32(at);
    this.check(at, 8);
    const value = this.le ? this.data.readBigUInt64LE(at) : this.data.readBigUInt64BE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`ELF offset ${value} out of range`);
    return Number(value);
  }

  section(at: number): Section {
    if (this.bits === 64) {
      return { type: this.u32(at + 4), offset: this.addr(at + 24), size: this.addr(at + 32), link: this.u32(at + 40), info: this.u32(at + 44) };
    }
    return { type: this.u32(at + 4), offset: this.u32(at + 16), size: this.u32(at + 20), link: this.u32(at + 24), info: this.u32(at + 28) };
  }

  cstring(at: number): string {
    this.check(at, 1);
    const end = this.data.indexOf(0, at);
    if (end < 0) throw new Error(`unterminated string at ELF offset ${at}`);
    return this.data.toString('latin1', at, end);
  }

  private check(at: number, length: number): void {
    if (at < 0 || at + length > this.data.length) {
      throw new Error(`truncated ELF file: offset ${at}+${length} beyond ${this.data.length} bytes`);
    }
  }
}
