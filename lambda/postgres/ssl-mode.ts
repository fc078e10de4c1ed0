/**
 * The TLS modes a connection can ask for, with libpq's meaning. Pure (no dependencies), so constructs validate a
 * mode at synth with the same list the handlers use.
 *
 * - `verify-full` (the default): TLS, the server's certificate chains to the trusted CA and names the host connected
 *   to. Protects against eavesdropping, downgrade and a server impersonated by anyone on the path.
 * - `verify-ca`: TLS and the certificate chains to the trusted CA, host name not checked (a connection through a
 *   tunnel or by an address the certificate does not name). Any server holding a certificate from that CA passes.
 * - `require`: TLS, certificate not checked. Protects against passive eavesdropping only: whoever is on the path can
 *   present any certificate and read the password.
 * - `disable`: no TLS. The password and the data cross the network in clear text.
 */
export type SslMode = 'verify-full' | 'verify-ca' | 'require' | 'disable';

/** Accepted values of {@link SslMode}, for input validation. */
export const SSL_MODES: readonly SslMode[] = ['verify-full', 'verify-ca', 'require', 'disable'];

/** The mode when none is given: full verification. `require` and `disable` are used only when asked for. */
export const DEFAULT_SSL_MODE: SslMode = 'verify-full';

/** Whether `mode` checks the server's certificate against a CA (and so needs one). */
export function verifiesCertificate(mode: SslMode): boolean {
  return mode === 'verify-full' || mode === 'verify-ca';
}
