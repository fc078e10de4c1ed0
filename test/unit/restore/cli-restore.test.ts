import { restoreCommand, UsageError, type CliIo } from '../../../bin/cli';

function capture(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string } {
  let out = '';
  return { env, stdout: (t) => (out += t), stderr: () => undefined, out: () => out };
}

const manifestKey = 'postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json';
const base = ['--bucket', 'b', '--manifest-key', manifestKey, '--database-url', 'postgres://u@h/app_restore'];

describe('cli restore', () => {
  it('prints its options on --help', async () => {
    const io = capture();
    expect(await restoreCommand.run(['--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: cli restore --bucket BUCKET --manifest-key KEY --database-url URL');
    expect(io.out()).toContain('--create-database');
  });

  it.each([
    [['--manifest-key', manifestKey, '--database-url', 'postgres://u:p@h/x'], '--bucket is required'],
    [['--bucket', 'b', '--database-url', 'postgres://u:p@h/x'], '--manifest-key is required'],
    [['--bucket', 'b', '--manifest-key', manifestKey.replace('.manifest.json', '.dump'), '--database-url', 'postgres://u:p@h/x'], '--manifest-key must be a key ending in .manifest.json'],
    [['--bucket', 'b', '--manifest-key', manifestKey], '--database-url is required'],
    [[...base, '--jobs', '0'], '--jobs must be a whole number from 1 to 64'],
    [[...base, '--jobs', 'two'], '--jobs must be a whole number from 1 to 64'],
  ])('refuses a bad command line (%#)', async (args, message) => {
    const run = restoreCommand.run(args, capture({ PGPASSWORD: 'pw' }));
    await expect(run).rejects.toThrow(UsageError);
    await expect(restoreCommand.run(args, capture({ PGPASSWORD: 'pw' }))).rejects.toThrow(message);
  });

  it('refuses unknown options', async () => {
    await expect(restoreCommand.run([...base, '--force'], capture({ PGPASSWORD: 'pw' }))).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });
});
