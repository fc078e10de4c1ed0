import { ConfigurationError } from '../common/errors';

/**
 * The error of a storage construct configured in a way that would not deploy or would not protect the backups.
 *
 * @deprecated use {@link ConfigurationError}, which every construct of this package throws; this is the same class.
 * @example
 * try {
 *   BackupLifecycle.archive({ glacierAfter: Duration.days(10), deepArchiveAfter: Duration.days(5) });
 * } catch (e) {
 *   if (e instanceof ConfigurationError) console.error(e.message);
 * }
 */
export const StorageConfigurationError = ConfigurationError;
/** @deprecated use {@link ConfigurationError}. */
export type StorageConfigurationError = ConfigurationError;
