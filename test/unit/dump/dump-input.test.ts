import { InvalidInput } from '../../../lambda/common/errors';
import { resolveConnection, validateDumpInput } from '../../../lambda/backup/dump-input';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-creds-AbCdEf';

describe('validateDumpInput', () => {
  it('accepts a secret-only target and canonicalizes tiers', () => {
    expect(validateDumpInput({ target: { secretArn: ARN }, databases: ['app', 'billing'], tiers: ['weekly', 'daily', 'daily'] })).toEqual({
      target: { secretArn: ARN, host: undefined, port: undefined, username: undefined, sslMode: 'prefer' },
      databases: ['app', 'billing'],
      tiers: ['daily', 'weekly'],
    });
  });

  it('accepts host/port/username and a port given as digits (CDK endpoint tokens are strings)', () => {
    const input = validateDumpInput({
      target: { secretArn: ARN, host: 'db.example.internal', port: '6543', username: 'backup', sslMode: 'require' },
      databases: ['app'],
      tiers: ['monthly'],
    });
    expect(input.target).toEqual({ secretArn: ARN, host: 'db.example.internal', port: 6543, username: 'backup', sslMode: 'require' });
  });

  it.each([
    [null, /input must be an object/],
    [{ databases: ['a'], tiers: ['daily'] }, /target must be an object/],
    [{ target: { secretArn: 'my-secret' }, databases: ['a'], tiers: ['daily'] }, /target.secretArn must be a Secrets Manager secret ARN/],
    [{ target: { secretArn: ARN, port: 70000, host: 'h' }, databases: ['a'], tiers: ['daily'] }, /target.port must be a port number/],
    [{ target: { secretArn: ARN, port: 5432 }, databases: ['a'], tiers: ['daily'] }, /need target.host/],
    [{ target: { secretArn: ARN, host: 'h; rm -rf' }, databases: ['a'], tiers: ['daily'] }, /target.host must be a host name/],
    [{ target: { secretArn: ARN, sslMode: 'verify-full' }, databases: ['a'], tiers: ['daily'] }, /target.sslMode must be one of/],
    [{ target: { secretArn: ARN, password: 'x' }, databases: ['a'], tiers: ['daily'] }, /target has unknown field\(s\) password/],
    [{ target: { secretArn: ARN }, database: 'a', databases: ['a'], tiers: ['daily'] }, /input has unknown field\(s\) database/],
    [{ target: { secretArn: ARN }, databases: [], tiers: ['daily'] }, /databases must be a non-empty array/],
    [{ target: { secretArn: ARN }, databases: 'app', tiers: ['daily'] }, /databases must be a non-empty array/],
    [{ target: { secretArn: ARN }, databases: ['app', 'app'], tiers: ['daily'] }, /names "app" twice/],
    [{ target: { secretArn: ARN }, databases: ['host=evil'], tiers: ['daily'] }, /databases\[0\] must be 1-63 characters/],
    [{ target: { secretArn: ARN }, databases: [42], tiers: ['daily'] }, /databases\[0\] must be a non-empty string/],
    [{ target: { secretArn: ARN }, databases: ['a'], tiers: [] }, /tiers must be a non-empty array/],
    [{ target: { secretArn: ARN }, databases: ['a'], tiers: ['hourly'] }, /tiers\[0\] must be one of/],
    [{ target: { secretArn: ARN }, databases: Array.from({ length: 51 }, (_, i) => `db${i}`), tiers: ['daily'] }, /at most 50/],
  ])('refuses %j with a message that says what to change', (input, message) => {
    expect(() => validateDumpInput(input)).toThrow(InvalidInput);
    expect(() => validateDumpInput(input)).toThrow(message);
  });
});

describe('resolveConnection', () => {
  const secret = { username: 'app_owner', password: 's3cret', host: 'from-secret', port: 5433 };

  it('takes everything from the secret when the input names only the secret', () => {
    const target = validateDumpInput({ target: { secretArn: ARN }, databases: ['a'], tiers: ['daily'] }).target;
    expect(resolveConnection(target, secret)).toEqual({ host: 'from-secret', port: 5433, user: 'app_owner', password: 's3cret', sslMode: 'prefer' });
  });

  it('lets the input override host, port and username, never the password', () => {
    const target = validateDumpInput({ target: { secretArn: ARN, host: 'proxy', port: 6432, username: 'backup' }, databases: ['a'], tiers: ['daily'] }).target;
    expect(resolveConnection(target, secret)).toEqual({ host: 'proxy', port: 6432, user: 'backup', password: 's3cret', sslMode: 'prefer' });
  });

  it('defaults the port to 5432 and refuses a missing host without echoing the password', () => {
    const target = validateDumpInput({ target: { secretArn: ARN, host: 'h' }, databases: ['a'], tiers: ['daily'] }).target;
    expect(resolveConnection(target, { username: 'u', password: 'p' }).port).toBe(5432);
    const secretOnly = validateDumpInput({ target: { secretArn: ARN }, databases: ['a'], tiers: ['daily'] }).target;
    expect(() => resolveConnection(secretOnly, { username: 'u', password: 'hunter2' })).toThrow(/has no "host"/);
    expect(() => resolveConnection(secretOnly, { username: 'u', password: 'hunter2' })).not.toThrow(/hunter2/);
  });
});
