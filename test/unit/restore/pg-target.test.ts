import { buildConninfo, conninfoValue, describeConnectError, quoteIdent, scrubSecrets, type PgTarget } from '../../../lambda/postgres/target';

const target: PgTarget = { host: 'db.internal', port: 6543, user: 'restorer', password: 's3cr3t/p@ss', database: 'app_restore' };

describe('conninfo', () => {
  it('quotes values so spaces, quotes and backslashes cannot break out', () => {
    expect(conninfoValue("it's a \\ test")).toBe("'it\\'s a \\\\ test'");
  });

  it('carries host, port, user and database but never the password, and no TLS setting (libpqEnv sets those)', () => {
    const conninfo = buildConninfo({ ...target, sslMode: 'require' });
    expect(conninfo).toContain("host='db.internal'");
    expect(conninfo).toContain("port='6543'");
    expect(conninfo).toContain("user='restorer'");
    expect(conninfo).toContain("dbname='app_restore'");
    expect(conninfo).not.toMatch(/sslmode|sslrootcert/);
    expect(conninfo).not.toContain(target.password);
    expect(conninfo).not.toMatch(/password/i);
  });

});

describe('quoteIdent', () => {
  it('doubles embedded double quotes', () => {
    expect(quoteIdent('Mixed "Case"')).toBe('"Mixed ""Case"""');
  });
});

describe('scrubSecrets', () => {
  it('masks the secret, its URL-encoded form and password= / URL credentials', () => {
    const text =
      'FATAL: s3cr3t/p@ss rejected; url postgres://restorer:s3cr3t%2Fp%40ss@db:5432/x; ' +
      "conninfo password='other one' and password=plain; postgresql://u:zzz@h/d";
    const scrubbed = scrubSecrets(text, [target.password]);
    expect(scrubbed).not.toContain('s3cr3t');
    expect(scrubbed).not.toContain('other one');
    expect(scrubbed).not.toContain('plain');
    expect(scrubbed).not.toContain('zzz');
    expect(scrubbed).toContain('FATAL: *** rejected');
    expect(scrubbed).toContain('postgres://restorer:***@db:5432/x');
  });

  it('ignores empty and undefined secrets', () => {
    expect(scrubSecrets('nothing secret here', ['', undefined])).toBe('nothing secret here');
  });
});

describe('describeConnectError', () => {
  it('names where and as whom, hints at createDatabase for a missing database, and hides the password', () => {
    const error = Object.assign(new Error(`database "app_restore" does not exist (pw ${target.password})`), { code: '3D000' });
    const message = describeConnectError(target, 'app_restore', error);
    expect(message).toContain('db.internal:6543/app_restore as restorer');
    expect(message).toContain('createDatabase: true');
    expect(message).not.toContain(target.password);
  });

  it("points at the secret's credentials for a wrong password", () => {
    const error = Object.assign(new Error('password authentication failed for user "restorer"'), { code: '28P01' });
    expect(describeConnectError(target, 'x', error)).toContain("check the secret's username and password");
  });
});
