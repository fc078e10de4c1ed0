/**
 * Test certificate authorities made with openssl: the harness' PostgreSQL serves TLS with a certificate from one, and
 * tests that need a CA the server does not trust make another. Nothing here is used outside the tests.
 *
 * @example
 * const ca = createTestCa(dir, 'harness');
 * const server = issueServerCertificate(ca, dir, { ip: '127.0.0.1' });
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A CA: its certificate (PEM file and text) and private key file. */
export interface TestCa {
  readonly certFile: string;
  readonly certPem: string;
  readonly keyFile: string;
}

/** A server certificate and key signed by a {@link TestCa}. */
export interface TestServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

const OPENSSL = '/usr/bin/openssl';
const DAYS = '7';

function openssl(args: readonly string[]): void {
  try {
    execFileSync(fs.existsSync(OPENSSL) ? OPENSSL : 'openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed (the test CA needs openssl on PATH): ${stderr || (error as Error).message}`, { cause: error });
  }
}

/** Makes a self-signed CA (EC P-256, 7 days) named `name` in `dir`. */
export function createTestCa(dir: string, name: string): TestCa {
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}-ca.crt`);
  const keyFile = path.join(dir, `${name}-ca.key`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', DAYS,
    '-subj', `/CN=cdk-backup-dr test CA ${name}`, '-keyout', keyFile, '-out', certFile,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, certPem: fs.readFileSync(certFile, 'utf8') };
}

/**
 * Issues a server certificate whose only subject alternative name is the address `ip`, so `verify-full` passes for
 * that address and fails for any other name of the same server (e.g. `localhost`).
 */
export function issueServerCertificate(ca: TestCa, dir: string, options: { readonly ip: string }): TestServerCertificate {
  const keyFile = path.join(dir, 'server.key');
  const csrFile = path.join(dir, 'server.csr');
  const certFile = path.join(dir, 'server.crt');
  const extFile = path.join(dir, 'server.ext');
  fs.writeFileSync(extFile, `subjectAltName=IP:${options.ip}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${options.ip}`, '-keyout', keyFile, '-out', csrFile]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', DAYS, '-extfile', extFile, '-out', certFile]);
  fs.chmodSync(keyFile, 0o600);
  return { certFile, keyFile };
}
