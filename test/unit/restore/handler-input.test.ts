import { deadlineSignal, parseRestoreInput } from '../../../lambda/restore/restore.handler';
import { parseRestoreVerifyInput } from '../../../lambda/restore/restore-verify.handler';
import { InvalidInput } from '../../../lambda/common/errors';

const manifestKey = 'postgres/prod/app/2024/05/01/20240501T020000.000Z.manifest.json';
const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:scratch-AbCdEf';
const target = { secretArn, host: 'scratch.internal', port: 5432, database: 'app_restore' };

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as Error).name).toBe('InvalidInput');
    return (error as Error).message;
  }
  throw new Error('expected InvalidInput');
}

describe('parseRestoreInput', () => {
  it('accepts a complete input', () => {
    expect(parseRestoreInput({ manifestKey, target, createDatabase: true, jobs: 2, restoreRoles: true })).toEqual({
      manifestKey,
      target: { secretArn, host: 'scratch.internal', port: 5432, database: 'app_restore', sslMode: undefined },
      createDatabase: true,
      jobs: 2,
      restoreRoles: true,
    });
  });

  it('refuses a restoreRoles that is not a boolean', () => {
    expect(invalid(() => parseRestoreInput({ manifestKey, target, restoreRoles: 'yes' }))).toContain('restoreRoles must be true or false; got "yes"');
  });

  it('accepts a target with only the secret and the database', () => {
    expect(parseRestoreInput({ manifestKey, target: { secretArn, database: 'x' } }).target).toEqual({
      secretArn,
      host: undefined,
      port: undefined,
      database: 'x',
      sslMode: undefined,
    });
  });

  it('refuses a dump key where the manifest key belongs', () => {
    expect(invalid(() => parseRestoreInput({ manifestKey: manifestKey.replace('.manifest.json', '.dump'), target }))).toContain(
      'manifestKey must be a manifest key',
    );
  });

  it('refuses a secret name instead of an ARN', () => {
    expect(invalid(() => parseRestoreInput({ manifestKey, target: { ...target, secretArn: 'scratch' } }))).toContain(
      'target.secretArn must be a Secrets Manager secret ARN',
    );
  });

  it.each([
    [{ ...target, port: 70000 }, 'target.port must be a whole number from 1 to 65535'],
    [{ ...target, port: '5432' }, 'target.port must be a finite number'],
    [{ ...target, database: 'bad name' }, 'target.database must be 1-63 characters'],
    [{ ...target, database: undefined }, 'target.database must be a non-empty string'],
    [{ ...target, sslMode: 'prefer' }, "target.sslMode must be one of 'verify-full', 'verify-ca', 'require', 'disable'"],
    [{ ...target, sslRootCertSecretArn: 'ca.pem' }, 'target.sslRootCertSecretArn must be a Secrets Manager secret ARN'],
  ])('refuses a bad target field (%#)', (badTarget, message) => {
    expect(invalid(() => parseRestoreInput({ manifestKey, target: badTarget }))).toContain(message);
  });

  it('refuses a non-boolean createDatabase and a bad jobs', () => {
    expect(invalid(() => parseRestoreInput({ manifestKey, target, createDatabase: 'yes' }))).toContain('createDatabase must be true or false');
    expect(invalid(() => parseRestoreInput({ manifestKey, target, jobs: 0 }))).toContain('jobs must be a whole number from 1 to 64');
  });

  it('refuses a non-object', () => {
    expect(invalid(() => parseRestoreInput('go'))).toContain('input must be an object');
  });
});

describe('parseRestoreVerifyInput', () => {
  it('accepts validation queries and throwOnFailure', () => {
    const parsed = parseRestoreVerifyInput({
      manifestKey,
      target,
      validationQueries: [{ name: 'orders', sql: 'SELECT true' }],
      throwOnFailure: false,
    });
    expect(parsed.validationQueries).toEqual([{ name: 'orders', sql: 'SELECT true' }]);
    expect(parsed.throwOnFailure).toBe(false);
  });

  it('refuses validation queries that are not an array of { name, sql }', () => {
    expect(invalid(() => parseRestoreVerifyInput({ manifestKey, target, validationQueries: 'SELECT true' }))).toContain(
      'validationQueries must be an array',
    );
    expect(invalid(() => parseRestoreVerifyInput({ manifestKey, target, validationQueries: ['SELECT true'] }))).toContain(
      'validationQueries[0] must be an object',
    );
    expect(
      invalid(() =>
        parseRestoreVerifyInput({ manifestKey, target, validationQueries: [{ name: 'a', sql: 'SELECT true' }, { name: 'a', sql: 'x' }] }),
      ),
    ).toContain('is used twice');
  });
});

describe('deadlineSignal', () => {
  it('never fires without a Lambda context', () => {
    const { signal, clear } = deadlineSignal(undefined);
    expect(signal.aborted).toBe(false);
    clear();
  });

  it('fires the margin before the deadline', async () => {
    const { signal, clear } = deadlineSignal({ getRemainingTimeInMillis: () => 30_000 }, 30_000);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toContain('about to time out');
    clear();
  });

  it('does not fire once cleared', () => {
    const { signal, clear } = deadlineSignal({ getRemainingTimeInMillis: () => 600_000 });
    clear();
    expect(signal.aborted).toBe(false);
  });
});
