import type { IConstruct } from 'constructs';

/**
 * Thrown at synth time when a storage construct is configured in a way that would not deploy or would not
 * protect the backups. The message always says what to change.
 *
 * @example
 * try {
 *   BackupLifecycle.archive({ glacierAfter: Duration.days(10), deepArchiveAfter: Duration.days(5) });
 * } catch (e) {
 *   if (e instanceof StorageConfigurationError) console.error(e.message);
 * }
 */
export class StorageConfigurationError extends Error {
  /** Path of the construct the error belongs to, when there is one. */
  public readonly constructPath?: string;

  constructor(message: string, scope?: IConstruct) {
    super(scope ? `${scope.node.path}: ${message}` : message);
    this.name = 'StorageConfigurationError';
    this.constructPath = scope?.node.path;
  }
}
