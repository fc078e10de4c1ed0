import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AMAZON_RDS_CA_BUNDLE, caFile, libpqTlsEnv, pgSslOptions, tlsFailureHint } from '../../../lambda/postgres/tls';

const HOST = 'db.abc.us-east-1.rds.amazonaws.com';

describe('pgSslOptions', () => {
  it('verifies the certificate and the host name against the Amazon RDS CA bundle by default', () => {
    expect(pgSslOptions({ host: HOST })).toEqual({ ca: AMAZON_RDS_CA_BUNDLE, rejectUnauthorized: true, servername: HOST });
    expect(AMAZON_RDS_CA_BUNDLE.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThan(100);
  });

  it('uses the CA given, sends no SNI to an address, and weakens only on request', () => {
    expect(pgSslOptions({ host: '10.0.0.5', sslRootCert: 'PEM' })).toEqual({ ca: 'PEM', rejectUnauthorized: true });
    expect(pgSslOptions({ host: HOST, sslMode: 'verify-ca' })).toMatchObject({ rejectUnauthorized: true, checkServerIdentity: expect.any(Function) });
    expect(pgSslOptions({ host: HOST, sslMode: 'require' })).toEqual({ rejectUnauthorized: false });
    expect(pgSslOptions({ host: HOST, sslMode: 'disable' })).toBe(false);
  });
});

describe('libpqTlsEnv', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'tls-unit-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('points libpq at a CA file, written once per content', () => {
    const env = libpqTlsEnv({ host: HOST }, dir);
    expect(env.PGSSLMODE).toBe('verify-full');
    expect(readFileSync(env.PGSSLROOTCERT, 'utf8')).toBe(AMAZON_RDS_CA_BUNDLE);
    expect(caFile(AMAZON_RDS_CA_BUNDLE, dir)).toBe(env.PGSSLROOTCERT);
    expect(caFile('other', dir)).not.toBe(env.PGSSLROOTCERT);
    expect(libpqTlsEnv({ host: HOST, sslMode: 'require' }, dir)).toEqual({ PGSSLMODE: 'require' });
    expect(libpqTlsEnv({ host: HOST, sslMode: 'disable' }, dir)).toEqual({ PGSSLMODE: 'disable' });
  });
});

describe('tlsFailureHint', () => {
  it('says what to change for libpq and node-postgres failures, and nothing for others', () => {
    expect(tlsFailureHint(new Error('SSL error: certificate verify failed'), { host: HOST })).toMatch(/Amazon RDS CA bundle.*give the CA/);
    expect(tlsFailureHint(new Error('server certificate for "x" does not match host name "y"'), { host: 'y' })).toMatch(/does not name y/);
    expect(tlsFailureHint(new Error('The server does not support SSL connections'), { host: HOST })).toMatch(/sslMode 'disable'/);
    expect(tlsFailureHint(new Error('password authentication failed'), { host: HOST })).toBeUndefined();
  });
});
