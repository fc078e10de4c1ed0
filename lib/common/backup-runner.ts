import { Duration, Token } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { ConfigurationError } from './errors';

/** Options of {@link BackupRunner.lambda}. */
export interface LambdaRunnerOptions {
  /**
   * Memory of the function in MB (Lambda gives CPU in proportion: 1769 MB is one vCPU).
   * @default - the construct's default (1769 for a dump)
   */
  readonly memorySize?: number;
}

/** Options of {@link BackupRunner.fargate}. */
export interface FargateRunnerOptions {
  /**
   * CPU units of the task (1024 = one vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384.
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Memory of the task in MiB; Fargate accepts only some values for each `cpu` (see the Fargate task size table).
   * @default 2048
   */
  readonly memoryLimitMiB?: number;
  /**
   * Ephemeral storage of the task in GiB, from 21 to 200. A streamed dump or restore needs none.
   * @default - Fargate's 20 GiB
   */
  readonly ephemeralStorageGiB?: number;
  /**
   * Longest one task may run; the handler stops its work a little before, and the state fails with `States.Timeout`
   * if the task has not answered by then.
   * @default Duration.hours(8)
   */
  readonly timeout?: Duration;
  /**
   * The ECS cluster the tasks run in: one of the stack's account and region, made with the construct's VPC (the task's
   * subnets are chosen from the cluster's VPC; checked at synth when the VPC ids are known).
   * @default - a new cluster with Container Insights, one per construct
   */
  readonly cluster?: ecs.ICluster;
}

/** The Fargate CPU and memory combinations AWS accepts (Linux, platform 1.4.0): memory range and step per CPU. */
const FARGATE_SIZES: ReadonlyArray<{ cpu: number; min: number; max: number; step: number; list?: readonly number[] }> = [
  { cpu: 256, min: 512, max: 2048, step: 0, list: [512, 1024, 2048] },
  { cpu: 512, min: 1024, max: 4096, step: 1024 },
  { cpu: 1024, min: 2048, max: 8192, step: 1024 },
  { cpu: 2048, min: 4096, max: 16384, step: 1024 },
  { cpu: 4096, min: 8192, max: 30720, step: 1024 },
  { cpu: 8192, min: 16384, max: 61440, step: 4096 },
  { cpu: 16384, min: 32768, max: 122880, step: 8192 },
];

/** How long Step Functions waits between two heartbeats of a task before it fails the state (`States.HeartbeatTimeout`). */
export const RUNNER_HEARTBEAT_TIMEOUT = Duration.minutes(5);
/** How often a task sends its heartbeat. */
export const RUNNER_HEARTBEAT_INTERVAL = Duration.minutes(1);

/** The settings of a Fargate runner, resolved with defaults and validated. */
export interface FargateRunnerSettings {
  /** CPU units of the task. */
  readonly cpu: number;
  /** Memory of the task, MiB. */
  readonly memoryLimitMiB: number;
  /**
   * Ephemeral storage, GiB.
   * @default - Fargate's 20 GiB
   */
  readonly ephemeralStorageGiB?: number;
  /** Longest one task may run. */
  readonly timeout: Duration;
  /**
   * The cluster to run in.
   * @default - a new cluster per construct
   */
  readonly cluster?: ecs.ICluster;
}

/**
 * Where a dump or a restore runs: in a Lambda function (the default; at most 15 minutes per database) or in an ECS
 * Fargate task (no time limit but `timeout`, up to 16 vCPU and 200 GiB of disk) for databases that outgrow Lambda.
 * Both run the same handler code; Step Functions gets the same output and the same error names from either, so
 * retries, cleanup and reports do not change.
 *
 * The Fargate task's container image is built by CDK from the Dockerfile shipped in this package when you deploy
 * (Docker needed then, not at synth).
 *
 * @example
 * new PostgresBackup(this, 'Backup', { ...props, runner: BackupRunner.fargate({ cpu: 2048, memoryLimitMiB: 4096 }) });
 */
export class BackupRunner {
  /** A Lambda function (at most 15 minutes per dump or restore). */
  public static lambda(options: LambdaRunnerOptions = {}): BackupRunner {
    const { memorySize } = options;
    if (memorySize !== undefined && !Token.isUnresolved(memorySize) && (!Number.isInteger(memorySize) || memorySize < 256 || memorySize > 10240)) {
      throw new ConfigurationError(`BackupRunner.lambda: memorySize must be a whole number of MB from 256 to 10240, got ${memorySize}.`);
    }
    return new BackupRunner('lambda', options.memorySize, undefined);
  }

  /** An ECS Fargate task in the construct's VPC, subnets and security group. */
  public static fargate(options: FargateRunnerOptions = {}): BackupRunner {
    const cpu = options.cpu ?? 1024;
    const memory = options.memoryLimitMiB ?? 2048;
    const size = FARGATE_SIZES.find((s) => s.cpu === cpu);
    if (size === undefined) {
      throw new ConfigurationError(`BackupRunner.fargate: cpu must be one of ${FARGATE_SIZES.map((s) => s.cpu).join(', ')} (1024 = one vCPU), got ${cpu}.`);
    }
    const allowed = size.list !== undefined ? size.list.includes(memory) : memory >= size.min && memory <= size.max && (memory - size.min) % size.step === 0;
    if (!allowed) {
      const range = size.list !== undefined ? size.list.join(', ') : `${size.min} to ${size.max} in steps of ${size.step}`;
      throw new ConfigurationError(`BackupRunner.fargate: Fargate does not accept memoryLimitMiB ${memory} with cpu ${cpu}; with cpu ${cpu} use ${range} MiB (or change cpu).`);
    }
    const storage = options.ephemeralStorageGiB;
    if (storage !== undefined && (!Number.isInteger(storage) || storage < 21 || storage > 200)) {
      throw new ConfigurationError(`BackupRunner.fargate: ephemeralStorageGiB must be a whole number from 21 to 200 (leave it unset for Fargate's 20 GiB), got ${storage}.`);
    }
    const timeout = options.timeout ?? Duration.hours(8);
    if (timeout.toSeconds() < RUNNER_HEARTBEAT_TIMEOUT.toSeconds() || timeout.toHours({ integral: false }) > 24 * 7) {
      throw new ConfigurationError(`BackupRunner.fargate: timeout must be from 5 minutes to 7 days, got ${timeout.toHumanString()}.`);
    }
    return new BackupRunner('fargate', undefined, { cpu, memoryLimitMiB: memory, ephemeralStorageGiB: storage, timeout, cluster: options.cluster });
  }

  private constructor(
    /** `lambda` or `fargate`. */
    public readonly kind: 'lambda' | 'fargate',
    /** The Lambda runner's memory, when given. */
    public readonly memorySize: number | undefined,
    /** The Fargate runner's settings. */
    public readonly fargateSettings: FargateRunnerSettings | undefined,
  ) {}
}
