/**
 * The local handlers of the RecoveryTest and Failover functions, by logical id: the real handlers, with what the
 * emulator cannot do mapped around them (./database-mapping) and the faults moto cannot produce injectable. Used by
 * the workflow tests and the drill.
 */
import { handler as actHandler } from '../lambda/failover/failover-act.handler';
import { handler as preflightHandler } from '../lambda/failover/failover-preflight.handler';
import { handler as failoverReportHandler } from '../lambda/reporting/failover-report.handler';
import { handler as pickHandler } from '../lambda/selection/recovery-pick.handler';
import { handler as recoveryVerifyHandler } from '../lambda/restore/recovery-verify.handler';
import { handler as reportHandler } from '../lambda/reporting/recovery-report.handler';
import { handler as repointHandler } from '../lambda/failover/repoint.handler';
import { handler as restoreHandler } from '../lambda/restore/restore.handler';
import { handler as restoreVerifyHandler } from '../lambda/restore/restore-verify.handler';
import { handler as scratchHandler } from '../lambda/rds/scratch.handler';
import { NotReady } from '../lambda/common/errors';
import { describeDbResource } from '../lambda/rds/instances';
import { outsideTask } from './caller';
import type { FailoverEmulation, ScratchEndpointMapping, TargetInput } from './database-mapping';
import type { LambdaContext, LocalLambdaHandler } from './in-process-lambda';

/** Logical ids of a RecoveryTest's functions in the template (`restore` only for dumps). */
export interface RecoveryTestIds {
  readonly pick: string;
  readonly scratch: string;
  readonly restore?: string;
  readonly verify: string;
  readonly report: string;
}

/** Logical ids of a Failover's functions in the template. */
export interface FailoverIds {
  readonly preflight: string;
  readonly act: string;
  readonly restore: string;
  readonly dumpVerify: string;
  readonly verify: string;
  readonly repoint: string;
  readonly report: string;
}

/** Fault injection for the scratch handler, for what moto cannot do (an instance that never becomes available). */
export interface ScratchFaults {
  /** `wait` throws NotReady every time (an instance stuck in "creating"). */
  waitNeverReady?: boolean;
  /** `delete-secret` throws this error every time. */
  deleteSecretFails?: Error;
}

/** The local handlers of the RecoveryTest functions, by logical id. */
export function recoveryHandlers(
  ids: RecoveryTestIds,
  mapping: ScratchEndpointMapping,
  faults: ScratchFaults,
  observe: { afterVerify?: (database: string, mapping: ScratchEndpointMapping) => Promise<void> } = {},
): Record<string, LocalLambdaHandler> {
  return {
    [ids.pick]: pickHandler,
    [ids.scratch]: async (event: never) => {
      const action = (event as { action?: string }).action;
      if (action === 'wait' && faults.waitNeverReady) {
        throw new NotReady('scratch instance is "creating" (injected by the test: moto makes instances available at once)');
      }
      if (action === 'delete-secret' && faults.deleteSecretFails) throw faults.deleteSecretFails;
      const result = await scratchHandler(event);
      if (action === 'delete-database' && 'names' in result) {
        for (const name of result.names) await mapping.dropFor(name);
      }
      return result;
    },
    ...(ids.restore !== undefined
      ? {
          [ids.restore]: async (event: never, context: LambdaContext) => {
            const input = event as { target: TargetInput };
            return restoreHandler({ ...input, target: await outsideTask(() => mapping.map(input.target)) }, context);
          },
        }
      : {}),
    [ids.verify]: async (event: never) => {
      const input = event as { target: TargetInput };
      const target = await outsideTask(() => mapping.map(input.target));
      const result = ids.restore !== undefined ? await restoreVerifyHandler({ ...input, target }) : await recoveryVerifyHandler({ ...input, target });
      await observe.afterVerify?.(target.database, mapping);
      return result;
    },
    [ids.report]: async (event: never) => {
      const input = event as Record<string, unknown>;
      const emulated = [
        ...mapping.notes,
        ...(ids.restore !== undefined ? ['pg_restore came from the host PATH (PostgreSQL client 15), not from the PgToolsLayer'] : []),
        'moto creates, restores and deletes RDS instances at once: no real provisioning or deletion time is in the timings',
      ];
      return reportHandler({ ...input, emulated });
    },
  };
}

/** Fault injection for what moto cannot do. */
export interface FailoverFaults {
  /** `wait` throws NotReady every time (a database stuck in "creating"). */
  readonly waitNeverReady?: boolean;
  /** `delete-secret` throws this every time (e.g. Secrets Manager unreachable). */
  readonly deleteSecretFails?: Error;
}

/** The emulation and faults of the run in progress. */
export interface ActiveRun {
  readonly emulation: FailoverEmulation;
  readonly faults: FailoverFaults;
}

/**
 * The local handlers of the Failover functions, by logical id. `active` returns the run in progress, so one
 * LocalWorkflow (built once: validating the definition takes a while) serves every run of a test file.
 */
export function failoverHandlers(
  ids: FailoverIds,
  region: string,
  active: () => ActiveRun,
  extraNotes: () => string[],
): Record<string, LocalLambdaHandler> {
  const mapTarget = <T extends { target: TargetInput }>(event: T): T => ({ ...event, target: active().emulation.map(event.target) });
  return {
    [ids.preflight]: async (event: never) => {
      const input = event as { action?: string; target?: TargetInput };
      return preflightHandler(input.action === 'replica-lag' ? mapTarget(input as { target: TargetInput }) : input);
    },
    [ids.act]: async (event: never) => {
      const input = event as { action?: string; subject?: string; target?: TargetInput; strategy?: string };
      const { emulation, faults } = active();
      if (input.action === 'wait' && faults.waitNeverReady) {
        throw new NotReady('the database is "creating" (injected by the test: moto makes instances available at once)');
      }
      if (input.action === 'delete-secret' && faults.deleteSecretFails) throw faults.deleteSecretFails;
      if (input.action === 'confirm-writable') return actHandler(mapTarget(input as { target: TargetInput }));
      const result = await actHandler(input);
      if (input.action === 'wait' && input.subject === 'created' && 'endpoint' in result) {
        await outsideTask(async () => {
          const tags = (await describeDbResource(region, result.kind, result.identifier))?.tags ?? {};
          const content = tags['cdk-backup-dr:strategy'] === 'restore-dump' ? 'empty' : 'copy';
          await emulation.register(region, result.identifier, result.endpoint.host, result.endpoint.port, result.secretArn, content, result.kind);
        });
      }
      if (input.action === 'delete-database' && 'names' in result) {
        for (const name of result.names) await emulation.dropFor(name);
      }
      return result;
    },
    [ids.restore]: async (event: never, context: LambdaContext) => restoreHandler(mapTarget(event as { target: TargetInput } & Record<string, unknown>), context),
    [ids.dumpVerify]: async (event: never) => restoreVerifyHandler(mapTarget(event as { target: TargetInput } & Record<string, unknown>)),
    [ids.verify]: async (event: never) => recoveryVerifyHandler(mapTarget(event as { target: TargetInput } & Record<string, unknown>)),
    [ids.repoint]: repointHandler,
    [ids.report]: async (event: never) => {
      const input = event as Record<string, unknown>;
      const emulated = [
        ...active().emulation.notes,
        ...extraNotes(),
        'pg_restore came from the host PATH (PostgreSQL client 15), not from the PgToolsLayer',
        'moto creates, promotes and deletes RDS instances at once: no real provisioning, promotion or deletion time is in the timings',
      ];
      return failoverReportHandler({ ...input, emulated });
    },
  };
}
