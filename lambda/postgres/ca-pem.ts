/**
 * Reading a CA certificate given by a user (a secret's value, the CLI's `--ssl-root-cert`). Apart from
 * lambda/postgres/tls.ts so that reading one does not pull the Amazon RDS CA bundle into a handler that never connects.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Checks that `text` is PEM with at least one parseable certificate and returns it.
 *
 * @throws Error naming `where` and what to give instead.
 */
export function parseCaPem(text: string, where: string): string {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new Error(`${where} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA certificate(s) in PEM`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Error(`${where} holds a certificate that cannot be read (${(error as Error).message}); give the CA certificate(s) in PEM`, { cause: error });
    }
  }
  return text;
}

/** A CA given as PEM text or as the path of a PEM file (the CLI's `--ssl-root-cert`). @throws Error */
export function readCaCertificate(pemOrPath: string, where: string): string {
  if (pemOrPath.includes('-----BEGIN')) return parseCaPem(pemOrPath, where);
  let text: string;
  try {
    text = readFileSync(pemOrPath, 'utf8');
  } catch (error) {
    throw new Error(`${where}: cannot read ${pemOrPath} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a PEM file or PEM text`, { cause: error });
  }
  return parseCaPem(text, `${where} (${pemOrPath})`);
}
