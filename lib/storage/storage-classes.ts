/**
 * Pure rules about S3 storage classes and lifecycle schedules (no CDK constructs, no I/O).
 *
 * S3 bills archive classes for a minimum storage duration: an object that is deleted, overwritten
 * or transitioned out of the class earlier is charged an early-deletion fee for the remaining days.
 * See https://aws.amazon.com/s3/pricing/ ("minimum storage duration").
 */

/** A storage class that a lifecycle rule can move objects into, with its billing facts. */
export interface StorageClassFacts {
  /** The value S3 uses in lifecycle and replication configuration. */
  readonly value: string;
  /** Human name used in error messages. */
  readonly displayName: string;
  /** Minimum billable storage duration in days (0 when the class has none). */
  readonly minimumStorageDays: number;
}

/** Facts for the storage classes this library schedules, keyed by S3 value. */
export const STORAGE_CLASS_FACTS: Readonly<Record<string, StorageClassFacts>> = {
  STANDARD: { value: 'STANDARD', displayName: 'S3 Standard', minimumStorageDays: 0 },
  STANDARD_IA: { value: 'STANDARD_IA', displayName: 'S3 Standard-IA', minimumStorageDays: 30 },
  ONEZONE_IA: { value: 'ONEZONE_IA', displayName: 'S3 One Zone-IA', minimumStorageDays: 30 },
  INTELLIGENT_TIERING: { value: 'INTELLIGENT_TIERING', displayName: 'S3 Intelligent-Tiering', minimumStorageDays: 0 },
  GLACIER_IR: { value: 'GLACIER_IR', displayName: 'S3 Glacier Instant Retrieval', minimumStorageDays: 90 },
  GLACIER: { value: 'GLACIER', displayName: 'S3 Glacier Flexible Retrieval', minimumStorageDays: 90 },
  DEEP_ARCHIVE: { value: 'DEEP_ARCHIVE', displayName: 'S3 Glacier Deep Archive', minimumStorageDays: 180 },
};

/** Facts for one storage class value; unknown classes are treated as having no minimum. */
export function storageClassFacts(value: string): StorageClassFacts {
  return STORAGE_CLASS_FACTS[value] ?? { value, displayName: value, minimumStorageDays: 0 };
}

/** One step of a lifecycle schedule, in whole days after object creation. */
export interface ScheduledTransition {
  /** The option the user set, used to name it in messages (e.g. `glacierAfter`). */
  readonly option: string;
  /** S3 storage class value, e.g. `GLACIER`. */
  readonly storageClass: string;
  /** Day on which objects move into the class. */
  readonly day: number;
}

/** A lifecycle schedule reduced to numbers, ready to be checked. */
export interface LifecycleSchedule {
  /** Where the schedule applies, for messages. */
  readonly description: string;
  /** Transitions in the order the user declared them (expected: strictly increasing days). */
  readonly transitions: readonly ScheduledTransition[];
  /** Day on which current versions expire; undefined when they never do. */
  readonly expireDay?: number;
}

/**
 * Every problem of a lifecycle schedule, each phrased as what to change. Empty when the schedule is sound.
 *
 * Checks: transitions (and the expiry after them) happen in strictly increasing order, and an object stays
 * in each archive class at least the class's minimum storage duration before it moves on or expires.
 */
export function lifecycleScheduleProblems(schedule: LifecycleSchedule): string[] {
  const problems: string[] = [];
  const events: Array<{ option: string; day: number }> = [...schedule.transitions];
  if (schedule.expireDay !== undefined) {
    events.push({ option: 'expireAfter', day: schedule.expireDay });
  }
  let orderOk = true;
  for (let i = 1; i < events.length; i++) {
    const before = events[i - 1];
    const after = events[i];
    if (after.day <= before.day) {
      orderOk = false;
      problems.push(
        `${schedule.description}: ${after.option} (${after.day} days) must be later than ${before.option} ` +
          `(${before.day} days); lifecycle steps must be in increasing order. Set ${after.option} to more than ` +
          `${before.day} days, or set ${before.option} to false to skip that step.`,
      );
    }
  }
  if (!orderOk) {
    return problems;
  }
  schedule.transitions.forEach((transition, index) => {
    const facts = storageClassFacts(transition.storageClass);
    if (facts.minimumStorageDays === 0) {
      return;
    }
    const next = events[index + 1];
    if (next === undefined) {
      return;
    }
    const stay = next.day - transition.day;
    if (stay < facts.minimumStorageDays) {
      const leaves = next.option === 'expireAfter' ? 'expire' : 'move on';
      problems.push(
        `${schedule.description}: objects enter ${facts.displayName} at day ${transition.day} (${transition.option}) ` +
          `and ${leaves} at day ${next.day} (${next.option}), after ${stay} days; ${facts.displayName} bills a ` +
          `minimum storage duration of ${facts.minimumStorageDays} days, so each object would pay an early-deletion ` +
          `fee for the remaining ${facts.minimumStorageDays - stay} days. Set ${next.option} to at least ` +
          `${transition.day + facts.minimumStorageDays} days, or set ${transition.option} to false to skip ${facts.displayName}.`,
      );
    }
  });
  return problems;
}

/**
 * The problem of an Object Lock default retention that outlives the lifecycle expiry, or undefined.
 *
 * Locked versions cannot be removed before their retention date, so a shorter expiry would never take effect
 * for them and would only leave delete markers behind.
 */
export function objectLockRetentionProblem(args: {
  readonly description: string;
  readonly retentionDays: number;
  readonly mode: string;
  readonly expireDay?: number;
}): string | undefined {
  if (args.expireDay === undefined || args.retentionDays <= args.expireDay) {
    return undefined;
  }
  return (
    `${args.description}: Object Lock (${args.mode}) retains every object version for ${args.retentionDays} days, ` +
    `but the lifecycle expires objects after ${args.expireDay} days. Set expireAfter to at least ` +
    `${args.retentionDays} days, or shorten the Object Lock retention to ${args.expireDay} days or less.`
  );
}

/**
 * The problem of two lifecycle prefixes that overlap (one is a prefix of the other), or undefined.
 * S3 would apply both rules to the shared objects, and the cheapest action wins, which defeats the schedule.
 */
export function overlappingPrefixProblem(a: string, b: string): string | undefined {
  if (!a.startsWith(b) && !b.startsWith(a)) {
    return undefined;
  }
  const show = (p: string) => (p === '' ? "'' (the whole bucket)" : `'${p}'`);
  return (
    `lifecycle rules for prefixes ${show(a)} and ${show(b)} overlap: S3 would apply both to the same objects. ` +
    `Give every BackupLifecycle a disjoint prefix (e.g. 'postgres/' and 'reports/').`
  );
}
