/**
 * The drill: the example app's real state machines run locally against an embedded PostgreSQL and the AWS emulator —
 * seed, back up (dump, verify, snapshot with DR copy), recovery test, failover rehearsal (dry run), retention cleanup
 * over a generated history (plan, then apply) — with what the emulator cannot do mapped and listed as emulated.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from 'pg';
import { handler as dumpHandler } from '../../lambda/backup/dump.handler';
import { handler as verifyHandler } from '../../lambda/backup/verify.handler';
import { handler as snapshotHandler } from '../../lambda/rds/snapshot.handler';
import { handler as backupReportHandler } from '../../lambda/reporting/backup-report.handler';
import { handler as cleanupHandler } from '../../lambda/retention/cleanup.handler';
import { logger } from '../../lambda/common/logger';
import { describeDbInstance } from '../../lambda/rds/instances';
import { outsideTask } from '../caller';
import { FailoverEmulation, type LocalPgServer, ScratchEndpointMapping, serverClientConfig } from '../database-mapping';
import { failoverHandlers, recoveryHandlers } from '../emulated-handlers';
import type { LambdaContext, LocalLambdaHandler } from '../in-process-lambda';
import { findOnPath } from '../services';
import { type JsonValue, LocalWorkflow, type LocalWorkflowResult } from '../workflow-runner';
import { DR_REGION, PRIMARY_REGION, synthesizeExample, type SynthesizedExample } from './example-app';
import { formatBytes, formatSeconds, muted, type Progress } from './progress';
import { createDrillResources, type DrillResources, generateHistory, halfWritten, listKeys, openUploads, replicate } from './resources';
import { seedSampleDatabase } from './seed';
import { type WrappedTool, wrapTool } from './tool-wrapper';
import type { DrillCheck, DrillNotification, DrillReport, DrillStep, DrillStepId, TaskTiming } from './report';

/** The steps `--break` can inject a fault into. */
export const BREAK_STEPS = ['dump', 'verify', 'restore', 'cleanup'] as const;
export type BreakStep = (typeof BREAK_STEPS)[number];

/** Which drill step a `--break` target fails. */
const BROKEN_STEP: Readonly<Record<BreakStep, DrillStepId>> = {
  dump: 'backup',
  verify: 'backup',
  restore: 'recovery-test',
  cleanup: 'retention-apply',
};

/** Options of {@link runDrill}. */
export interface DrillOptions {
  readonly rows: number;
  readonly breakStep?: BreakStep;
  /** The AWS emulator (AWS_ENDPOINT_URL). */
  readonly endpoint: string;
  readonly emulatorStartedByDrill: boolean;
  readonly server: LocalPgServer;
  /** A temporary directory the drill may fill (cloud assembly, tool wrappers). */
  readonly workDir: string;
  readonly progress: Progress;
}

/** The database the drill seeds and the example app backs up. */
const DATABASE = 'app';

/** Runs the drill; never throws for a failed step (it is in the report), only for a broken environment. */
export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const started = new Date();
  const { progress, server } = options;
  logger.setLogLevel('SILENT');
  const steps: DrillStep[] = [];
  const emulated = new Set<string>();
  let failed: DrillStepId | undefined;
  const target = options.breakStep === undefined ? undefined : BROKEN_STEP[options.breakStep];

  const step = async (id: DrillStepId, title: string, work: (record: StepRecord) => Promise<string>): Promise<void> => {
    const record: StepRecord = { checks: [], tasks: [] };
    const startedAt = new Date();
    if (failed !== undefined) {
      steps.push({ id, title, status: 'SKIPPED', startedAt: startedAt.toISOString(), durationMs: 0, summary: `skipped: ${failed} failed`, checks: [], tasks: [] });
      progress.line(`- ${title}: skipped (${failed} failed)`);
      return;
    }
    progress.line(`> ${title}`);
    let status: DrillStep['status'] = 'SUCCEEDED';
    let summary: string;
    let error: string | undefined;
    try {
      summary = await work(record);
      if (record.checks.some((check) => !check.passed)) {
        status = 'FAILED';
        error = record.checks.filter((check) => !check.passed).map((check) => `${check.name}: ${check.detail ?? 'failed'}`).join('; ');
      }
    } catch (failure) {
      status = 'FAILED';
      error = failure instanceof Error ? failure.message : String(failure);
      summary = record.summary ?? 'failed';
    }
    progress.clearStatus();
    const durationMs = Date.now() - startedAt.getTime();
    if (status === 'FAILED') failed = id;
    const expected = status === 'FAILED' && id === target;
    steps.push({
      id,
      title,
      status,
      startedAt: startedAt.toISOString(),
      durationMs,
      summary,
      checks: record.checks,
      tasks: record.tasks,
      ...(error !== undefined ? { error } : {}),
      ...(expected ? { expectedFailure: true } : {}),
      ...(record.notification ? { notification: record.notification } : {}),
      ...(record.bytes !== undefined ? { bytes: record.bytes } : {}),
      ...(record.throughput !== undefined ? { throughputBytesPerSecond: record.throughput } : {}),
    });
    progress.line(`  ${status === 'SUCCEEDED' ? 'ok' : expected ? 'FAILED (as --break asked)' : 'FAILED'} ${title} in ${formatSeconds(durationMs / 1000)}: ${summary}`);
    if (error !== undefined) progress.line(`  error: ${error}`);
    for (const check of record.checks) progress.line(`    ${check.passed ? 'pass' : 'FAIL'} ${check.name}${check.detail ? `: ${check.detail}` : ''}`);
    if (record.notification) {
      progress.line(`  notification that would be sent to ${record.notification.topic}:`);
      if (record.notification.subject) progress.line(`    subject: ${record.notification.subject}`);
      progress.line(`    ${record.notification.message.slice(0, 600)}`);
    }
  };

  let seed: Awaited<ReturnType<typeof seedSampleDatabase>> | undefined;
  let example: SynthesizedExample | undefined;
  let resources: DrillResources | undefined;
  let backupManifest: string | undefined;
  let dumpBytes: number | undefined;
  let recovery: Record<string, JsonValue> | undefined;
  let failoverReport: Record<string, JsonValue> | undefined;

  const toolsDir = join(options.workDir, 'tools');
  mkdirSync(toolsDir, { recursive: true });
  const tools: { dump: WrappedTool; restore: WrappedTool } = {
    dump: wrapTool({ tool: 'pg_dump', real: findOnPath('pg_dump') ?? 'pg_dump', dir: toolsDir, ...(options.breakStep === 'dump' ? { cutAfterBytes: 8 * 1024 } : {}) }),
    restore: wrapTool({ tool: 'pg_restore', real: findOnPath('pg_restore') ?? 'pg_restore', dir: toolsDir }),
  };
  const extraEnv = {
    PG_DUMP_PATH: tools.dump.path,
    PG_RESTORE_PATH: tools.restore.path,
    PG_DUMPALL_PATH: findOnPath('pg_dumpall') ?? 'pg_dumpall',
    PG_DUMP_STDBUF_LIBRARY: 'none',
  };
  emulated.add("pg_dump, pg_dumpall and pg_restore were the host's PostgreSQL client tools (pg_dump and pg_restore through the drill's byte-counting wrapper), not the PgToolsLayer's");

  await step('seed', 'Seed the sample database', async () => {
    await withClient(server, 'postgres', (c) => c.query(`CREATE DATABASE ${DATABASE}`));
    seed = await withClient(server, DATABASE, (c) => seedSampleDatabase(c, options.rows));
    return `${seed.totalRows.toLocaleString('en-US')} rows in ${seed.tables.length} tables of 4 schemas, ${formatBytes(seed.databaseBytes)}`;
  });

  await step('synth', 'Synthesize the example app', async () => {
    example = synthesizeExample(options.workDir);
    return `${example.primary.stackName} (${PRIMARY_REGION}) and ${example.dr.stackName} (${DR_REGION}); RPO target ${formatSeconds(example.rpoSeconds)}, RTO target ${formatSeconds(example.rtoSeconds)}`;
  });

  await step('prepare', 'Create the stacks\' resources in the emulator', async () => {
    resources = await createDrillResources(need(example), server, options.endpoint);
    for (const note of resources.emulated) emulated.add(note);
    return `buckets ${resources.bucket} and ${resources.replicaBucket}, RDS instance ${need(example).instanceIdentifier}`;
  });

  await step('backup', 'Back up: dump, verify, snapshot with DR copy (BackupWorkflow)', async (record) => {
    const ex = need(example);
    const res = need(resources);
    const ids = ex.ids.backup;
    const prefix = `postgres/${ex.sourceName}/`;
    const before = await listKeys(res.bucket, PRIMARY_REGION, prefix);
    let replicated = 0;
    const manifests: string[] = [];
    const dump: LocalLambdaHandler = async (event: never, context: LambdaContext) => {
      const input = event as { target?: { host?: unknown; port?: unknown } };
      const t = input.target ?? {};
      if (t.host !== res.instanceEndpoint.host || Number(t.port) !== res.instanceEndpoint.port) {
        throw new Error(`the dump target is ${String(t.host)}:${String(t.port)}, not the RDS endpoint the template gives`);
      }
      return dumpHandler({ ...(event as object), target: { ...t, host: server.host, port: server.port, sslMode: 'disable' } }, context);
    };
    const verify: LocalLambdaHandler = async (event: never) => {
      const { manifestKey } = event as { manifestKey: string };
      await outsideTask(async () => {
        if (options.breakStep === 'verify') await tamper(res.bucket, manifestKey);
        // What the replication rule would have done by now (verify also checks the replica).
        await replicate(res.bucket, res.replicaBucket, [manifestKey.replace(/\.manifest\.json$/, '.dump'), manifestKey]);
        replicated += 2;
        manifests.push(manifestKey);
      });
      return verifyHandler(event);
    };
    const workflow = new LocalWorkflow({
      template: ex.primary.template,
      stateMachine: ids.machine,
      region: PRIMARY_REGION,
      stackName: ex.primary.stackName,
      handlers: timed(record, {
        [ids.dump]: ['dump', dump],
        [ids.verify]: ['verify', verify],
        [ids.snapshot]: ['snapshot', snapshotHandler as LocalLambdaHandler],
        [ids.report]: ['report', backupReportHandler as LocalLambdaHandler],
      }),
      resources: res.primaryBindings,
      extraEnv,
    });
    tools.dump.reset();
    const result = await streaming(progress, 'dump', tools.dump, record, () => workflow.run({ tiers: ['daily'] }, { executionName: `drill-backup-${Date.now()}` }));
    collect(result, emulated, record);
    if (replicated > 0) {
      emulated.add(`S3 replication: the emulator does not replicate; the drill copied each new dump and manifest to the replica bucket ${res.replicaBucket} before verify (${replicated} objects)`);
    }
    emulated.add(
      `dump target: the template's RDS endpoint ${res.instanceEndpoint.host}:${res.instanceEndpoint.port} (an emulator instance without a server) was mapped to ${server.label} ${server.host}:${server.port}, without TLS`,
    );
    const after = await listKeys(res.bucket, PRIMARY_REGION, prefix);
    const added = [...after.keys()].filter((key) => !before.has(key));
    const uploads = await openUploads(res.bucket, PRIMARY_REGION);
    record.checks.push({ name: 'no multipart upload left open', passed: uploads.length === 0, detail: uploads.join(', ') || undefined });
    if (result.status !== 'SUCCEEDED') {
      if (options.breakStep === 'dump') {
        record.checks.push({ name: 'nothing half-written: no dump or manifest of this run in the bucket', passed: added.length === 0, detail: added.join(', ') || undefined });
      }
      record.summary = `BackupWorkflow ${result.status}: ${result.error ?? ''}`;
      throw new Error(`BackupWorkflow ended ${result.status}: ${result.error ?? ''} ${(result.cause ?? '').slice(0, 400)}`);
    }
    backupManifest = manifests.find((key) => after.has(key));
    const dumpKey = backupManifest?.replace(/\.manifest\.json$/, '.dump');
    dumpBytes = dumpKey === undefined ? undefined : after.get(dumpKey);
    record.checks.push({ name: 'dump and manifest written', passed: dumpKey !== undefined && after.has(dumpKey), detail: `${backupManifest}; ${added.length} new objects listed` });
    const snapshotCalls = result.calls.filter((call) => call.target === `lambda:${ids.snapshot}` && call.output !== undefined);
    return `dump ${formatBytes(dumpBytes ?? 0)} verified; ${snapshotCalls.length} snapshot task(s) including the copy to ${DR_REGION}`;
  });

  await step('recovery-test', 'Recovery test: restore the newest dump into a scratch database and verify (RecoveryTest)', async (record) => {
    const ex = need(example);
    const res = need(resources);
    const ids = ex.ids.recovery;
    const mapping = new ScratchEndpointMapping(server, PRIMARY_REGION);
    try {
      const handlers = recoveryHandlers(ids, mapping, {});
      const workflow = new LocalWorkflow({
        template: ex.primary.template,
        stateMachine: ids.machine,
        region: PRIMARY_REGION,
        stackName: ex.primary.stackName,
        handlers: timed(record, labelled(handlers, { [ids.pick]: 'pick', [ids.scratch]: 'scratch', [ids.restore as string]: 'restore', [ids.verify]: 'verify', [ids.report]: 'report' })),
        resources: res.primaryBindings,
        extraEnv,
      });
      if (options.breakStep === 'restore') {
        // Cut the archive halfway through, whatever the seed's size.
        tools.restore = wrapTool({ tool: 'pg_restore', real: findOnPath('pg_restore') ?? 'pg_restore', dir: toolsDir, cutAfterBytes: Math.max(1, Math.floor((dumpBytes ?? 2) / 2)) });
      }
      tools.restore.reset();
      const result = await streaming(progress, 'restore', tools.restore, record, () =>
        workflow.run({ selection: { latest: true } }, { executionName: `drill-recovery-${Date.now()}` }),
      );
      collect(result, emulated, record);
      recovery = await reportOf(res.bucket, result, 'Write report');
      for (const note of (recovery?.emulated as string[] | undefined) ?? []) emulated.add(note);
      const scratchId = (recovery?.scratch as { identifier?: string } | undefined)?.identifier;
      const scratchGone = scratchId === undefined || (await describeDbInstance(PRIMARY_REGION, scratchId)) === undefined;
      record.checks.push({ name: 'cleanup: scratch instance deleted', passed: scratchGone, detail: scratchId });
      const leftover = await withClient(server, 'postgres', (c) => c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'rt\\_%'"));
      record.checks.push({ name: 'cleanup: scratch database dropped', passed: leftover.rows.length === 0, detail: leftover.rows.map((r) => r.datname).join(', ') || undefined });
      for (const check of (recovery?.checks as Array<{ name: string; passed: boolean }> | undefined) ?? []) record.checks.push({ name: `report: ${check.name}`, passed: check.passed });
      if (result.status !== 'SUCCEEDED') {
        record.summary = `RecoveryTest ${result.status}`;
        throw new Error(`RecoveryTest ended ${result.status}: ${result.error ?? ''} ${(result.cause ?? '').slice(0, 400)}`);
      }
      const timings = (recovery?.timings ?? {}) as { rtoSeconds?: number };
      return `restored and verified; RTO ${formatSeconds(timings.rtoSeconds ?? 0)}, data age ${formatSeconds(Number(recovery?.dataAgeSeconds ?? 0))}`;
    } finally {
      await mapping.destroy();
    }
  });

  await step('failover', 'Failover rehearsal: restore the DR snapshot copy, verify, delete (Failover, dryRun)', async (record) => {
    const ex = need(example);
    const res = need(resources);
    const ids = ex.ids.failover;
    const emulation = new FailoverEmulation(server, DATABASE);
    const region = process.env.AWS_REGION;
    process.env.AWS_REGION = DR_REGION;
    try {
      const handlers = failoverHandlers(ids, DR_REGION, () => ({ emulation, faults: {} }), () => []);
      const workflow = new LocalWorkflow({
        template: ex.dr.template,
        stateMachine: ids.machine,
        region: DR_REGION,
        stackName: ex.dr.stackName,
        handlers: timed(record, labelled(handlers, { [ids.preflight]: 'preflight', [ids.act]: 'act', [ids.verify]: 'verify', [ids.report]: 'report' })),
        resources: res.drBindings,
        extraEnv,
      });
      const result = await muted(() =>
        workflow.run({ strategy: 'restore-snapshot', dryRun: true, reason: 'cdk-backup-dr drill rehearsal' }, { executionName: `drill-failover-${Date.now()}` }),
      );
      collect(result, emulated, record);
      failoverReport = await reportOf(res.replicaBucket, result, 'Write report', DR_REGION);
      for (const note of (failoverReport?.emulated as string[] | undefined) ?? []) emulated.add(note);
      for (const check of (failoverReport?.checks as Array<{ name: string; passed: boolean }> | undefined) ?? []) record.checks.push({ name: `report: ${check.name}`, passed: check.passed });
      if (result.status !== 'SUCCEEDED') throw new Error(`Failover ended ${result.status}: ${result.error ?? ''} ${(result.cause ?? '').slice(0, 400)}`);
      const rto = ((failoverReport?.timings ?? {}) as { rtoSeconds?: number }).rtoSeconds;
      return `rehearsed restore-snapshot; RTO ${formatSeconds(rto ?? 0)}, data-loss window ${formatSeconds(Number(failoverReport?.dataLossWindowSeconds ?? 0))}; nothing repointed`;
    } finally {
      if (region === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = region;
      await emulation.destroy();
    }
  });

  let plan: { kept: number; deleted: number } | undefined;
  const cleanup = async (record: StepRecord, dryRun: boolean): Promise<Record<string, JsonValue>> => {
    const ex = need(example);
    const workflow = new LocalWorkflow({
      template: ex.primary.template,
      stateMachine: ex.ids.retention.machine,
      region: PRIMARY_REGION,
      stackName: ex.primary.stackName,
      handlers: timed(record, { [ex.ids.retention.cleanup]: ['cleanup', cleanupHandler as LocalLambdaHandler] }),
      resources: need(resources).primaryBindings,
      extraEnv,
    });
    const result = await muted(() => workflow.run({ target: 'primary', dryRun }, { executionName: `drill-cleanup-${dryRun ? 'plan' : 'apply'}-${Date.now()}` }));
    collect(result, emulated, record);
    if (result.status !== 'SUCCEEDED') {
      throw new Error(`retention cleanup ended ${result.status}: ${result.error ?? ''} ${(result.cause ?? '').slice(0, 400)}`);
    }
    return (result.output as { result: Record<string, JsonValue> }).result;
  };

  await step('retention-plan', 'Retention cleanup plan over a generated history (dry run)', async (record) => {
    const ex = need(example);
    const res = need(resources);
    const history = await generateHistory(ex, res, new Date());
    emulated.add(history.emulated);
    const before = await listKeys(res.bucket, PRIMARY_REGION, `postgres/${ex.sourceName}/`);
    const out = await cleanup(record, true);
    const after = await listKeys(res.bucket, PRIMARY_REGION, `postgres/${ex.sourceName}/`);
    record.checks.push({ name: 'a dry run deletes nothing', passed: after.size === before.size, detail: `${before.size} objects before, ${after.size} after` });
    const report = await readJson(res.bucket, String(out.reportKey));
    const series = ((report.dumps as { series?: Array<{ kept: number; deleted: number }> } | undefined)?.series ?? [])[0];
    plan = { kept: series?.kept ?? 0, deleted: series?.deleted ?? 0 };
    return `${history.dumps + 1} dumps: keep ${plan.kept}, delete ${plan.deleted}`;
  });

  await step('retention-apply', 'Retention cleanup apply', async (record) => {
    const ex = need(example);
    const res = need(resources);
    const prefix = `postgres/${ex.sourceName}/`;
    if (options.breakStep === 'cleanup') await denyDeletes(res.bucket, `${prefix}${DATABASE}/${new Date().getUTCFullYear() - 1}/*`);
    try {
      const out = await cleanup(record, false);
      const after = await listKeys(res.bucket, PRIMARY_REGION, prefix);
      const manifests = [...after.keys()].filter((key) => key.endsWith('.manifest.json')).length;
      record.checks.push({ name: 'deleted what the plan said', passed: manifests === plan?.kept, detail: `${manifests} backups remain, the plan kept ${plan?.kept}` });
      record.checks.push({ name: "this drill's backup kept", passed: backupManifest !== undefined && after.has(backupManifest) });
      return `${String(out.objectsDeleted)} objects and ${String(out.snapshotsDeleted)} snapshots deleted`;
    } finally {
      const broken = await halfWritten(res.bucket, PRIMARY_REGION, prefix);
      record.checks.push({ name: 'nothing half-written: every remaining manifest has its dump', passed: broken.length === 0, detail: broken.slice(0, 3).join(', ') || undefined });
    }
  });

  const finished = new Date();
  const rpoMeasured = typeof recovery?.dataAgeSeconds === 'number' ? recovery.dataAgeSeconds : undefined;
  const rtoMeasured = ((recovery?.timings ?? {}) as { rtoSeconds?: number }).rtoSeconds;
  const unexpected = steps.filter((s) => s.status === 'FAILED' && !s.expectedFailure).map((s) => s.id);
  const brokeAsAsked = target !== undefined && steps.some((s) => s.id === target && s.status === 'FAILED');
  return {
    schemaVersion: 1,
    tool: 'cdk-backup-dr drill',
    status: steps.some((s) => s.status === 'FAILED') ? 'FAILED' : 'SUCCEEDED',
    ...(options.breakStep !== undefined ? { break: { step: options.breakStep, failedAsAsked: brokeAsAsked } } : {}),
    unexpectedFailures: [...unexpected, ...(options.breakStep !== undefined && !brokeAsAsked ? [`--break ${options.breakStep} did not fail ${target}`] : [])],
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    wallSeconds: (finished.getTime() - started.getTime()) / 1000,
    environment: {
      postgres: `embedded PostgreSQL 15 on ${server.host}:${server.port} (TLS off)`,
      emulator: options.endpoint,
      emulatorStartedByDrill: options.emulatorStartedByDrill,
      stacks: example ? [example.primary.stackName, example.dr.stackName] : [],
    },
    database: seed ? { name: DATABASE, totalRows: seed.totalRows, bytes: seed.databaseBytes, tables: seed.tables } : undefined,
    rpo: {
      targetSeconds: example?.rpoSeconds,
      measuredSeconds: rpoMeasured,
      withinTarget: rpoMeasured !== undefined && example !== undefined ? rpoMeasured <= example.rpoSeconds : undefined,
      measuredAs: 'data age of the backup the recovery test restored',
    },
    rto: {
      targetSeconds: example?.rtoSeconds,
      measuredSeconds: rtoMeasured,
      withinTarget: rtoMeasured !== undefined && example !== undefined ? rtoMeasured <= example.rtoSeconds : undefined,
      measuredAs: 'recovery test: scratch provisioning + restore + verify',
      failoverRehearsalSeconds: ((failoverReport?.timings ?? {}) as { rtoSeconds?: number }).rtoSeconds,
    },
    sizes: { databaseBytes: seed?.databaseBytes, dumpBytes },
    steps,
    emulated: [...emulated],
  };
}

/** What a step collects while it runs. */
interface StepRecord {
  checks: DrillCheck[];
  tasks: TaskTiming[];
  summary?: string;
  notification?: DrillNotification;
  bytes?: number;
  throughput?: number;
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('an earlier step did not produce what this step needs');
  return value;
}

async function withClient<T>(server: LocalPgServer, database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(serverClientConfig(server, database));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Labels handlers for the timeline. */
function labelled(handlers: Record<string, LocalLambdaHandler>, labels: Record<string, string>): Record<string, [string, LocalLambdaHandler]> {
  return Object.fromEntries(Object.entries(handlers).map(([id, handler]) => [id, [labels[id] ?? id, handler]]));
}

/** Wraps handlers so that each invocation lands in the step's timeline. */
function timed(record: StepRecord, handlers: Record<string, [string, LocalLambdaHandler]>): Record<string, LocalLambdaHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([id, [label, handler]]) => [
      id,
      (async (event: never, context: LambdaContext) => {
        const startedAt = new Date();
        const action = (event as { action?: unknown } | null)?.action;
        const name = typeof action === 'string' ? `${label}: ${action}` : label;
        try {
          const out = await handler(event, context);
          record.tasks.push({ name, startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime(), ok: true });
          return out;
        } catch (error) {
          record.tasks.push({ name, startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime(), ok: false, error: error instanceof Error ? error.message.slice(0, 300) : String(error) });
          throw error;
        }
      }) as LocalLambdaHandler,
    ]),
  );
}

/** Runs a workflow muted, showing the bytes `tool` streams and their throughput; records the totals. */
async function streaming<T>(progress: Progress, label: string, tool: WrappedTool, record: StepRecord, work: () => Promise<T>): Promise<T> {
  const startedAt = Date.now();
  let firstByteAt: number | undefined;
  const timer = setInterval(() => {
    const bytes = tool.bytes();
    if (bytes === 0) return;
    firstByteAt ??= Date.now();
    const seconds = Math.max(0.001, (Date.now() - firstByteAt) / 1000);
    progress.status(`  ${label}: ${formatBytes(bytes)} at ${formatBytes(bytes / seconds)}/s`);
  }, 250);
  try {
    return await muted(work);
  } finally {
    clearInterval(timer);
    progress.clearStatus();
    const bytes = tool.bytes();
    const dumpTask = record.tasks.find((task) => task.name.startsWith(label));
    const seconds = Math.max(0.001, (dumpTask?.durationMs ?? Date.now() - startedAt) / 1000);
    if (bytes > 0) {
      record.bytes = bytes;
      record.throughput = bytes / seconds;
      progress.line(`  ${label}: ${formatBytes(bytes)} streamed in ${formatSeconds(seconds)} (${formatBytes(bytes / seconds)}/s)`);
    }
  }
}

/** The runner's emulated notes, and the notification the run published. */
function collect(result: LocalWorkflowResult, emulated: Set<string>, record: StepRecord): void {
  for (const note of result.emulated) if (!note.startsWith('Lambda ') && !note.startsWith('context object')) emulated.add(note);
  emulated.add('Lambda handlers ran in-process with their template environment: no sandbox, memory limit, cold start or concurrency');
  const publish = [...result.calls].reverse().find((call) => call.target === 'sns:publish');
  const input = publish?.input as { TopicArn?: string; Subject?: string; Message?: unknown } | undefined;
  if (result.status !== 'SUCCEEDED' && input !== undefined) {
    record.notification = {
      topic: String(input.TopicArn ?? ''),
      ...(input.Subject !== undefined ? { subject: String(input.Subject) } : {}),
      message: typeof input.Message === 'string' ? input.Message : JSON.stringify(input.Message),
    };
  }
}

async function readJson(bucket: string, key: string, region = PRIMARY_REGION): Promise<Record<string, JsonValue>> {
  const s3 = new S3Client({ region });
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await object.Body?.transformToString()) ?? '{}') as Record<string, JsonValue>;
  } finally {
    s3.destroy();
  }
}

/** The JSON report a workflow's report state wrote, if it wrote one. */
async function reportOf(bucket: string, result: LocalWorkflowResult, state: string, region = PRIMARY_REGION): Promise<Record<string, JsonValue> | undefined> {
  const call = result.calls.find((c) => c.state === state && c.output !== undefined);
  const key = (call?.output as { reportKey?: string } | undefined)?.reportKey;
  return key === undefined ? undefined : readJson(bucket, key, region);
}

/** `--break verify`: the dump's version is deleted and other bytes written at its key, between dump and verify. */
async function tamper(bucket: string, manifestKey: string): Promise<void> {
  const manifest = await readJson(bucket, manifestKey);
  const dump = manifest.s3 as { key: string; versionId: string };
  const s3 = new S3Client({ region: PRIMARY_REGION });
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: dump.key, VersionId: dump.versionId }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump.key, Body: 'not a pg_dump archive (written by the drill: --break verify)' }));
  } finally {
    s3.destroy();
  }
}

/** `--break cleanup`: a bucket policy denying deletes of the older backups, as an IAM or policy mistake would. */
async function denyDeletes(bucket: string, pattern: string): Promise<void> {
  const s3 = new S3Client({ region: PRIMARY_REGION });
  try {
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Sid: 'DrillDenyDeletes', Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/${pattern}` }],
        }),
      }),
    );
  } finally {
    s3.destroy();
  }
}
