/** Argument parsing, usage errors and exit codes of every command, without AWS or PostgreSQL. */
import { parseCompressionOption, parseTiers } from '../../../cli/commands/backup';
import { selectionOf } from '../../../cli/commands/restore';
import { EXIT, exitCodeFor, NotFound, UsageError } from '../../../cli/io';
import { COMMANDS, main } from '../../../cli/main';
import { confirmed } from '../../../cli/run-workflow';
import { workflowOfComment } from '../../../cli/stack';
import { BackupNotFound, InvalidInput } from '../../../lambda/common/errors';
import { capture } from './support';

const manifestKey = 'postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json';

describe('main', () => {
  it('lists every command and the exit codes on --help, exit 0; no command is a usage error, exit 2', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    for (const name of ['backup', 'restore', 'verify', 'list', 'status', 'drill', 'failover', 'cleanup', 'cost']) {
      expect(io.out()).toMatch(new RegExp(`\\n  ${name} +\\S`));
    }
    expect(io.out()).toContain('Exit codes: 0 ok, 1 failed run or check, 2 usage error, 3 not found');
    const nothing = capture();
    expect(await main([], nothing)).toBe(EXIT.usage);
    expect(nothing.err()).toContain('Usage: cdk-backup-dr <command>');
  });

  it.each(COMMANDS.map((c) => [c.name]))('%s --help prints its usage with the exit codes, exit 0', async (name) => {
    const io = capture();
    expect(await main([name, '--help'], io)).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^Usage: cdk-backup-dr ${name} `));
    expect(io.out()).toContain('Exit codes:');
    expect(io.out()).toContain('--json');
  });

  it('exits 2 with the message and the usage on an unknown command or option', async () => {
    const unknownCommand = capture();
    expect(await main(['restroe'], unknownCommand)).toBe(EXIT.usage);
    expect(unknownCommand.err()).toMatch(/^error: unknown command "restroe"/);
    const unknownOption = capture();
    expect(await main(['list', '--bukcet', 'b'], unknownOption)).toBe(EXIT.usage);
    expect(unknownOption.err()).toMatch(/^error: Unknown option '--bukcet'[\s\S]*Usage: cdk-backup-dr list/);
  });

  it.each([
    [['backup', '--bucket', 'b', '--database-url', 'postgres://u:secret-pw@h/db'], /^error: --source is required\n\nUsage: cdk-backup-dr backup/],
    [['backup', '--bucket', 'b', '--source', 's', '--tiers', 'hourly'], /--tiers must be a comma-separated list/],
    [['restore', '--manifest-key', manifestKey], /--bucket is required/],
    [['restore', '--bucket', 'b'], /--manifest-key is required/],
    [['restore', '--bucket', 'b', '--manifest-key', manifestKey.replace('.manifest.json', '.dump')], /--manifest-key must be a key ending in \.manifest\.json/],
    [['restore', '--bucket', 'b', '--manifest-key', manifestKey, '--jobs', '0'], /--jobs must be a whole number from 1 to 64/],
    [['restore', '--bucket', 'b', '--manifest-key', manifestKey, '--table', 'a.b.c'], /--table "a\.b\.c" has 3 parts/],
    [['verify', '--bucket', 'b'], /name the backup: --manifest-key KEY or --latest/],
    [['verify', '--bucket', 'b', '--latest', '--manifest-key', manifestKey], /not both/],
    [['verify', '--latest'], /--bucket or --stack is required/],
    [['list'], /--bucket or --stack is required/],
    [['list', '--bucket', 'b', '--limit', '0'], /--limit must be a whole number from 1 to 1000/],
    [['status'], /--bucket or --stack is required/],
    [['status', '--stack', 's', '--rpo', '1 day'], /--rpo must be a duration such as 90s, 15m, 26h or 7d/],
    [['drill'], /--stack is required/],
    [['drill', '--stack', 's', '--kind', 'pitr'], /--kind must be dump or snapshot/],
    [['drill', '--stack', 's', '--manifest-key', manifestKey, '--snapshot-id', 'x'], /not both/],
    [['failover', '--stack', 's'], /--strategy is required: one of promote-replica, restore-snapshot, restore-dump, point-in-time/],
    [['failover', '--stack', 's', '--strategy', 'restore-dump', '--dry-run'], /--reason must be a non-empty string/],
    [['failover', '--stack', 's', '--strategy', 'teleport', '--reason', 'x'], /strategy must be one of/],
    [['failover', '--stack', 's', '--strategy', 'restore-dump', '--reason', 'x', '--target-time', '2024-01-01T00:00:00Z'], /targetTime/],
    [['cleanup', '--stack', 's', '--target', 'both'], /--target must be primary or replica/],
    [['cleanup', '--stack', 's', '--dry-run', '--yes'], /not both/],
    [['cost'], /--dump-size is required/],
    [['cost', '--dump-size=-3'], /--dump-size must be a number of 0 or more/],
    [['cost', '--dump-size', '10', '--glacier-after', '20'], /the lifecycle days must grow/],
    [['cost', '--dump-size', '10', '--daily', '0', '--weekly', '0', '--monthly', '0'], /the retention keeps nothing/],
    [['cost', '--dump-size', '1', '--prices', '/no/such/prices.json'], /--prices \/no\/such\/prices\.json cannot be read as JSON/],
  ])('refuses %j with exit 2 before touching AWS or the database', async (argv, message) => {
    const io = capture({ PGPASSWORD: 'pw', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    expect(await main(argv, io)).toBe(EXIT.usage);
    expect(io.err()).toMatch(message);
    expect(io.err()).not.toContain('secret-pw');
    expect(io.out()).toBe('');
  });

  it('confirmation: --yes goes ahead, the terminal answer decides, and without a terminal --yes is required', async () => {
    await expect(confirmed(capture(), false, 'REAL failover?')).rejects.toThrow(/there is no terminal to confirm on; pass --yes/);
    expect(await confirmed(capture(), true, 'REAL failover?')).toBe(true);
    expect(await confirmed(capture({}, { confirm: async () => false }), false, 'REAL failover?')).toBe(false);
  });
});

describe('exitCodeFor', () => {
  const aws = (name: string, status?: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  it.each([
    [new UsageError('x'), EXIT.usage],
    [new InvalidInput('x'), EXIT.usage],
    [Object.assign(new TypeError('bad'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }), EXIT.usage],
    [new NotFound('x'), EXIT.notFound],
    [aws('NoSuchBucket', 404), EXIT.notFound],
    [new Error('Stack with id nope does not exist'), EXIT.notFound],
    [aws('AccessDenied', 403), EXIT.aws],
    [aws('ExpiredToken', 400), EXIT.aws],
    [aws('CredentialsProviderError'), EXIT.aws],
    [new Error('Region is missing'), EXIT.aws],
    [new BackupNotFound('none'), EXIT.failed],
    [new Error('pg_restore exited 1'), EXIT.failed],
  ])('%s → %d', (error, code) => {
    expect(exitCodeFor(error)).toBe(code);
  });

  it('is 130 whatever the error once the run was interrupted', () => {
    const controller = new AbortController();
    controller.abort();
    expect(exitCodeFor(new Error('aborted'), controller.signal)).toBe(EXIT.interrupted);
  });
});

describe('option helpers', () => {
  it('parseTiers canonicalizes and refuses unknown tiers', () => {
    expect(parseTiers('weekly, daily,weekly')).toEqual(['daily', 'weekly']);
    expect(() => parseTiers(',')).toThrow(UsageError);
  });

  it('parseCompressionOption reads none and method:level, and says what to give otherwise', () => {
    expect(parseCompressionOption('none')).toEqual({ method: 'gzip', level: 0 });
    expect(parseCompressionOption('gzip:1')).toEqual({ method: 'gzip', level: 1 });
    expect(() => parseCompressionOption('gzip:11')).toThrow(new UsageError('--compression level for gzip must be a whole number from 0 to 9; got 11'));
    expect(() => parseCompressionOption('max')).toThrow(UsageError);
  });

  it('selectionOf reads --schema and --table (quoted parts keep dots and case)', () => {
    expect(selectionOf(undefined, undefined)).toBeUndefined();
    expect(selectionOf(['app'], ['"my.schema"."Orders"', 'items'])).toEqual({
      schemas: ['app'],
      tables: [{ schema: 'my.schema', name: 'Orders' }, { name: 'items' }],
    });
  });

  it('workflowOfComment reads the workflow from a state machine comment of this package only', () => {
    expect(workflowOfComment('cdk-backup-dr recovery test (dump): pick, restore into scratch, verify')).toEqual({ workflow: 'recovery-test', detail: 'dump' });
    expect(workflowOfComment('cdk-backup-dr failover (promote-replica, restore-dump): validate')).toEqual({ workflow: 'failover', detail: 'promote-replica, restore-dump' });
    expect(workflowOfComment('cdk-backup-dr backup: dump + verify')).toEqual({ workflow: 'backup' });
    expect(workflowOfComment('cdk-backup-dr retention cleanup: GFS over dumps and snapshots')).toEqual({ workflow: 'cleanup' });
    expect(workflowOfComment('my own machine')).toBeUndefined();
    expect(workflowOfComment(undefined)).toBeUndefined();
  });
});
