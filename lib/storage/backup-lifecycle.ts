import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ConfigurationError } from '../common/errors';
import { lifecycleScheduleProblems, ScheduledTransition } from './storage-classes';

/**
 * Options of {@link BackupLifecycle.archive}. Every step has a default; set a step to `false` to skip it.
 */
export interface ArchiveLifecycleOptions {
  /**
   * Only objects whose key starts with this prefix follow the schedule (e.g. `'postgres/'` for dumps).
   *
   * @default - the whole bucket
   */
  readonly prefix?: string;

  /**
   * When objects move to S3 Glacier Instant Retrieval (millisecond reads, 90-day minimum storage duration).
   *
   * @default Duration.days(30)
   */
  readonly glacierInstantRetrievalAfter?: Duration | false;

  /**
   * When objects move to S3 Glacier Flexible Retrieval (restore in minutes to hours, 90-day minimum).
   *
   * @default Duration.days(120)
   */
  readonly glacierAfter?: Duration | false;

  /**
   * When objects move to S3 Glacier Deep Archive (restore within 12 hours, 180-day minimum).
   *
   * @default Duration.days(365)
   */
  readonly deepArchiveAfter?: Duration | false;

  /**
   * When current object versions expire (become noncurrent behind a delete marker).
   *
   * A safety net: day-to-day retention is the job of the retention policy. Keep it longer than the longest
   * retention the policy applies (the default GFS policy keeps yearly backups for 3 years).
   *
   * @default Duration.days(2555) - 7 years
   */
  readonly expireAfter?: Duration | false;

  /**
   * How long a version stays recoverable after it was overwritten or deleted.
   *
   * @default Duration.days(30)
   */
  readonly noncurrentVersionsExpireAfter?: Duration | false;
}

/** Options of {@link BackupLifecycle.keepInStandard}. */
export interface StandardLifecycleOptions {
  /**
   * Only objects whose key starts with this prefix follow the rule (e.g. `'reports/'`).
   *
   * @default - the whole bucket
   */
  readonly prefix?: string;

  /**
   * When current object versions expire.
   *
   * @default - never
   */
  readonly expireAfter?: Duration;

  /**
   * How long a version stays recoverable after it was overwritten or deleted.
   *
   * @default Duration.days(30)
   */
  readonly noncurrentVersionsExpireAfter?: Duration | false;
}

/** One transition of a {@link BackupLifecycle}. */
export interface BackupLifecycleTransition {
  /** The storage class objects move into. */
  readonly storageClass: s3.StorageClass;
  /** Time after object creation. */
  readonly after: Duration;
  /** Name of the option that set it, for messages. */
  readonly option: string;
}

const DEFAULT_GLACIER_IR_AFTER = Duration.days(30);
const DEFAULT_GLACIER_AFTER = Duration.days(120);
const DEFAULT_DEEP_ARCHIVE_AFTER = Duration.days(365);
const DEFAULT_EXPIRE_AFTER = Duration.days(7 * 365);
const DEFAULT_NONCURRENT_EXPIRE_AFTER = Duration.days(30);

/**
 * How objects of a {@link BackupBucket} age: storage-class transitions, expiry, and how long overwritten or
 * deleted versions stay recoverable. Incomplete multipart uploads are always aborted after one day by the
 * bucket itself, whatever lifecycle is chosen.
 *
 * The schedule is checked when it is created: steps must be in increasing order, and an object must stay in
 * each archive class at least that class's minimum storage duration (Glacier Instant Retrieval and Glacier
 * Flexible Retrieval 90 days, Deep Archive 180 days); otherwise S3 charges an early-deletion fee.
 * Durations that are unresolved tokens are not checked.
 *
 * @example
 * // Dumps tier down to Deep Archive; run reports stay in S3 Standard for two years.
 * new BackupBucket(this, 'Backups', {
 *   lifecycle: [
 *     BackupLifecycle.archive({ prefix: 'postgres/', expireAfter: Duration.days(5 * 365) }),
 *     BackupLifecycle.keepInStandard({ prefix: 'reports/', expireAfter: Duration.days(730) }),
 *   ],
 * });
 */
export class BackupLifecycle {
  /**
   * Tier objects down through the Glacier classes, then expire them.
   *
   * Defaults: Glacier Instant Retrieval after 30 days, Glacier Flexible Retrieval after 120 days, Deep Archive
   * after 365 days, expiry after 7 years, noncurrent versions kept 30 days. Each default respects the previous
   * class's minimum storage duration, so no early-deletion fee is charged. Set a step to `false` to skip it.
   *
   * Objects smaller than 128 KiB (manifests, reports) are not transitioned by S3, so they stay in S3 Standard.
   */
  public static archive(options: ArchiveLifecycleOptions = {}): BackupLifecycle {
    const transitions: BackupLifecycleTransition[] = [];
    const add = (option: string, value: Duration | false | undefined, fallback: Duration, storageClass: s3.StorageClass) => {
      if (value === false) {
        return;
      }
      transitions.push({ storageClass, after: value ?? fallback, option });
    };
    add('glacierInstantRetrievalAfter', options.glacierInstantRetrievalAfter, DEFAULT_GLACIER_IR_AFTER, s3.StorageClass.GLACIER_INSTANT_RETRIEVAL);
    add('glacierAfter', options.glacierAfter, DEFAULT_GLACIER_AFTER, s3.StorageClass.GLACIER);
    add('deepArchiveAfter', options.deepArchiveAfter, DEFAULT_DEEP_ARCHIVE_AFTER, s3.StorageClass.DEEP_ARCHIVE);
    return new BackupLifecycle({
      prefix: options.prefix,
      transitions,
      expireAfter: orDefault(options.expireAfter, DEFAULT_EXPIRE_AFTER),
      noncurrentVersionsExpireAfter: orDefault(options.noncurrentVersionsExpireAfter, DEFAULT_NONCURRENT_EXPIRE_AFTER),
    });
  }

  /**
   * Keep objects in S3 Standard (no transitions), optionally expiring them. Suited to small objects such as
   * run reports and manifests, or to a bucket whose backups must restore in seconds.
   */
  public static keepInStandard(options: StandardLifecycleOptions = {}): BackupLifecycle {
    return new BackupLifecycle({
      prefix: options.prefix,
      transitions: [],
      expireAfter: options.expireAfter,
      noncurrentVersionsExpireAfter: orDefault(options.noncurrentVersionsExpireAfter, DEFAULT_NONCURRENT_EXPIRE_AFTER),
    });
  }

  /** Key prefix the rule applies to; `''` means the whole bucket. */
  public readonly prefix: string;
  /** Transitions in increasing order of time. */
  public readonly transitions: readonly BackupLifecycleTransition[];
  /** When current versions expire; undefined when they never do. */
  public readonly expireAfter?: Duration;
  /** When noncurrent versions are removed; undefined when they are kept. */
  public readonly noncurrentVersionsExpireAfter?: Duration;

  private constructor(spec: {
    prefix?: string;
    transitions: BackupLifecycleTransition[];
    expireAfter?: Duration;
    noncurrentVersionsExpireAfter?: Duration;
  }) {
    this.prefix = spec.prefix ?? '';
    this.transitions = spec.transitions;
    this.expireAfter = spec.expireAfter;
    this.noncurrentVersionsExpireAfter = spec.noncurrentVersionsExpireAfter;
    this.validate();
  }

  /** Human description used in messages. */
  public get description(): string {
    return this.prefix === '' ? 'BackupLifecycle (whole bucket)' : `BackupLifecycle (prefix '${this.prefix}')`;
  }

  /**
   * Day on which current versions expire, or undefined when they never expire or the duration is a token.
   */
  public get expireDay(): number | undefined {
    return this.expireAfter === undefined ? undefined : wholeDays(this.expireAfter, 'expireAfter', this.description);
  }

  /** The S3 lifecycle rule for this schedule. */
  public toLifecycleRule(id: string): s3.LifecycleRule {
    return {
      id,
      enabled: true,
      prefix: this.prefix === '' ? undefined : this.prefix,
      transitions: this.transitions.map((t) => ({ storageClass: t.storageClass, transitionAfter: t.after })),
      expiration: this.expireAfter,
      noncurrentVersionExpiration: this.noncurrentVersionsExpireAfter,
    };
  }

  private validate(): void {
    const durations: Array<[string, Duration]> = this.transitions.map((t) => [t.option, t.after]);
    if (this.expireAfter) durations.push(['expireAfter', this.expireAfter]);
    if (this.noncurrentVersionsExpireAfter) durations.push(['noncurrentVersionsExpireAfter', this.noncurrentVersionsExpireAfter]);

    const days = new Map<string, number | undefined>();
    for (const [option, duration] of durations) {
      days.set(option, wholeDays(duration, option, this.description));
    }
    for (const [option, day] of days) {
      if (day !== undefined && day < 1) {
        throw new ConfigurationError(`${this.description}: ${option} must be at least 1 day (got ${day}).`);
      }
    }
    if ([...days.values()].some((d) => d === undefined)) {
      return; // a token: cannot be checked at synth time
    }
    const transitions: ScheduledTransition[] = this.transitions.map((t) => ({
      option: t.option,
      storageClass: t.storageClass.value,
      day: days.get(t.option) as number,
    }));
    const problems = lifecycleScheduleProblems({
      description: this.description,
      transitions,
      expireDay: this.expireAfter ? days.get('expireAfter') : undefined,
    });
    if (problems.length > 0) {
      throw new ConfigurationError(problems.join('\n'));
    }
  }
}

function orDefault(value: Duration | false | undefined, fallback: Duration): Duration | undefined {
  if (value === false) {
    return undefined;
  }
  return value ?? fallback;
}

/** Whole days of a duration; undefined for a token; an error naming the option for a fraction of a day. */
function wholeDays(duration: Duration, option: string, description: string): number | undefined {
  if (duration.isUnresolved()) {
    return undefined;
  }
  const days = duration.toDays({ integral: false });
  if (!Number.isInteger(days)) {
    throw new ConfigurationError(
      `${description}: ${option} is ${duration.toHumanString()}, but S3 lifecycle rules count whole days. ` +
        `Use Duration.days(${Math.ceil(days)}).`,
    );
  }
  return days;
}
