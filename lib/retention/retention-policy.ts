import { Duration, TimeZone, Token } from 'aws-cdk-lib';
import { ConfigurationError } from '../common/errors';
import { storageClassFacts } from '../storage/storage-classes';
import { CALENDAR_RULES, CalendarRule, RetentionRules, describeSeconds, retentionRulesProblems } from '../../lambda/retention/policy';

/** How many backups each calendar rule keeps (the newest backup of each of the newest n days, weeks, months, years). */
export interface GfsCounts {
  /**
   * Days.
   * @default 0 - no daily rule
   */
  readonly daily?: number;
  /**
   * ISO weeks (Monday to Sunday).
   * @default 0 - no weekly rule
   */
  readonly weekly?: number;
  /**
   * Calendar months.
   * @default 0 - no monthly rule
   */
  readonly monthly?: number;
  /**
   * Calendar years.
   * @default 0 - no yearly rule
   */
  readonly yearly?: number;
}

/** The rules beside the calendar ones, and the floor and time zone of a {@link RetentionPolicy}. */
export interface RetentionPolicyOptions {
  /**
   * Keep the newest n backups whatever their dates.
   * @default 0 - no such rule
   */
  readonly keepLast?: number;
  /**
   * Keep every backup taken within this duration of the newest backup (restic's `--keep-within`; counted from the
   * newest backup, not from now, so a stopped backup schedule does not empty the series).
   * @default - no such rule
   */
  readonly keepWithin?: Duration;
  /**
   * Never leave fewer backups than this in a series (one database's dumps, one instance's snapshots in one region),
   * whatever the rules say: the newest of those the rules would delete are kept.
   * @default 1
   */
  readonly minimumKeep?: number;
  /**
   * The time zone in which days, weeks, months and years begin.
   * @default TimeZone.ETC_UTC
   */
  readonly timeZone?: TimeZone;
}

/** Everything a {@link RetentionPolicy} holds, for {@link RetentionPolicy.of}. */
export interface RetentionPolicyProps extends GfsCounts, RetentionPolicyOptions {}

/** What the synth checks of a policy compare it with. */
export interface RetentionContext {
  /** What the policy applies to, leading each message (`PostgresBackup Prod/Backup dumps`). */
  readonly description: string;
  /** The shortest time between two backups of a series, in days (1 for daily runs). */
  readonly backupIntervalDays: number;
  /** The lifecycle transitions of the dumps: day of entry and S3 storage class, in order. */
  readonly transitions?: ReadonlyArray<{ readonly day: number; readonly storageClass: string; readonly option: string }>;
  /** The Object Lock default retention of the dumps, in days. */
  readonly objectLockDays?: number;
}

/** Nominal length in days of each calendar bucket, for the synth checks (months 30 days, years 365). */
const BUCKET_DAYS: Readonly<Record<CalendarRule, number>> = { daily: 1, weekly: 7, monthly: 30, yearly: 365 };

/**
 * Which backups to keep: grandfather-father-son calendar rules plus `keepLast` and `keepWithin`, with restic's
 * `forget` semantics (calendar buckets in the policy's time zone, the newest backup in each bucket kept, the rules
 * ORed, the oldest backup kept while a calendar rule still has count left). A policy that keeps nothing is refused.
 *
 * Whatever the rules say, the cleanup never deletes the newest verified backup of a series, a backup under Object
 * Lock retention or legal hold, a backup a running recovery test or failover picked, or a backup that would leave
 * fewer than `minimumKeep`.
 *
 * @example
 * RetentionPolicy.gfs({ daily: 7, weekly: 4, monthly: 12 }, { timeZone: TimeZone.EUROPE_BERLIN, minimumKeep: 3 });
 * RetentionPolicy.keepWithin(Duration.days(35));
 */
export class RetentionPolicy {
  /** Grandfather-father-son: the newest backup of each of the newest n days, weeks, months and years. */
  public static gfs(counts: GfsCounts, options: RetentionPolicyOptions = {}): RetentionPolicy {
    return new RetentionPolicy('RetentionPolicy.gfs', { ...counts, ...options });
  }

  /** The newest n backups. */
  public static keepLast(count: number, options: Omit<RetentionPolicyOptions, 'keepLast'> = {}): RetentionPolicy {
    return new RetentionPolicy('RetentionPolicy.keepLast', { ...options, keepLast: count });
  }

  /** Every backup within `duration` of the newest one. */
  public static keepWithin(duration: Duration, options: Omit<RetentionPolicyOptions, 'keepWithin'> = {}): RetentionPolicy {
    return new RetentionPolicy('RetentionPolicy.keepWithin', { ...options, keepWithin: duration });
  }

  /** Any combination of the rules. */
  public static of(props: RetentionPolicyProps): RetentionPolicy {
    return new RetentionPolicy('RetentionPolicy.of', props);
  }

  /** The rules as the cleanup handler receives them. */
  public readonly rules: RetentionRules;

  private constructor(factory: string, props: RetentionPolicyProps) {
    const within = props.keepWithin;
    if (within !== undefined && Token.isUnresolved(within.toSeconds())) {
      throw new ConfigurationError('keepWithin must be a literal duration (Duration.days(35)), not a token', undefined, { subject: factory });
    }
    if (props.timeZone !== undefined && Token.isUnresolved(props.timeZone.timezoneName)) {
      throw new ConfigurationError('timeZone must be a literal time zone (TimeZone.EUROPE_BERLIN), not a token', undefined, { subject: factory });
    }
    this.rules = {
      ...(props.keepLast ? { last: props.keepLast } : {}),
      ...(props.daily ? { daily: props.daily } : {}),
      ...(props.weekly ? { weekly: props.weekly } : {}),
      ...(props.monthly ? { monthly: props.monthly } : {}),
      ...(props.yearly ? { yearly: props.yearly } : {}),
      ...(within !== undefined && within.toSeconds() > 0 ? { withinSeconds: within.toSeconds() } : {}),
      minimumKeep: props.minimumKeep ?? 1,
      timeZone: (props.timeZone ?? TimeZone.ETC_UTC).timezoneName,
    };
    const problems = retentionRulesProblems(this.rules);
    if (problems.length > 0) throw new ConfigurationError(`${problems.join('; ')}.`, undefined, { subject: factory });
  }

  /** What the policy keeps, in words (`daily 7, weekly 4, minimumKeep 1, time zone UTC`). */
  public describe(): string {
    const r = this.rules;
    return [
      ...(r.last ? [`keepLast ${r.last}`] : []),
      ...CALENDAR_RULES.filter((rule) => r[rule]).map((rule) => `${rule} ${r[rule]}`),
      ...(r.withinSeconds ? [`keepWithin ${describeSeconds(r.withinSeconds)}`] : []),
      `minimumKeep ${r.minimumKeep ?? 0}`,
      `time zone ${r.timeZone}`,
    ].join(', ');
  }

  /**
   * The ages, in whole days, at which backups leave the series when backups come every `intervalDays`: the age
   * every backup reaches (first) and the age at which each rule lets go of the backups it alone kept. Approximate
   * (months count 30 days, years 365), for the synth checks.
   */
  public deletionAges(intervalDays: number): number[] {
    const r = this.rules;
    const everyBackup = Math.max(
      intervalDays,
      (r.last ?? 0) * intervalDays,
      Math.ceil((r.withinSeconds ?? 0) / 86_400),
      ...CALENDAR_RULES.filter((rule) => BUCKET_DAYS[rule] <= intervalDays).map((rule) => (r[rule] ?? 0) * intervalDays),
    );
    const byRule = CALENDAR_RULES.filter((rule) => (r[rule] ?? 0) > 0).map((rule) => (r[rule] ?? 0) * Math.max(BUCKET_DAYS[rule], intervalDays));
    return [...new Set([everyBackup, ...byRule])].sort((a, b) => a - b);
  }

  /**
   * Every problem of this policy in `context`, each saying what to change: `keepWithin` shorter than the backup
   * interval; backups deleted while an archive class's minimum storage duration still runs (an early-deletion fee);
   * an Object Lock retention longer than the policy keeps any backup (no deletion could ever happen).
   */
  public problems(context: RetentionContext): string[] {
    const problems: string[] = [];
    const interval = context.backupIntervalDays;
    const within = this.rules.withinSeconds;
    if (within !== undefined && within < interval * 86_400) {
      problems.push(
        `${context.description}: keepWithin (${describeSeconds(within)}) is shorter than the backup interval (${interval} days), so it keeps ` +
          `only the newest backup; set keepWithin to at least Duration.days(${interval}), or use keepLast.`,
      );
    }
    const ages = this.deletionAges(interval);
    const transitions = [...(context.transitions ?? [])].sort((a, b) => a.day - b.day);
    for (const age of ages) {
      const inClass = transitions.filter((t) => t.day <= age).pop();
      if (!inClass) continue;
      const facts = storageClassFacts(inClass.storageClass);
      const leaves = inClass.day + facts.minimumStorageDays;
      if (age < leaves) {
        problems.push(
          `${context.description}: the retention policy (${this.describe()}) deletes backups at about ${age} days, but the lifecycle ` +
            `moves dumps to ${facts.displayName} on day ${inClass.day} (${inClass.option}) and bills at least ${facts.minimumStorageDays} days ` +
            `there: each deletion pays an early-deletion fee for about ${leaves - age} days. Keep those backups at least ${leaves} days ` +
            `(raise the rule that lets go of them at ${age} days), or move ${inClass.option} past ${age} days.`,
        );
      }
    }
    const longest = ages[ages.length - 1];
    if (context.objectLockDays !== undefined && context.objectLockDays > longest) {
      problems.push(
        `${context.description}: Object Lock retains every dump for ${context.objectLockDays} days, longer than the retention policy ` +
          `(${this.describe()}) keeps any backup (about ${longest} days), so the cleanup could delete nothing before the lock ends; ` +
          `shorten the Object Lock retention to ${longest} days or less, or keep backups longer (e.g. a monthly or yearly rule).`,
      );
    }
    return problems;
  }
}
