import { InvalidInput } from '../../../lambda/common/errors';
import { resolveConnection, validateDumpInput } from '../../../lambda/backup/dump-input';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-creds-AbCdEf';

describe('validateDumpInput', () => {
  it('accepts a secret-only target and canonicalizes tiers', () => {
    expect(validateDumpInput({ target: { secretArn: ARN }, database: 'app', tiers: ['weekly', 'daily', 'daily'] })).toEqual({
      target: { secretArn: ARN, host: undefined, port: undefined, username: undefined, sslMode: 'verify-full' },
      database: 'app',
      tiers: ['daily', 'weekly'],
      compression: { method: 'gzip', level: 3 },
      parallelism: 1,
    });
  });

  it.each([
    ['none', { method: 'gzip', level: 0 }],
    ['gzip:9', { method: 'gzip', level: 9 }],
    // The pg_dump's version is checked by the core once known: the input only checks the form and the range.
    ['zstd:19', { method: 'zstd', level: 19 }],
  ])('takes compression %s', (compression, parsed) => {
    expect(validateDumpInput({ target: { secretArn: ARN }, database: 'app', tiers: ['daily'], compression }).compression).toEqual(parsed);
  });

  it.each([
    ['gzip:10', 'compression level for gzip must be a whole number from 0 to 9; got 10'],
    ['lz4:0', 'compression level for lz4 must be a whole number from 1 to 12; got 0'],
    ['brotli:3', 'compression method must be one of gzip, zstd, lz4; got "brotli"'],
    ['gzip', 'compression must be "none" or <method>:<level> with method gzip (0-9), zstd (1-22) or lz4 (1-12), e.g. "gzip:3"; got "gzip"'],
    [3, 'compression must be a non-empty string; got number 3'],
  ])('refuses compression %j, saying what to give', (compression, message) => {
    expect(() => validateDumpInput({ target: { secretArn: ARN }, database: 'app', tiers: ['daily'], compression })).toThrow(
      new InvalidInput(message),
    );
  });

  it('accepts host/port/username and a port given as digits (CDK endpoint tokens are strings)', () => {
    const input = validateDumpInput({
      target: { secretArn: ARN, host: 'db.example.internal', port: '6543', username: 'backup', sslMode: 'require' },
      database: 'app',
      tiers: ['monthly'],
    });
    expect(input.target).toEqual({ secretArn: ARN, host: 'db.example.internal', port: 6543, username: 'backup', sslMode: 'require' });
  });

  it.each([
    [null, /input must be an object/],
    [{ database: 'a', tiers: ['daily'] }, /target must be an object/],
    [{ target: { secretArn: 'my-secret' }, database: 'a', tiers: ['daily'] }, /target.secretArn must be a Secrets Manager secret ARN/],
    [{ target: { secretArn: ARN, port: 70000, host: 'h' }, database: 'a', tiers: ['daily'] }, /target.port must be a port number/],
    [{ target: { secretArn: ARN, port: 5432 }, database: 'a', tiers: ['daily'] }, /need target.host/],
    [{ target: { secretArn: ARN, host: 'h; rm -rf' }, database: 'a', tiers: ['daily'] }, /target.host must be a host name/],
    [{ target: { secretArn: ARN, sslMode: 'prefer' }, database: 'a', tiers: ['daily'] }, /target.sslMode must be one of 'verify-full', 'verify-ca', 'require', 'disable'/],
    [{ target: { secretArn: ARN, password: 'x' }, database: 'a', tiers: ['daily'] }, /target has unknown field\(s\) password/],
    [{ target: { secretArn: ARN }, database: 'a', databases: ['a'], tiers: ['daily'] }, /input has unknown field\(s\) databases/],
    [{ target: { secretArn: ARN }, database: ['app'], tiers: ['daily'] }, /database must be a non-empty string/],
    [{ target: { secretArn: ARN }, database: 'host=evil', tiers: ['daily'] }, /database must be 1-63 characters/],
    [{ target: { secretArn: ARN }, database: 42, tiers: ['daily'] }, /database must be a non-empty string/],
    [{ target: { secretArn: ARN }, database: 'a', tiers: [] }, /tiers must be a non-empty array/],
    [{ target: { secretArn: ARN }, database: 'a', tiers: ['hourly'] }, /tiers\[0\] must be one of/],
  ])('refuses %j with a message that says what to change', (input, message) => {
    expect(() => validateDumpInput(input)).toThrow(InvalidInput);
    expect(() => validateDumpInput(input)).toThrow(message);
  });
});

describe('resolveConnection', () => {
  const secret = { username: 'app_owner', password: 's3cret', host: 'from-secret', port: 5433 };

  it('takes everything from the secret when the input names only the secret', () => {
    const target = validateDumpInput({ target: { secretArn: ARN }, database: 'a', tiers: ['daily'] }).target;
    expect(resolveConnection(target, secret)).toEqual({ host: 'from-secret', port: 5433, user: 'app_owner', password: 's3cret', sslMode: 'verify-full' });
  });

  it('lets the input override host, port and username, never the password', () => {
    const target = validateDumpInput({ target: { secretArn: ARN, host: 'proxy', port: 6432, username: 'backup' }, database: 'a', tiers: ['daily'] }).target;
    expect(resolveConnection(target, secret)).toEqual({ host: 'proxy', port: 6432, user: 'backup', password: 's3cret', sslMode: 'verify-full' });
  });

  it('defaults the port to 5432 and refuses a missing host without echoing the password', () => {
    const target = validateDumpInput({ target: { secretArn: ARN, host: 'h' }, database: 'a', tiers: ['daily'] }).target;
    expect(resolveConnection(target, { username: 'u', password: 'p' }).port).toBe(5432);
    const secretOnly = validateDumpInput({ target: { secretArn: ARN }, database: 'a', tiers: ['daily'] }).target;
    expect(() => resolveConnection(secretOnly, { username: 'u', password: 'hunter2' })).toThrow(/has no "host"/);
    expect(() => resolveConnection(secretOnly, { username: 'u', password: 'hunter2' })).not.toThrow(/hunter2/);
  });
});
