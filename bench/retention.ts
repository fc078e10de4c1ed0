/**
 * `npm run bench -- --suite retention`: (a) the GFS decision (decideRetention) over 100,000 hourly backups in UTC and
 * in Europe/Berlin against a naive baseline (./lib/retention.ts), rounds interleaved, median and spread; (b) the dump
 * cleanup (cleanDumps) on moto over 5,000 backups: a dry run, the real run and a re-run, with S3 calls counted.
 * Writes bench/results/retention-<timestamp>.json and bench/results/latest-retention.json.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { backupKeys } from '../lambda/backup/manifest';
import { cleanDumps, type DumpCleanupResult } from '../lambda/retention/cleanup-core';
import { decideRetention, type RetainedBackup, type RetentionRules } from '../lambda/retention/policy';
import { Cleanup, startMoto } from '../local/services';
import type { BenchOptions } from './lib/args';
import { hourlyBackups, naiveKeptIds } from './lib/retention';
import { createVersionedBucket, s3Client } from './lib/s3';
import { interleave, summarize, type Summary } from './lib/stats';

const RESULTS_DIR = join(resolve(__dirname, '..'), 'bench', 'results');
const BUCKET = 'cdk-backup-dr-bench-retention';
const SOURCE = 'bench';
const DATABASE = 'app';
/** The newest backup: 2026-06-30 23:00 UTC. An hourly history of 100,000 reaches back to 2015-02-02 (23 DST changes in Berlin). */
const NEWEST = Date.UTC(2026, 5, 30, 23);
const NOW = NEWEST + 30 * 60_000;
const GFS = { daily: 7, weekly: 4, monthly: 12, yearly: 3 } as const;

type Contender = { readonly name: string; readonly timeZone: string; readonly decide: (backups: readonly RetainedBackup[], rules: RetentionRules) => Set<string> };

const CONTENDERS: readonly Contender[] = ['UTC', 'Europe/Berlin'].flatMap((timeZone) => [
  {
    name: `decideRetention ${timeZone}`,
    timeZone,
    decide: (backups: readonly RetainedBackup[], rules: RetentionRules) => new Set(decideRetention(backups, rules, NOW).filter((d) => d.keep).map((d) => d.id)),
  },
  { name: `naive ${timeZone}`, timeZone, decide: (backups: readonly RetainedBackup[], rules: RetentionRules) => naiveKeptIds(backups, rules, NOW) },
]);

interface DecisionSummary extends Summary {
  readonly contender: string;
  readonly timeZone: string;
  /** Kept out of the history, and whether every round of every contender in this time zone kept the same set. */
  readonly kept: number;
  readonly agreesWithOther: boolean;
  readonly roundsMs: readonly number[];
}

function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

function decisionBench(options: BenchOptions, log: (line: string) => void): DecisionSummary[] {
  const backups = hourlyBackups(options.backups, NEWEST);
  const times = new Map<string, number[]>(CONTENDERS.map((c) => [c.name, []]));
  const kept = new Map<string, Set<string>>();
  // One warm-up call each (JIT, Intl data), not recorded.
  for (const c of CONTENDERS) kept.set(c.name, c.decide(backups, { ...GFS, timeZone: c.timeZone }));
  for (const { contender, round } of interleave(CONTENDERS, options.repeats)) {
    const started = performance.now();
    const result = contender.decide(backups, { ...GFS, timeZone: contender.timeZone });
    const elapsed = performance.now() - started;
    times.get(contender.name)!.push(elapsed);
    if (result.size !== kept.get(contender.name)!.size) throw new Error(`${contender.name} kept ${result.size} in round ${round}, ${kept.get(contender.name)!.size} before`);
    log(`  ${contender.name} #${round}: ${elapsed.toFixed(1)} ms, kept ${result.size}`);
  }
  return CONTENDERS.map((c) => {
    const other = CONTENDERS.find((o) => o !== c && o.timeZone === c.timeZone)!;
    const mine = kept.get(c.name)!;
    const theirs = kept.get(other.name)!;
    const s = summarize(times.get(c.name)!);
    return {
      contender: c.name,
      timeZone: c.timeZone,
      n: s.n,
      median: ms(s.median),
      min: ms(s.min),
      max: ms(s.max),
      kept: mine.size,
      agreesWithOther: mine.size === theirs.size && [...mine].every((id) => theirs.has(id)),
      roundsMs: times.get(c.name)!.map(ms),
    };
  });
}

interface CleanupRun {
  readonly run: 'dry run' | 'cleanup' | 're-run';
  readonly seconds: number;
  readonly listPages: number;
  readonly deleteBatches: number;
  readonly manifestsToDelete: number;
  readonly objectsDeleted: number;
  readonly kept: number;
  readonly errors: number;
}

function cleanupRun(run: CleanupRun['run'], result: DumpCleanupResult, seconds: number): CleanupRun {
  return {
    run,
    seconds: Math.round(seconds * 100) / 100,
    listPages: result.calls.ListObjectsV2 ?? 0,
    deleteBatches: result.calls.DeleteObjects ?? 0,
    manifestsToDelete: result.series.reduce((n, s) => n + s.deleted, 0),
    objectsDeleted: result.objectsDeleted,
    kept: result.series.reduce((n, s) => n + s.kept, 0),
    errors: result.errors.length,
  };
}

async function cleanupBench(options: BenchOptions, log: (line: string) => void, cleanup: Cleanup): Promise<{ writeSeconds: number; runs: CleanupRun[] }> {
  const moto = await startMoto(log);
  cleanup.add('moto', moto.stop);
  const s3 = s3Client(moto.endpoint);
  cleanup.add('s3 client', async () => s3.destroy());
  await createVersionedBucket(s3, BUCKET);
  const puts = hourlyBackups(options.s3Backups, NEWEST).flatMap((b) => {
    const keys = backupKeys(SOURCE, DATABASE, new Date(b.time));
    return [
      { key: keys.dumpKey, body: `dump ${b.id}` },
      { key: keys.manifestKey, body: '{}' },
    ];
  });
  log(`writing ${puts.length} objects (${options.s3Backups} backups) to moto`);
  const writeStarted = performance.now();
  for (let i = 0; i < puts.length; i += 32) {
    await Promise.all(puts.slice(i, i + 32).map((p) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: p.key, Body: p.body }))));
  }
  const writeSeconds = Math.round((performance.now() - writeStarted) / 10) / 100;
  const base = { s3, bucket: BUCKET, source: SOURCE, rules: { ...GFS, timeZone: 'UTC' }, now: new Date(NOW), orphanGraceSeconds: 86_400, objectLock: false, removeVersions: false };
  const runs: CleanupRun[] = [];
  for (const [run, dryRun] of [['dry run', true], ['cleanup', false], ['re-run', false]] as const) {
    const started = performance.now();
    const result = await cleanDumps({ ...base, dryRun });
    runs.push(cleanupRun(run, result, (performance.now() - started) / 1000));
    log(`  ${run}: ${JSON.stringify(runs[runs.length - 1])}`);
  }
  return { writeSeconds, runs };
}

/** Runs the retention suite; see the module comment. */
export async function runRetentionBench(options: BenchOptions, log: (line: string) => void): Promise<void> {
  const cleanup = new Cleanup(log);
  const startedAt = new Date();
  try {
    log(`retention suite: decision over ${options.backups} hourly backups, ${options.repeats} interleaved rounds`);
    const decision = decisionBench(options, log);
    log(`cleanup on moto over ${options.s3Backups} backups`);
    const s3 = await cleanupBench(options, log, cleanup);
    const results = {
      schemaVersion: 1,
      suite: 'retention',
      name: options.name,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      options: { backups: options.backups, s3Backups: options.s3Backups, rounds: options.repeats },
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memTotalMb: Math.round(totalmem() / 1048576), kernel: release(), node: process.version, loadavgAtStart: loadavg() },
      rules: { ...GFS, newest: new Date(NEWEST).toISOString(), now: new Date(NOW).toISOString() },
      decision,
      cleanup: { backups: options.s3Backups, objects: options.s3Backups * 2, writeSeconds: s3.writeSeconds, runs: s3.runs },
      notes: [
        'decision: milliseconds of one call over the whole history, measured in this process with performance.now(); ' +
          'contenders interleaved round by round after one warm-up call each. The naive baseline formats every ' +
          'backup\'s date with Intl and keys buckets by strings (bench/lib/retention.ts); agreesWithOther says ' +
          'whether it kept exactly the set decideRetention kept in the same time zone.',
        'cleanup: cleanDumps against moto_server on this machine, one versioned bucket, one database; listPages are ' +
          'ListObjectsV2 calls, deleteBatches DeleteObjects calls (at most 1000 keys each), seconds wall time of the ' +
          'whole call. moto is far slower per call than S3; the call counts are what carries over.',
      ],
    };
    await mkdir(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, `${options.name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    await copyFile(file, join(RESULTS_DIR, 'latest-retention.json'));

    console.log('\ncontender                     median ms   min–max ms      kept  agrees');
    for (const d of decision) {
      console.log(`${d.contender.padEnd(29)} ${d.median.toFixed(1).padStart(9)}   ${`${d.min.toFixed(0)}–${d.max.toFixed(0)}`.padEnd(12)} ${String(d.kept).padStart(7)}  ${d.agreesWithOther ? 'yes' : 'NO'}`);
    }
    console.log(`\ncleanDumps on moto, ${options.s3Backups} backups (${options.s3Backups * 2} objects, written in ${s3.writeSeconds} s)`);
    console.log('run        list pages  delete batches  objects deleted  kept  seconds');
    for (const r of s3.runs) {
      console.log(`${r.run.padEnd(10)} ${String(r.listPages).padStart(10)}  ${String(r.deleteBatches).padStart(14)}  ${String(r.objectsDeleted).padStart(15)}  ${String(r.kept).padStart(4)}  ${r.seconds.toFixed(2).padStart(7)}`);
    }
    console.log(`\nresults: ${file}`);
  } finally {
    await cleanup.run();
  }
}
