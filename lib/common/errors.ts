import type { IConstruct } from 'constructs';

/** Options of a {@link ConfigurationError}. */
export interface ConfigurationErrorOptions {
  /**
   * What is configured, leading the message: a construct's class (`PostgresBackup`) or a factory
   * (`BackupSchedule.cron`).
   * @default - none: the message starts with the construct path, or is the message alone
   */
  readonly subject?: string;
  /**
   * The id of the construct being configured, when the check runs before it exists (in its constructor, before
   * `super`): `scope` is then its parent.
   * @default - `scope` is the construct being configured
   */
  readonly id?: string;
  /**
   * The error that revealed the problem.
   * @default - none
   */
  readonly cause?: unknown;
}

/**
 * Thrown at synth time when a construct or a value object of this package is configured in a way that would not
 * deploy, or would not protect the backups. The message always says what to change; it starts with the subject and
 * the construct path (`PostgresBackup Prod/Backup: databases is empty; …`), which `constructPath` holds too.
 *
 * @example
 * try {
 *   new PostgresBackup(this, 'Backup', { ...props, databases: [] });
 * } catch (e) {
 *   if (e instanceof ConfigurationError) console.error(e.constructPath, e.message);
 * }
 */
export class ConfigurationError extends Error {
  /** Path of the construct the error belongs to, when there is one. */
  public readonly constructPath?: string;

  /**
   * @param message what is wrong and what to change
   * @param scope the construct being configured; its path leads the message
   */
  constructor(message: string, scope?: IConstruct, options: ConfigurationErrorOptions = {}) {
    const path = scope ? [scope.node.path, options.id ?? ''].filter((part) => part !== '').join('/') : undefined;
    const where = [options.subject, path].filter((part) => part !== undefined && part !== '').join(' ');
    super(where ? `${where}: ${message}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigurationError';
    this.constructPath = path;
  }
}
