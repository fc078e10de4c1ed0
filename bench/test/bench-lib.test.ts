/**
 * Unit tests of the bench's pure pieces. Run with `npx tsx --test bench/test/*.test.ts` (node's test runner; the
 * jest projects only cover test/).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs, parseVariant } from '../lib/args';
import { batchSql } from '../lib/generate';
import {
  parseGnuTime, parseSchedstat, parseStatComm, parseStatCpuSeconds, parseStatmRssKb, parseStatPpid, parseStealSeconds,
  schedulingByProgram, shellQuote,
} from '../lib/measure';
import { dumpVerdicts, formatTable, memoryVerdict, restoreVerdicts, summarizeContender, wallRatio, type Measurement } from '../lib/report';
import { differingCounts, flatVerdict, interleave, ratio, summarize } from '../lib/stats';
import { parseChildOutput, RESULT_PREFIX } from '../children/protocol';
import { awsCliCandidates, findTool } from '../lib/tools';
import { DEFAULT_LEVELS, formatLevelsMarkdown, levelContender, parseLevels, summarizeLevel } from '../lib/levels';

function m(contender: string, wallSeconds: number, extra: Partial<Measurement> = {}): Measurement {
  return { contender, database: 'db', round: 1, ok: true, wallSeconds, treePeakRssKb: 1000, loadavg1: 0, ...extra };
}

describe('stats', () => {
  it('compares row counts by table, whatever order the keys come in', () => {
    const expected = { 'bench.customers': 52754, 'bench.orders': 211016, 'bench.events': 316524 };
    assert.deepEqual(differingCounts({ 'bench.customers': 52754, 'bench.events': 316524, 'bench.orders': 211016 }, expected), []);
    assert.deepEqual(differingCounts({ 'bench.customers': 52754, 'bench.events': 1 }, expected), ['bench.events', 'bench.orders']);
  });


  it('summarizes odd and even counts', () => {
    assert.deepEqual(summarize([3, 1, 2]), { n: 3, median: 2, min: 1, max: 3 });
    assert.deepEqual(summarize([4, 1, 3, 2]), { n: 4, median: 2.5, min: 1, max: 4 });
    assert.throws(() => summarize([]), /at least one/);
  });

  it('refuses a ratio over zero', () => {
    assert.equal(ratio(11, 10), 1.1);
    assert.equal(ratio(1, 0), undefined);
  });

  it('calls memory flat only within the tolerance', () => {
    assert.equal(flatVerdict('t', 100_000, 109_000, 0.1).status, 'pass');
    assert.equal(flatVerdict('t', 100_000, 111_000, 0.1).status, 'fail');
    assert.equal(flatVerdict('t', 100_000, undefined, 0.1).status, 'not-available');
  });

  it('interleaves contenders round by round', () => {
    assert.deepEqual(interleave(['a', 'b'], 2).map((x) => `${x.contender}${x.round}`), ['a1', 'b1', 'a2', 'b2']);
  });
});

describe('report', () => {
  const runs = [
    m('core', 10, { innerSeconds: 9, coreMaxRssKb: 100 * 1024 }),
    m('core', 12, { innerSeconds: 11, coreMaxRssKb: 110 * 1024 }),
    m('core', 99, { ok: false, error: 'boom' }),
    m('raw', 10), m('raw', 10.5),
    m('aws', 20), m('aws', 21),
  ];

  it('summarizes only successful runs and counts failures', () => {
    const s = summarizeContender(runs, 'core', 'db');
    assert.equal(s.runs, 3);
    assert.equal(s.failed, 1);
    assert.equal(s.wallSeconds?.median, 11);
    assert.equal(s.coreMaxRssKb?.max, 110 * 1024);
    assert.equal(s.wallSpread, 0.182);
  });

  it('judges the dump targets', () => {
    const core = summarizeContender(runs, 'core', 'db');
    const raw = summarizeContender(runs, 'raw', 'db');
    const aws = summarizeContender(runs, 'aws', 'db');
    assert.equal(wallRatio('x', core, raw).median, 1.073);
    assert.equal(wallRatio('x', core, raw).innerMedian, 0.976);
    // core 11 s (defaults), core at gzip:6 10.25 s vs `pg_dump | cat` 10.25 s, awscli 20.5 s: 1.0x, 0.537x.
    const verdicts = dumpVerdicts({ core, coreAtPgDumpDefault: raw, cat: raw, awscli: aws, coreBytes: 110, awscliBytes: 100 });
    assert.deepEqual(verdicts.map((v) => v.status), ['pass', 'pass', 'pass', 'not-available']);
    assert.match(verdicts[1].measured, /^0\.537x$/);
    const slow = summarizeContender([m('core', 30, { coreMaxRssKb: 200 * 1024 })], 'core', 'db');
    assert.deepEqual(dumpVerdicts({ core: slow, coreAtPgDumpDefault: slow, cat: raw, awscli: aws, coreDouble: slow,
      coreBytes: 126, awscliBytes: 100 }).map((v) => v.status), ['fail', 'fail', 'fail', 'pass']);
  });

  it('holds every core mode to the one memory limit and names the worst', () => {
    const small = summarizeContender([m('dump', 10, { coreMaxRssKb: 120 * 1024 })], 'dump', 'db');
    const big = summarizeContender([m('restore', 10, { coreMaxRssKb: 151 * 1024 })], 'restore', 'db');
    assert.equal(memoryVerdict([small, undefined]).status, 'pass');
    const worst = memoryVerdict([small, big]);
    assert.equal(worst.status, 'fail');
    assert.match(worst.measured, /^151\.0 MiB \(restore on db; 2 modes\)$/);
    assert.equal(memoryVerdict([undefined]).status, 'not-available');
  });

  it('judges the restore targets, and marks them not available without the restore core', () => {
    const raw = summarizeContender(runs, 'raw', 'db');
    const core = summarizeContender(runs, 'core', 'db');
    const [j1, j2] = restoreVerdicts({ coreJ1: core, pgRestoreJ1: raw, coreJ2: core, pgRestoreJ2: raw });
    assert.equal(j1.status, 'fail'); // 1.073x > 1.0x
    assert.equal(j2.status, 'pass'); // 1.073x <= 1.15x
    assert.deepEqual(restoreVerdicts({ pgRestoreJ1: raw, pgRestoreJ2: raw }).map((v) => v.status), ['not-available', 'not-available']);
  });

  it('summarizes the CPU stolen during the runs and the tools\' CPU waits, apart from the run\'s own CPU', () => {
    const noisy = [
      m('core', 10, { cpuSeconds: { client: 5, server: 1, emulator: 1, steal: 0.2 }, scheduling: { pg_dump: { runSeconds: 4, waitSeconds: 0.5 } } }),
      m('core', 11, { cpuSeconds: { client: 5, server: 1, emulator: 1, steal: 1.8 }, scheduling: { pg_dump: { runSeconds: 4, waitSeconds: 0.9 } } }),
    ];
    const s = summarizeContender(noisy, 'core', 'db');
    assert.deepEqual([s.stealSeconds?.median, s.stealSeconds?.max], [1, 1.8]);
    assert.equal(s.toolWaitSeconds?.median, 0.7);
    assert.equal(s.totalCpuSeconds?.median, 7);
    assert.match(formatTable([s]), /^core\s+db\s+2\/2\s+10\.50\s+10\.00\s+-\s+5\.0\/7\.0\s+1\.80\s+0\.70/m);
  });

  it('prints one table row per contender', () => {
    const table = formatTable([summarizeContender(runs, 'core', 'db')]);
    assert.equal(table.split('\n').length, 3);
    assert.match(table, /^core\s+db\s+2\/3\s+11\.00/m);
  });
});

describe('measure parsing', () => {
  it('reads GNU time output, also after a "Command exited" line', () => {
    assert.deepEqual(parseGnuTime('12.34 56789 3.50 0.25\n'), { elapsedSeconds: 12.34, maxRssKb: 56789, cpuSeconds: 3.75 });
    assert.deepEqual(parseGnuTime('Command exited with non-zero status 1\n0.01 1234 0.00 0.01\n'),
      { elapsedSeconds: 0.01, maxRssKb: 1234, cpuSeconds: 0.01 });
    assert.throws(() => parseGnuTime('garbage'), /unexpected GNU time output/);
  });

  it('reads ppid from /proc stat even with spaces and parentheses in the command name', () => {
    assert.equal(parseStatPpid('1234 (my (odd) proc) S 42 1234 1234 0 -1'), 42);
    assert.equal(parseStatmRssKb('1000 250 10 1 0 100 0'), 1000);
    // utime 150 + stime 50 + cutime 300 + cstime 0 ticks = 5 s.
    assert.equal(parseStatCpuSeconds('77 (postgres) S 1 77 77 0 -1 4194560 10 0 0 0 150 50 300 0 20 0 1 0'), 5);
  });

  it('reads the machine-wide stolen CPU from the aggregate cpu line of /proc/stat, not a per-CPU line', () => {
    const stat = 'cpu  2155628 0 231083 1359146 8765 0 15387 98719 0 0\ncpu0 1087575 0 115269 670116 5095 0 7285 48144 0 0\n';
    assert.equal(parseStealSeconds(stat), 987.19);
    assert.equal(parseStealSeconds('cpu0 1 2 3 4 5 6 7 8 0 0\n'), undefined);
    assert.equal(parseStealSeconds('cpu  1 2 3\n'), undefined);
  });

  it('reads run and run-queue wait from schedstat and the command name from stat, and sums them by program', () => {
    assert.deepEqual(parseSchedstat('15020000000 820000000 858\n'), { runSeconds: 15.02, waitSeconds: 0.82 });
    assert.equal(parseSchedstat('garbage'), undefined);
    assert.equal(parseStatComm('1234 (pg_dump) S 42 1234'), 'pg_dump');
    assert.equal(parseStatComm('1234 (my (odd) proc) S 42'), 'my (odd) proc');
    assert.equal(parseStatComm('no parentheses'), undefined);
    const samples = new Map([
      [10, { program: 'pg_restore', runSeconds: 1.004, waitSeconds: 0.1 }],
      [11, { program: 'pg_restore', runSeconds: 2, waitSeconds: 0.206 }],
      [12, { program: 'pg_dump', runSeconds: 15, waitSeconds: 0.8 }],
    ]);
    assert.deepEqual(schedulingByProgram(samples), {
      pg_restore: { runSeconds: 3, waitSeconds: 0.31 },
      pg_dump: { runSeconds: 15, waitSeconds: 0.8 },
    });
  });

  it('quotes shell arguments', () => {
    assert.equal(shellQuote('s3://b/k.dump'), 's3://b/k.dump');
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});

describe('args', () => {
  it('has full-run defaults and a quick preset that later flags override', () => {
    assert.deepEqual(parseArgs([]), {
      suite: 'dump', backups: 100_000, s3Backups: 5_000,
      sizeMb: 300, repeats: 3, double: true, restore: true, name: 'full', quick: false, variants: [],
      profileDir: undefined,
    });
    const quick = parseArgs(['--quick', '--repeats', '2']);
    assert.equal(quick.sizeMb, 30);
    assert.equal(quick.repeats, 2);
    assert.equal(quick.name, 'quick');
  });

  it('parses tuned dump-core variants', () => {
    assert.deepEqual(parseVariant('big:part=16,queue=2,checksum=WHEN_REQUIRED'),
      { name: 'big', partSizeMb: 16, queueSize: 2, s3Checksum: 'WHEN_REQUIRED' });
    assert.deepEqual(parseArgs(['--variant', 'q1:queue=1']).variants, [{ name: 'q1', queueSize: 1 }]);
  });

  it('says what is wrong with a bad option', () => {
    assert.throws(() => parseArgs(['--size-mb', 'x']), /--size-mb needs a positive integer/);
    assert.throws(() => parseArgs(['--variant', 'x:part=4']), /at least 5/);
    assert.throws(() => parseArgs(['--variant', 'x:speed=9']), /unknown key "speed"/);
    assert.throws(() => parseArgs(['--variant', 'x:queue=2', '--variant', 'x:queue=3']), /used twice/);
    assert.throws(() => parseArgs(['--frobnicate']), /unknown option/);
    assert.throws(() => parseArgs(['--runners', '--parallel']), /--runners is a mode of the dump suite of its own/);
  });

  it('takes the runner mode: no doubled database, no restore, its own results name', () => {
    const runners = parseArgs(['--runners', '--size-mb', '100']);
    assert.equal(runners.runners, true);
    assert.deepEqual([runners.double, runners.restore, runners.name, runners.sizeMb], [false, false, 'runners', 100]);
  });
});

describe('generator', () => {
  it('derives non-overlapping ids from the unit range', () => {
    const [customers, orders, events] = batchSql(100, 50);
    assert.match(customers, /generate_series\(101, 150\)/);
    assert.match(orders, /\(g - 1\) \* 4 \+ k/);
    assert.match(events, /\(g - 1\) \* 6 \+ k/);
    assert.throws(() => batchSql(0, 0), /units >= 1/);
  });
});

describe('child protocol', () => {
  it('takes the last result line and ignores log lines', () => {
    const out = `{"level":"INFO"}\n${RESULT_PREFIX}{"ok":true,"innerSeconds":1,"maxRssKb":2,"result":{"x":1}}\n`;
    assert.deepEqual(parseChildOutput(out).result, { x: 1 });
    assert.throws(() => parseChildOutput('nothing'), /printed no BENCH_RESULT line/);
  });
});

describe('tools', () => {
  const versions: Record<string, string> = { '/usr/bin/aws': 'aws-cli/2.9.19', aws: 'aws-cli/1.45.11' };
  const probe = (path: string) => versions[path];

  it("prefers Debian's awscli, without a note", () => {
    const found = findTool(awsCliCandidates({}), probe, 'install it');
    assert.deepEqual(found, { available: true, path: '/usr/bin/aws', version: 'aws-cli/2.9.19', source: '/usr/bin/aws' });
  });

  it('falls back to the aws on PATH, saying so', () => {
    const found = findTool(awsCliCandidates({}), (p) => (p === 'aws' ? versions.aws : undefined), 'install it');
    assert.equal(found.available, true);
    assert.equal(found.available && found.path, 'aws');
    assert.match(found.available ? found.note ?? '' : '', /fallback: Debian's awscli/);
  });

  it('skips with a note naming what was tried when no aws answers', () => {
    const found = findTool(awsCliCandidates({}), () => undefined, 'apt-get install -y awscli');
    assert.deepEqual(found, {
      available: false,
      note: 'skipped: no working executable among /usr/bin/aws (/usr/bin/aws), aws (PATH); apt-get install -y awscli',
    });
  });

  it('takes AWS_CLI_PATH alone when it is set', () => {
    assert.deepEqual(awsCliCandidates({ AWS_CLI_PATH: '/opt/aws' }), [{ path: '/opt/aws', source: 'AWS_CLI_PATH' }]);
    assert.equal(findTool(awsCliCandidates({ AWS_CLI_PATH: '/opt/aws' }), probe, 'x').available, false);
  });
});

describe('levels', () => {
  it('parses bare gzip levels, none and method:level, in order', () => {
    assert.deepEqual(parseLevels('none, 1,gzip:6,zstd:5'), [
      { method: 'gzip', level: 0 }, { method: 'gzip', level: 1 }, { method: 'gzip', level: 6 }, { method: 'zstd', level: 5 },
    ]);
    assert.equal(parseLevels(DEFAULT_LEVELS).length, 5);
  });

  it('refuses bad levels and duplicates, saying what to write', () => {
    assert.throws(() => parseLevels('10'), /--levels: "10" level for gzip must be a whole number from 0 to 9; got 10/);
    assert.throws(() => parseLevels('0,none'), /--levels lists none twice/);
    assert.throws(() => parseLevels(','), /comma-separated list/);
    assert.throws(() => parseArgs(['--levels', 'fast']), /--levels: "fast"/);
  });

  it('turns --levels into a dump-only run named levels', () => {
    const options = parseArgs(['--levels', '1,3', '--size-mb', '256']);
    assert.deepEqual(options.levels, [{ method: 'gzip', level: 1 }, { method: 'gzip', level: 3 }]);
    assert.equal(options.name, 'levels');
    assert.equal(options.double, false);
    assert.equal(options.restore, false);
    assert.equal(parseArgs([]).levels, undefined);
  });

  it('summarizes a level over its successful runs and prints a Markdown row', () => {
    const gzip3 = { method: 'gzip', level: 3 } as const;
    const runs = [1, 2, 3].map((round) => m(levelContender(gzip3), 10 + round, {
      round, bytes: 100 * 1048576, coreMaxRssKb: 120 * 1024, processMaxRssKb: { node: 125 * 1024 }, cpuSeconds: { client: 9 },
    }));
    runs.push(m(levelContender(gzip3), 99, { ok: false, round: 4 }));
    const summary = summarizeLevel(runs, gzip3, 400 * 1048576);
    assert.deepEqual(summary, {
      compression: 'gzip:3', runs: 4, failed: 1,
      wallSeconds: { n: 3, median: 12, min: 11, max: 13 },
      bytes: 100 * 1048576, ofUncompressed: 0.25,
      coreMaxRssKb: { n: 3, median: 120 * 1024, min: 120 * 1024, max: 120 * 1024 },
      processMaxRssKb: { n: 3, median: 125 * 1024, min: 125 * 1024, max: 125 * 1024 },
      clientCpuSeconds: { n: 3, median: 9, min: 9, max: 9 },
      serverCpuSeconds: undefined,
    });
    assert.equal(formatLevelsMarkdown([summary]).split('\n')[2],
      '| gzip:3 | 12.0 (11.0) | 100.0 | 25.0 % | 9.0 | 120.0; 125.0 | 1 of 4 runs failed');
  });
});
