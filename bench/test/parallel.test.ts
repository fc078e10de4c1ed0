/** Unit tests of the parallel-dump bench's pure parts (`npx tsx --test bench/test/*.test.ts`). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../lib/args';
import {
  formatParallelMarkdown, parallelContender, parallelVerdict, rowsPerTable, similarTablesSql, summarizeParallel,
} from '../lib/parallel';
import type { Measurement } from '../lib/report';

function m(contender: string, wallSeconds: number, extra: Partial<Measurement> = {}): Measurement {
  return { contender, database: 'db', round: 1, ok: true, wallSeconds, treePeakRssKb: 1000, loadavg1: 1.5, ...extra };
}

describe('--parallel', () => {
  it('defaults to 2 jobs, takes a number, and implies no doubled database and no restore', () => {
    assert.deepEqual(
      { ...parseArgs(['--parallel', '--size-mb', '256']) },
      { ...parseArgs(['--parallel', '2', '--size-mb', '256']) },
    );
    const options = parseArgs(['--parallel', '3']);
    assert.equal(options.parallel, 3);
    assert.equal(options.double, false);
    assert.equal(options.restore, false);
    assert.equal(options.name, 'parallel');
  });

  it('refuses 1 job and a combination with --levels or the retention suite', () => {
    assert.throws(() => parseArgs(['--parallel', '1']), /2 or more jobs/);
    assert.throws(() => parseArgs(['--parallel', '--levels']), /--parallel is a mode of the dump suite of its own/);
    assert.throws(() => parseArgs(['--suite', 'retention', '--parallel']), /--parallel is a mode/);
  });
});

describe('parallel bench data', () => {
  it('makes tables of the same number of rows that add up to about the size asked', () => {
    const sql = similarTablesSql(4, 1000);
    assert.equal(sql.length, 4);
    assert.ok(sql.every((s, i) => s.includes(`bench.part_${i + 1}`) && s.includes('generate_series(1, 1000)')));
    assert.equal(rowsPerTable(256, 4), Math.round((256 * 1048576) / 520 / 4));
    assert.throws(() => similarTablesSql(0, 1), /tables must be a positive integer/);
  });
});

describe('parallel summary', () => {
  const runs = [
    m(parallelContender(1), 10, { bytes: 100, cpuSeconds: { client: 9, server: 2 } }),
    m(parallelContender(1), 12, { bytes: 100, cpuSeconds: { client: 9.5, server: 2.2 } }),
    m(parallelContender(2), 7, { bytes: 104, cpuSeconds: { client: 10, server: 2.5 } }),
    m(parallelContender(2), 8, { bytes: 104, cpuSeconds: { client: 10.4, server: 2.4 } }),
    m(parallelContender(2), 30, { ok: false, error: 'boom' }),
  ];

  it('summarizes each contender over its successful runs and compares the medians with the 0.65 target', () => {
    const single = summarizeParallel(runs, 1);
    const parallel = summarizeParallel(runs, 2);
    assert.equal(single.wallSeconds?.median, 11);
    assert.equal(parallel.wallSeconds?.median, 7.5);
    assert.equal(parallel.failed, 1);
    assert.equal(parallel.bytes, 104);
    const { ratio, verdict } = parallelVerdict(single, parallel);
    assert.equal(ratio, 0.682);
    assert.equal(verdict.status, 'fail');
    assert.equal(parallelVerdict(single, summarizeParallel([m(parallelContender(2), 7)], 2)).verdict.status, 'pass');
    assert.equal(parallelVerdict(single, summarizeParallel([], 2)).verdict.status, 'not-available');
  });

  it('prints one Markdown row per contender with wall spread, size, CPU and load', () => {
    const table = formatParallelMarkdown([summarizeParallel(runs, 1), summarizeParallel(runs, 2)]);
    const lines = table.split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[2], /^\| dump core -Fc \(single stream\) \| 11\.0 \(10\.0–12\.0\) \|/);
    assert.match(lines[3], /1 of 3 runs failed$/);
  });
});
