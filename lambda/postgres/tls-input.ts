/**
 * The TLS fields of a handler's `target` (dump, restore, restore-verify, the failover's checks), validated in one
 * place, and their resolution into a {@link TlsTarget}'s mode and CA.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getCaCertificate, SECRET_ARN_HINT, SECRET_ARN_PATTERN } from '../aws/secrets';
import { expectOneOf, expectString } from '../common/validate';
import { SSL_MODES, type SslMode } from './ssl-mode';
import type { TlsTarget } from './tls';

/** TLS of a handler's target. */
export interface TlsInput {
  /**
   * TLS towards the server (see lambda/postgres/ssl-mode.ts). `require` and `disable` weaken it: set them only on
   * purpose.
   * @default 'verify-full'
   */
  readonly sslMode?: SslMode;
  /**
   * ARN of a Secrets Manager secret whose value is the PEM of the CA that signed the server's certificate.
   * @default - the Amazon RDS CA bundle
   */
  readonly sslRootCertSecretArn?: string;
}

/** The field names of {@link TlsInput}, for inputs that reject unknown fields. */
export const TLS_INPUT_FIELDS: readonly string[] = ['sslMode', 'sslRootCertSecretArn'];

/** Validates the TLS fields of `value` (an object), naming them under `field`. @throws InvalidInput */
export function parseTlsInput(value: Record<string, unknown>, field: string): TlsInput {
  const sslMode = value.sslMode === undefined ? undefined : expectOneOf(value.sslMode, `${field}.sslMode`, SSL_MODES);
  const sslRootCertSecretArn =
    value.sslRootCertSecretArn === undefined
      ? undefined
      : expectString(value.sslRootCertSecretArn, `${field}.sslRootCertSecretArn`, SECRET_ARN_PATTERN, SECRET_ARN_HINT);
  return { ...(sslMode === undefined ? {} : { sslMode }), ...(sslRootCertSecretArn === undefined ? {} : { sslRootCertSecretArn }) };
}

/** The mode and CA of a target: reads the CA's secret when the input names one. */
export async function resolveTls(secrets: SecretsManagerClient, input: TlsInput): Promise<Omit<TlsTarget, 'host'>> {
  const sslRootCert = input.sslRootCertSecretArn === undefined ? undefined : await getCaCertificate(secrets, input.sslRootCertSecretArn);
  return { ...(input.sslMode === undefined ? {} : { sslMode: input.sslMode }), ...(sslRootCert === undefined ? {} : { sslRootCert }) };
}
