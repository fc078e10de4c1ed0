import { MissingConfiguration, requireEnvList, wholeNumberEnv } from '../../../lambda/common/errors';

describe('configuration from the environment', () => {
  const name = 'CDK_BACKUP_DR_TEST_SETTING';
  afterEach(() => {
    delete process.env[name];
  });

  it('reads a comma-separated list, trimming blanks', () => {
    process.env[name] = ' sg-1, ,sg-2 ,';
    expect(requireEnvList(name)).toEqual(['sg-1', 'sg-2']);
  });

  it('refuses an unset list and one that names nothing, as missing configuration', () => {
    expect(() => requireEnvList(name)).toThrow(new MissingConfiguration(`environment variable ${name} is not set; the construct that deploys this function must set it`));
    process.env[name] = ' , ,';
    expect(() => requireEnvList(name)).toThrow(MissingConfiguration);
    expect(() => requireEnvList(name)).toThrow(`environment variable ${name} names nothing; expected a comma-separated list`);
  });

  it('reads a whole number in range, and falls back when unset or empty', () => {
    const range = { min: 20, max: 65536, unit: 'GiB' };
    expect(wholeNumberEnv(name, 20, range)).toBe(20);
    process.env[name] = '';
    expect(wholeNumberEnv(name, 30, range)).toBe(30);
    process.env[name] = '100';
    expect(wholeNumberEnv(name, 20, range)).toBe(100);
  });

  it.each(['5', '20.5', 'lots', '70000'])('refuses %s, naming the variable, the unit and the range', (text) => {
    process.env[name] = text;
    expect(() => wholeNumberEnv(name, 20, { min: 20, max: 65536, unit: 'GiB' })).toThrow(
      new MissingConfiguration(`${name} must be a whole number of GiB from 20 to 65536; got ${JSON.stringify(text)}`),
    );
  });
});
