import fc from 'fast-check';
import {
  CALENDAR_RULES,
  RetainedBackup,
  RetentionRules,
  decideRetention,
  isoWeekKey,
  keepsNothing,
  retentionRulesProblems,
} from '../../../lambda/retention/policy';

const DAY = 86_400_000;
const START_2000 = Date.UTC(2000, 0, 1);
const END_2040 = Date.UTC(2040, 0, 1);

/** The time zones the property tests draw from: every zone this runtime knows. */
const TIME_ZONES = Intl.supportedValuesOf('timeZone');

function kept(decisions: ReturnType<typeof decideRetention>): string[] {
  return decisions.filter((d) => d.keep).map((d) => d.id);
}

/** Local calendar date by another route than the code under test: a Swedish-formatted string ("2024-01-31"). */
function referenceLocalDate(time: number, timeZone: string): { year: number; month: number; day: number } {
  const text = new Date(time).toLocaleDateString('sv-SE', { timeZone });
  const [year, month, day] = text.split('-').map(Number);
  return { year, month, day };
}

/** ISO week by the ordinal-date rule (week = (ordinal - weekday + 10) / 7, then the year ends), not by the Thursday. */
function referenceIsoWeek(year: number, month: number, day: number): number {
  const ordinal = Math.round((Date.UTC(year, month - 1, day) - Date.UTC(year, 0, 1)) / DAY) + 1;
  const weekday = ((new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7) + 1; // Monday 1 … Sunday 7
  const week = Math.floor((ordinal - weekday + 10) / 7);
  const weeksIn = (y: number) => {
    const p = (x: number) => (x + Math.floor(x / 4) - Math.floor(x / 100) + Math.floor(x / 400)) % 7;
    return p(y) === 4 || p(y - 1) === 3 ? 53 : 52;
  };
  if (week < 1) return (year - 1) * 100 + weeksIn(year - 1);
  if (week > weeksIn(year)) return (year + 1) * 100 + 1;
  return year * 100 + week;
}

/**
 * restic's ApplyPolicy (internal/data/snapshot_policy.go) transcribed line by line over plain numbers: the model
 * the decision must equal when nothing is protected and nothing is in the future.
 */
function resticKeeps(backups: readonly RetainedBackup[], rules: RetentionRules): Set<string> {
  const list = [...backups].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1));
  const keep = new Set<string>();
  if (list.length === 0) return keep;
  const local = (t: number) => referenceLocalDate(t, rules.timeZone);
  const buckets = [
    { count: rules.last ?? 0, last: -1, bucker: (_t: number, nr: number) => nr },
    { count: rules.daily ?? 0, last: -1, bucker: (t: number) => { const d = local(t); return d.year * 10000 + d.month * 100 + d.day; } },
    { count: rules.weekly ?? 0, last: -1, bucker: (t: number) => { const d = local(t); return referenceIsoWeek(d.year, d.month, d.day); } },
    { count: rules.monthly ?? 0, last: -1, bucker: (t: number) => { const d = local(t); return d.year * 100 + d.month; } },
    { count: rules.yearly ?? 0, last: -1, bucker: (t: number) => local(t).year },
  ];
  const latest = list[0].time;
  list.forEach((cur, nr) => {
    let keepSnap = false;
    if ((rules.withinSeconds ?? 0) > 0 && cur.time > latest - (rules.withinSeconds ?? 0) * 1000) keepSnap = true;
    for (const b of buckets) {
      if (b.count > 0) {
        const val = b.bucker(cur.time, nr);
        if (val !== b.last || nr === list.length - 1) {
          keepSnap = true;
          b.last = val;
          b.count--;
        }
      }
    }
    if (keepSnap) keep.add(cur.id);
  });
  return keep;
}

const countArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12 }));

const rulesArb: fc.Arbitrary<RetentionRules> = fc
  .record({
    last: countArb,
    daily: countArb,
    weekly: countArb,
    monthly: countArb,
    yearly: countArb,
    withinSeconds: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 }).map((days) => days * 86_400)),
    minimumKeep: fc.integer({ min: 0, max: 15 }),
    timeZone: fc.constantFrom(...TIME_ZONES),
  })
  .filter((rules) => !keepsNothing(rules));

/** A history: backups at random instants (often several a day, gaps of months), some verified, locked, held, in use. */
function historyArb(now: number): fc.Arbitrary<RetainedBackup[]> {
  return fc
    .array(
      fc.record({
        time: fc.integer({ min: now - 3 * 365 * DAY, max: now + 2 * DAY }),
        verified: fc.boolean(),
        locked: fc.oneof(fc.constant(undefined), fc.integer({ min: now - 30 * DAY, max: now + 30 * DAY })),
        legalHold: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.03),
        inUse: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.02),
      }),
      { maxLength: 120 },
    )
    .map((items) =>
      items.map((item, i) => ({
        id: `b${String(i).padStart(4, '0')}`,
        time: item.time,
        verified: item.verified,
        ...(item.locked !== undefined ? { lockedUntil: item.locked } : {}),
        ...(item.legalHold ? { legalHold: true } : {}),
        ...(item.inUse ? { inUseBy: 'arn:aws:states:us-east-1:111111111111:execution:rt:x' } : {}),
      })),
    );
}

const nowArb = fc.integer({ min: START_2000 + 4 * 365 * DAY, max: END_2040 });
const scenarioArb = nowArb.chain((now) => fc.record({ now: fc.constant(now), rules: rulesArb, backups: historyArb(now) }));

describe('decideRetention: properties over random histories and time zones', () => {
  it('never deletes the newest verified backup', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, rules, backups }) => {
        const newest = [...backups].filter((b) => b.verified).sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1))[0];
        const decisions = decideRetention(backups, rules, now);
        if (newest) expect(decisions.find((d) => d.id === newest.id)).toMatchObject({ keep: true, reasons: expect.arrayContaining(['newest verified']) });
      }),
      { numRuns: 2000 },
    );
  });

  it('never deletes a backup under Object Lock retention, a legal hold, or in use', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, rules, backups }) => {
        const decisions = new Map(decideRetention(backups, rules, now).map((d) => [d.id, d]));
        for (const backup of backups) {
          const decision = decisions.get(backup.id)!;
          if ((backup.lockedUntil ?? 0) > now) expect(decision.reasons).toContain(`locked until ${new Date(backup.lockedUntil!).toISOString()}`);
          if (backup.legalHold) expect(decision.reasons).toContain('legal hold');
          if (backup.inUseBy) expect(decision.keep).toBe(true);
          if (backup.time > now) expect(decision.reasons).toContain('dated in the future');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never leaves fewer than minimumKeep backups', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, rules, backups }) => {
        const count = kept(decideRetention(backups, rules, now)).length;
        expect(count).toBeGreaterThanOrEqual(Math.min(rules.minimumKeep ?? 0, backups.length));
      }),
      { numRuns: 2000 },
    );
  });

  it('deletes nothing more when applied a second time', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, rules, backups }) => {
        const first = decideRetention(backups, rules, now);
        const keptIds = new Set(kept(first));
        const remaining = backups.filter((b) => keptIds.has(b.id));
        const second = decideRetention(remaining, rules, now);
        expect(second.filter((d) => !d.keep).map((d) => d.id)).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps exactly what restic keeps when nothing is protected', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, rules, backups }) => {
        const plain = backups.filter((b) => b.time <= now).map(({ id, time }) => ({ id, time }));
        const unfloored = { ...rules, minimumKeep: 0 };
        expect(new Set(kept(decideRetention(plain, unfloored, now)))).toEqual(resticKeeps(plain, unfloored));
      }),
      { numRuns: 1000 },
    );
  });

  it('every kept backup has a reason and no deleted backup has one; the result is newest first', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, rules, backups }) => {
        const decisions = decideRetention(backups, rules, now);
        expect(decisions).toHaveLength(backups.length);
        for (const d of decisions) expect(d.keep).toBe(d.reasons.length > 0);
        for (let i = 1; i < decisions.length; i++) expect(decisions[i - 1].time).toBeGreaterThanOrEqual(decisions[i].time);
      }),
      { numRuns: 500 },
    );
  });

  it('isoWeekKey agrees with counting from the Thursday, 1900-2100', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 11, 31) }), (time) => {
        const d = new Date(time);
        const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
        expect(isoWeekKey(y, m, day)).toBe(referenceIsoWeek(y, m, day));
      }),
      { numRuns: 5000 },
    );
  });
});

describe("decideRetention: restic's documented examples", () => {
  it('one backup every Sunday for 12 weeks, keep daily 4: the last four Sundays', () => {
    // restic docs, "Removing snapshots according to a policy": 2019-09-01 … 2019-11-17, Sundays at 11:00.
    const backups = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, time: Date.UTC(2019, 8, 1 + 7 * i, 11) }));
    const decisions = decideRetention(backups, { daily: 4, timeZone: 'UTC' }, Date.UTC(2019, 10, 18));
    expect(kept(decisions)).toEqual(['s11', 's10', 's9', 's8']);
    expect(decisions.filter((d) => d.keep).map((d) => d.reasons)).toEqual([['daily 1 of 4'], ['daily 2 of 4'], ['daily 3 of 4'], ['daily 4 of 4']]);
  });

  it('daily backups for 100 years, keep daily 7 weekly 5 monthly 12 yearly 75', () => {
    // restic docs: "the most recent 7 daily snapshots and 4 last-day-of-the-week ones … 12 or 11 last-day-of-the-month
    // … 75 or 74 last-day-of-the-year snapshots".
    const backups: RetainedBackup[] = [];
    // The last one on Sunday 2024-12-29, so that the 7 dailies are one ISO week (restic: "already include 1 weekly").
    for (let t = Date.UTC(1925, 0, 1, 11); t < Date.UTC(2024, 11, 30); t += DAY) backups.push({ id: String(t), time: t });
    const decisions = decideRetention(backups, { daily: 7, weekly: 5, monthly: 12, yearly: 75, timeZone: 'UTC' }, Date.UTC(2025, 0, 1));
    // A backup counts for the first rule (in restic's order) that kept it.
    const firstRule = (d: { reasons: readonly string[] }) => CALENDAR_RULES.find((rule) => d.reasons.some((r) => r.startsWith(`${rule} `)));
    const by = (rule: string) => decisions.filter((d) => d.keep && firstRule(d) === rule).length;
    expect(by('daily')).toBe(7);
    expect(by('weekly')).toBe(4);
    expect([11, 12]).toContain(by('monthly'));
    expect([74, 75]).toContain(by('yearly'));
    expect(kept(decisions)).toHaveLength(7 + 4 + by('monthly') + by('yearly'));
    // The newest (a Sunday) is daily 1, weekly 1, monthly 1 and yearly 1 at once.
    expect(decisions[0].reasons).toEqual(['daily 1 of 7', 'weekly 1 of 5', 'monthly 1 of 12', 'yearly 1 of 75']);
  });

  it('keeps the oldest backup too while a calendar rule has count left', () => {
    const backups = [0, 1, 2].map((i) => ({ id: `d${i}`, time: Date.UTC(2024, 0, 10, 2 + i) }));
    const decisions = decideRetention(backups, { daily: 7, timeZone: 'UTC' }, Date.UTC(2024, 0, 11));
    expect(decisions.map((d) => [d.id, d.reasons])).toEqual([
      ['d2', ['daily 1 of 7']],
      ['d1', []],
      ['d0', ['oldest daily']],
    ]);
  });
});

describe('decideRetention: rules and reasons', () => {
  const now = Date.UTC(2024, 5, 30, 12);

  it('buckets days in the policy time zone', () => {
    // 23:30 UTC on the 9th is already the 10th in Berlin: both backups fall on the same Berlin day.
    const backups = [
      { id: 'late', time: Date.UTC(2024, 5, 9, 23, 30) },
      { id: 'early', time: Date.UTC(2024, 5, 10, 8) },
      { id: 'before', time: Date.UTC(2024, 5, 9, 8) },
    ];
    expect(kept(decideRetention(backups, { daily: 2, timeZone: 'UTC' }, now))).toEqual(['early', 'late']);
    expect(kept(decideRetention(backups, { daily: 2, timeZone: 'Europe/Berlin' }, now))).toEqual(['early', 'before']);
  });

  it('keepWithin counts back from the newest backup, not from now', () => {
    const backups = [0, 1, 2, 3].map((i) => ({ id: `d${i}`, time: Date.UTC(2024, 0, 10 - i) }));
    const decisions = decideRetention(backups, { withinSeconds: 2 * 86_400, timeZone: 'UTC' }, now);
    expect(decisions.map((d) => [d.id, d.reasons])).toEqual([
      ['d0', ['within 2d of the newest']],
      ['d1', ['within 2d of the newest']],
      ['d2', []],
      ['d3', []],
    ]);
  });

  it('names every protection, and minimumKeep keeps the newest of the rest', () => {
    const backups: RetainedBackup[] = [
      { id: 'newest', time: now - 1 * DAY },
      { id: 'verified', time: now - 2 * DAY, verified: true },
      { id: 'older-verified', time: now - 3 * DAY, verified: true },
      { id: 'locked', time: now - 4 * DAY, lockedUntil: now + DAY },
      { id: 'lock-expired', time: now - 5 * DAY, lockedUntil: now - 1 },
      { id: 'held', time: now - 6 * DAY, legalHold: true },
      { id: 'picked', time: now - 7 * DAY, inUseBy: 'rt-1', tiers: ['weekly'] },
      { id: 'plain', time: now - 8 * DAY },
    ];
    const decisions = decideRetention(backups, { last: 1, minimumKeep: 7, timeZone: 'UTC' }, now);
    expect(decisions.map((d) => [d.id, d.reasons])).toEqual([
      ['newest', ['last 1 of 1']],
      ['verified', ['newest verified']],
      ['older-verified', ['minimumKeep 7']],
      ['locked', [`locked until ${new Date(now + DAY).toISOString()}`]],
      ['lock-expired', ['minimumKeep 7']],
      ['held', ['legal hold']],
      ['picked', ['in use by rt-1']],
      ['plain', []],
    ]);
    expect(decisions.find((d) => d.id === 'picked')?.tiers).toEqual(['weekly']);
  });

  it('refuses a policy that keeps nothing, bad counts, an unknown time zone and duplicate ids', () => {
    expect(retentionRulesProblems({ timeZone: 'UTC', minimumKeep: 3 })).toEqual([expect.stringContaining('the policy keeps nothing')]);
    expect(retentionRulesProblems({ timeZone: 'Mars/Olympus', daily: 1.5 })).toEqual([
      'daily must be a whole number from 0 to 10000; got 1.5',
      'timeZone must be an IANA time zone such as "Europe/Berlin"; got "Mars/Olympus"',
    ]);
    expect(() => decideRetention([], { timeZone: 'UTC' }, now)).toThrow(/keeps nothing/);
    expect(() => decideRetention([{ id: 'a', time: 1 }, { id: 'a', time: 2 }], { last: 1, timeZone: 'UTC' }, now)).toThrow(/appears twice/);
    for (const rule of CALENDAR_RULES) expect(keepsNothing({ [rule]: 1, timeZone: 'UTC' })).toBe(false);
  });
});
