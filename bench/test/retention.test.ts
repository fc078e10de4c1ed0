/**
 * The retention bench's naive baseline keeps exactly what decideRetention keeps (on random hourly to weekly histories
 * in several time zones, including the DST changes), so the bench compares two implementations of the same decision.
 * Run with `npx tsx --test bench/test/*.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRetention, type RetainedBackup, type RetentionRules } from '../../lambda/retention/policy';
import { parseArgs } from '../lib/args';
import { hourlyBackups, naiveKeptIds } from '../lib/retention';

/** A deterministic pseudo-random generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function keptByDecision(backups: readonly RetainedBackup[], rules: RetentionRules, now: number): string[] {
  return decideRetention(backups, rules, now).filter((d) => d.keep).map((d) => d.id).sort();
}

describe('retention bench', () => {
  it('generates hourly backups, oldest first, the newest at the given time', () => {
    const backups = hourlyBackups(3, Date.UTC(2026, 5, 30, 23));
    assert.deepEqual(backups.map((b) => new Date(b.time).toISOString()), ['2026-06-30T21:00:00.000Z', '2026-06-30T22:00:00.000Z', '2026-06-30T23:00:00.000Z']);
    assert.equal(new Set(backups.map((b) => b.id)).size, 3);
  });

  it('the naive baseline keeps exactly what decideRetention keeps', () => {
    const next = random(12);
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'];
    for (let trial = 0; trial < 60; trial++) {
      const newest = Date.UTC(2026, 0, 1) + Math.floor(next() * 5 * 365) * 86_400_000 + Math.floor(next() * 86_400_000);
      const count = 1 + Math.floor(next() * 400);
      const step = [3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000][Math.floor(next() * 4)];
      const backups: RetainedBackup[] = Array.from({ length: count }, (_, i) => ({
        id: `b${i}`,
        time: newest - i * step - Math.floor(next() * step * 0.5),
        verified: next() < 0.8,
      }));
      const rules: RetentionRules = {
        last: Math.floor(next() * 3),
        daily: Math.floor(next() * 10),
        weekly: Math.floor(next() * 6),
        monthly: Math.floor(next() * 14),
        yearly: 1 + Math.floor(next() * 3),
        withinSeconds: next() < 0.3 ? Math.floor(next() * 5) * 86_400 : 0,
        timeZone: zones[trial % zones.length],
      };
      const now = newest + Math.floor(next() * 86_400_000) - 3_600_000; // sometimes the newest is in the future
      assert.deepEqual([...naiveKeptIds(backups, rules, now)].sort(), keptByDecision(backups, rules, now), `trial ${trial}: ${JSON.stringify(rules)}`);
    }
  });

  it('over the bench history: the GFS policy keeps the same backups in both implementations', () => {
    const backups = hourlyBackups(20_000, Date.UTC(2026, 5, 30, 23));
    for (const timeZone of ['UTC', 'Europe/Berlin']) {
      const rules: RetentionRules = { daily: 7, weekly: 4, monthly: 12, yearly: 3, timeZone };
      const now = Date.UTC(2026, 5, 30, 23, 30);
      assert.deepEqual([...naiveKeptIds(backups, rules, now)].sort(), keptByDecision(backups, rules, now));
    }
  });

  it('parses --suite retention with its defaults, and refuses an unknown suite', () => {
    const options = parseArgs(['--suite', 'retention']);
    assert.equal(options.suite, 'retention');
    assert.equal(options.backups, 100_000);
    assert.equal(options.s3Backups, 5_000);
    assert.equal(options.repeats, 15);
    assert.equal(options.name, 'retention');
    const quick = parseArgs(['--suite', 'retention', '--quick', '--backups', '2000']);
    assert.deepEqual([quick.backups, quick.s3Backups, quick.repeats, quick.name], [2000, 500, 3, 'retention-quick']);
    assert.equal(parseArgs([]).suite, 'dump');
    assert.throws(() => parseArgs(['--suite', 'restore']), /--suite must be dump or retention/);
  });
});
