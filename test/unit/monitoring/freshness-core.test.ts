import { spawnSync } from 'child_process';
import * as path from 'path';
import {
  FreshnessDatum,
  GoodRunsFound,
  MIN_SIZE_HISTORY,
  freshnessMetrics,
  goodRun,
  median,
  monthPrefixes,
  parseFreshnessTargets,
  reportKeyTime,
} from '../../../lambda/monitoring/freshness-core';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const HOUR = 3600;
const DAY = 86_400;

function run(finishedAt: string, dumpBytes?: number) {
  return { key: `reports/backup/${finishedAt}.json`, finishedAt: new Date(finishedAt), ...(dumpBytes !== undefined ? { dumpBytes } : {}) };
}
function found(runs: GoodRunsFound['runs'], searchedBack = new Date(NOW.getTime() - 30 * DAY * 1000)): GoodRunsFound {
  return { runs, reads: runs.length, searchedBack };
}
const value = (data: FreshnessDatum[], name: string) => data.find((d) => d.name === name)?.value;

describe('freshnessMetrics: the age of the newest good run', () => {
  it('is the seconds since the newest good run ended', () => {
    expect(freshnessMetrics('backup', found([run('2026-03-09T12:00:00.000Z')]), NOW)).toEqual([{ name: 'LatestBackupAgeSeconds', unit: 'Seconds', value: DAY }]);
  });

  it('no good run ever: the whole look-back searched (a lower bound above any threshold it was sized for)', () => {
    const searchedBack = new Date(NOW.getTime() - 28 * DAY * 1000);
    expect(freshnessMetrics('backup', found([], searchedBack), NOW)).toEqual([{ name: 'LatestBackupAgeSeconds', unit: 'Seconds', value: 28 * DAY }]);
  });

  it('no good run within maxReads reads: counts from the oldest report read, not from the look-back', () => {
    const searchedBack = new Date(NOW.getTime() - 3 * DAY * 1000);
    expect(value(freshnessMetrics('recovery-test', found([], searchedBack), NOW), 'LatestPassedRecoveryTestAgeSeconds')).toBe(3 * DAY);
  });

  it('exactly at a 26-hour RPO the age equals the threshold (the alarm is GreaterThanThreshold: not yet breaching)', () => {
    const data = freshnessMetrics('backup', found([run('2026-03-09T10:00:00.000Z')]), NOW);
    expect(value(data, 'LatestBackupAgeSeconds')).toBe(26 * HOUR);
  });

  it('one second past the threshold is above it', () => {
    expect(value(freshnessMetrics('backup', found([run('2026-03-09T09:59:59.000Z')]), NOW), 'LatestBackupAgeSeconds')).toBe(26 * HOUR + 1);
  });

  it('rounds milliseconds to the nearest second', () => {
    expect(value(freshnessMetrics('backup', found([run('2026-03-10T11:59:58.400Z')]), NOW), 'LatestBackupAgeSeconds')).toBe(2);
    expect(value(freshnessMetrics('backup', found([run('2026-03-10T11:59:58.600Z')]), NOW), 'LatestBackupAgeSeconds')).toBe(1);
  });

  it('a run that ended after "now" (clock skew) is age 0, never negative', () => {
    expect(value(freshnessMetrics('failover', found([run('2026-03-10T12:05:00.000Z')]), NOW), 'LatestFailoverRehearsalAgeSeconds')).toBe(0);
  });

  it('names the metric after the workflow', () => {
    const r = found([run('2026-03-10T11:00:00.000Z')]);
    expect(freshnessMetrics('recovery-test', r, NOW).map((d) => d.name)).toEqual(['LatestPassedRecoveryTestAgeSeconds']);
    expect(freshnessMetrics('failover', r, NOW).map((d) => d.name)).toEqual(['LatestFailoverRehearsalAgeSeconds']);
  });

  it('across the US spring-forward night (2026-03-08, a 23-hour local day) a day is still 86 400 s: the age is UTC arithmetic', () => {
    const now = new Date('2026-03-08T12:00:00.000Z');
    expect(value(freshnessMetrics('backup', found([run('2026-03-07T12:00:00.000Z')]), now), 'LatestBackupAgeSeconds')).toBe(DAY);
  });

  it('across the EU fall-back night (2026-10-25, a 25-hour local day) likewise', () => {
    const now = new Date('2026-10-25T12:00:00.000Z');
    expect(value(freshnessMetrics('backup', found([run('2026-10-24T12:00:00.000Z')]), now), 'LatestBackupAgeSeconds')).toBe(DAY);
  });
});

describe('freshnessMetrics: the size ratio of backups', () => {
  it('is the newest dump bytes over the median of the earlier ones', () => {
    const data = freshnessMetrics('backup', found([run('2026-03-10T01:00:00.000Z', 40), run('2026-03-09T01:00:00.000Z', 100), run('2026-03-08T01:00:00.000Z', 80), run('2026-03-07T01:00:00.000Z', 120)]), NOW);
    expect(value(data, 'LatestBackupSizeRatio')).toBe(0.4);
  });

  it(`needs exactly ${MIN_SIZE_HISTORY} earlier backups: with ${MIN_SIZE_HISTORY - 1} there is no ratio`, () => {
    const two = found([run('2026-03-10T01:00:00.000Z', 10), run('2026-03-09T01:00:00.000Z', 100), run('2026-03-08T01:00:00.000Z', 100)]);
    expect(value(freshnessMetrics('backup', two, NOW), 'LatestBackupSizeRatio')).toBeUndefined();
    const three = found([...two.runs, run('2026-03-07T01:00:00.000Z', 100)]);
    expect(value(freshnessMetrics('backup', three, NOW), 'LatestBackupSizeRatio')).toBe(0.1);
  });

  it('exactly half the median is 0.5 (the alarm is LessThanThreshold 0.5: not breaching)', () => {
    const data = freshnessMetrics('backup', found([run('2026-03-10T01:00:00.000Z', 50), run('2026-03-09T01:00:00.000Z', 100), run('2026-03-08T01:00:00.000Z', 100), run('2026-03-07T01:00:00.000Z', 100)]), NOW);
    expect(value(data, 'LatestBackupSizeRatio')).toBe(0.5);
  });

  it('a newest good run without dumps (snapshot only) sets the age; the ratio comes from the runs with dumps', () => {
    const data = freshnessMetrics(
      'backup',
      found([run('2026-03-10T11:00:00.000Z'), run('2026-03-10T01:00:00.000Z', 30), run('2026-03-09T01:00:00.000Z', 60), run('2026-03-08T01:00:00.000Z', 60), run('2026-03-07T01:00:00.000Z', 60)]),
      NOW,
    );
    expect(value(data, 'LatestBackupAgeSeconds')).toBe(HOUR);
    expect(value(data, 'LatestBackupSizeRatio')).toBe(0.5);
  });

  it('no ratio when the earlier backups were empty (median 0), nor for recovery tests and rehearsals', () => {
    const zeros = [run('2026-03-10T01:00:00.000Z', 10), run('2026-03-09T01:00:00.000Z', 0), run('2026-03-08T01:00:00.000Z', 0), run('2026-03-07T01:00:00.000Z', 0)];
    expect(value(freshnessMetrics('backup', found(zeros), NOW), 'LatestBackupSizeRatio')).toBeUndefined();
    const sized = [run('2026-03-10T01:00:00.000Z', 10), run('2026-03-09T01:00:00.000Z', 100), run('2026-03-08T01:00:00.000Z', 100), run('2026-03-07T01:00:00.000Z', 100)];
    expect(freshnessMetrics('recovery-test', found(sized), NOW)).toHaveLength(1);
  });

  it('median: odd and even counts, unsorted input', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('report keys and months', () => {
  it('reportKeyTime reads the UTC start from the key, and nothing from a key without one or with an impossible date', () => {
    expect(reportKeyTime('reports/backup/2026/03/10/20260310T013000.250Z-exec-1.json')?.toISOString()).toBe('2026-03-10T01:30:00.250Z');
    expect(reportKeyTime('reports/backup/2026/03/10/latest.json')).toBeUndefined();
    expect(reportKeyTime('reports/backup/2026/03/10/20260310T013000.250Z-exec-1.json.tmp')).toBeUndefined();
    expect(reportKeyTime('reports/backup/2026/02/30/20260230T000000.000Z-x.json')).toBeUndefined();
    expect(reportKeyTime('reports/backup/2028/02/29/20280229T235959.999Z-x.json')?.toISOString()).toBe('2028-02-29T23:59:59.999Z');
    expect(reportKeyTime('reports/backup/2026/13/01/20261301T000000.000Z-x.json')).toBeUndefined();
  });

  it('monthPrefixes: newest first, across a year end, one month when from and to share it', () => {
    expect(monthPrefixes('reports/backup/', new Date('2025-11-20T00:00:00Z'), new Date('2026-02-01T00:00:00Z'))).toEqual([
      'reports/backup/2026/02/',
      'reports/backup/2026/01/',
      'reports/backup/2025/12/',
      'reports/backup/2025/11/',
    ]);
    expect(monthPrefixes('p/', new Date('2026-03-01T00:00:00Z'), new Date('2026-03-31T23:59:59Z'))).toEqual(['p/2026/03/']);
  });

  it('monthPrefixes: an instant that is already the next month in UTC but not in New York uses the UTC month', () => {
    // 2026-04-01T02:00Z is still March 31 in America/New_York: the reports are keyed by UTC.
    expect(monthPrefixes('p/', new Date('2026-04-01T02:00:00Z'), new Date('2026-04-01T03:00:00Z'))).toEqual(['p/2026/04/']);
  });

  it('goodRun: only SUCCEEDED reports of the source with a valid end; dump bytes only when dumps were made', () => {
    const ok = { source: 'orders', status: 'SUCCEEDED', finishedAt: '2026-03-10T01:00:00Z', totals: { dumps: 2, dumpBytes: 900 } };
    expect(goodRun('k', ok, 'orders')).toEqual({ key: 'k', finishedAt: new Date('2026-03-10T01:00:00Z'), dumpBytes: 900 });
    expect(goodRun('k', { ...ok, source: 'billing' }, 'orders')).toBeUndefined();
    expect(goodRun('k', { ...ok, status: 'FAILED' }, 'orders')).toBeUndefined();
    expect(goodRun('k', { ...ok, finishedAt: 'yesterday' }, 'orders')).toBeUndefined();
    expect(goodRun('k', { ...ok, totals: { dumps: 0, dumpBytes: 0 } }, 'orders')).toEqual({ key: 'k', finishedAt: new Date('2026-03-10T01:00:00Z') });
  });

  it('goodRun: a finishedAt with an offset is the same instant as its UTC form', () => {
    const report = { source: 'orders', status: 'SUCCEEDED', finishedAt: '2026-03-10T02:00:00+01:00' };
    expect(goodRun('k', report, 'orders')?.finishedAt.toISOString()).toBe('2026-03-10T01:00:00.000Z');
  });
});

describe('parseFreshnessTargets', () => {
  it('accepts the targets the construct writes', () => {
    expect(parseFreshnessTargets('[{"kind":"backup","bucket":"b","source":"orders","lookBackSeconds":7200}]')).toEqual([{ kind: 'backup', bucket: 'b', source: 'orders', lookBackSeconds: 7200 }]);
  });

  it('refuses what is not JSON, an empty list, an unknown kind and a look-back under an hour, naming the field', () => {
    expect(() => parseFreshnessTargets('nope')).toThrow(/FRESHNESS_TARGETS must be JSON/);
    expect(() => parseFreshnessTargets('[]')).toThrow(/non-empty array/);
    expect(() => parseFreshnessTargets('[{"kind":"snapshot","bucket":"b","source":"s","lookBackSeconds":7200}]')).toThrow(/FRESHNESS_TARGETS\[0\]\.kind/);
    expect(() => parseFreshnessTargets('[{"kind":"backup","bucket":"b","source":"s","lookBackSeconds":60}]')).toThrow(/FRESHNESS_TARGETS\[0\]\.lookBackSeconds/);
  });
});

describe('independent of the process time zone', () => {
  // The same computations in child processes with other TZs (Node reads TZ at start-up) must give the same answers.
  const script = `
    const core = require(${JSON.stringify(path.resolve(__dirname, '../../../lambda/monitoring/freshness-core.ts'))});
    const now = new Date('2026-03-29T01:30:00.000Z');
    const runs = [
      { key: 'a', finishedAt: new Date('2026-03-28T23:30:00.000Z'), dumpBytes: 10 },
      { key: 'b', finishedAt: new Date('2026-03-27T23:30:00.000Z'), dumpBytes: 40 },
      { key: 'c', finishedAt: new Date('2026-03-26T23:30:00.000Z'), dumpBytes: 40 },
      { key: 'd', finishedAt: new Date('2026-03-25T23:30:00.000Z'), dumpBytes: 40 },
    ];
    process.stdout.write(JSON.stringify({
      tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
      metrics: core.freshnessMetrics('backup', { runs, reads: 4, searchedBack: now }, now),
      months: core.monthPrefixes('p/', new Date('2026-02-28T23:30:00.000Z'), new Date('2026-04-01T00:30:00.000Z')),
      key: core.reportKeyTime('reports/backup/2026/03/29/20260329T010000.000Z-x.json').toISOString(),
    }));`;
  const expected = {
    metrics: [
      { name: 'LatestBackupAgeSeconds', unit: 'Seconds', value: 2 * HOUR },
      { name: 'LatestBackupSizeRatio', unit: 'None', value: 0.25 },
    ],
    months: ['p/2026/04/', 'p/2026/03/', 'p/2026/02/'],
    key: '2026-03-29T01:00:00.000Z',
  };

  // Europe/London springs forward at 01:00 UTC on 2026-03-29 (inside the computed age); Pacific/Kiritimati is UTC+14,
  // Pacific/Pago_Pago UTC-11: they disagree with UTC on the calendar date of every instant above.
  it.each(['UTC', 'Europe/London', 'America/New_York', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Australia/Lord_Howe'])('TZ=%s', (tz) => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    const out = JSON.parse(child.stdout) as { tz: string } & typeof expected;
    expect(out.tz).toBe(tz);
    expect({ metrics: out.metrics, months: out.months, key: out.key }).toEqual(expected);
  });
});
