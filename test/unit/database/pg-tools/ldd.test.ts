import { parseLddOutput } from '../../../../lib/database/pg-tools/ldd';

describe('parseLddOutput', () => {
  it('reads glibc ldd output: vDSO, resolved libraries and the loader', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffd5b3e2000)',
      '\tlibpq.so.5 => /lib/x86_64-linux-gnu/libpq.so.5 (0x00007f1e8b1b1000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1e8aa1e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f1e8b284000)',
      '',
    ].join('\n');
    expect(parseLddOutput(output)).toEqual([
      { name: 'linux-vdso.so.1', notFound: false },
      { name: 'libpq.so.5', path: '/lib/x86_64-linux-gnu/libpq.so.5', notFound: false },
      { name: 'libc.so.6', path: '/lib/x86_64-linux-gnu/libc.so.6', notFound: false },
      { name: 'ld-linux-x86-64.so.2', path: '/lib64/ld-linux-x86-64.so.2', notFound: false },
    ]);
  });

  it('marks libraries the loader cannot find', () => {
    expect(parseLddOutput('\tlibpq.so.5 => not found\n')).toEqual([{ name: 'libpq.so.5', notFound: true }]);
  });

  it('reads paths without a load address (ldd of some loaders and musl)', () => {
    expect(parseLddOutput('\tlibc.musl-x86_64.so.1 => /lib/ld-musl-x86_64.so.1 (0x7f00)\n\t/lib/ld-musl-x86_64.so.1\n')).toEqual([
      { name: 'libc.musl-x86_64.so.1', path: '/lib/ld-musl-x86_64.so.1', notFound: false },
      { name: 'ld-musl-x86_64.so.1', path: '/lib/ld-musl-x86_64.so.1', notFound: false },
    ]);
  });

  it('refuses statically linked files and scripts, which have nothing to resolve', () => {
    expect(() => parseLddOutput('\tnot a dynamic executable\n')).toThrow('ldd: not a dynamic executable');
    expect(() => parseLddOutput('\tstatically linked\n')).toThrow('ldd: statically linked');
  });

  it('refuses lines it does not understand rather than dropping a library', () => {
    expect(() => parseLddOutput('\tsomething odd happened here\n')).toThrow(/cannot read line/);
  });
});
