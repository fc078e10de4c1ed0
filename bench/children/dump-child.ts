/** Measured child: one call of the dump core (`runDump`), bundled by bench/run.ts and run with plain node. */
import { runDump } from '../../lambda/backup/dump-core';
import type { Tier } from '../../lambda/backup/manifest';
import type { Compression } from '../../lambda/postgres/compression';
import type { PgTarget } from '../../lambda/postgres/target';
import { readInput, runChild } from './protocol';

export interface DumpChildInput {
  readonly target: PgTarget;
  readonly bucket: string;
  readonly sourceId: string;
  readonly tiers: readonly Tier[];
  /** @default - the core's default */
  readonly partSizeBytes?: number;
  /** @default - the core's default */
  readonly queueSize?: number;
  /**
   * The S3 client's `requestChecksumCalculation` (an investigation knob: 'WHEN_REQUIRED' skips the per-part CRC32
   * the SDK adds by default).
   * @default - the SDK's default ('WHEN_SUPPORTED')
   */
  readonly requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** @default - the core's default (gzip:3) */
  readonly compression?: Compression;
  /** @default - the core's default (1: one custom-format stream) */
  readonly parallelism?: number;
  /** Where a directory-format dump writes its files. @default - the core's default (os.tmpdir()) */
  readonly workDir?: string;
}

export interface DumpChildOutput {
  readonly bytes: number;
  readonly manifestKey: string;
  readonly dumpKey: string;
}

void runChild<DumpChildOutput>(async () => {
  const input = readInput<DumpChildInput>();
  // Without a tuning the core creates its own client from the environment (AWS_ENDPOINT_URL points it at the
  // emulator); the AWS SDK is then loaded while pg_dump starts.
  let s3: import('@aws-sdk/client-s3').S3Client | undefined;
  if (input.requestChecksumCalculation) {
    const { S3Client } = await import('@aws-sdk/client-s3');
    s3 = new S3Client({ requestChecksumCalculation: input.requestChecksumCalculation });
  }
  const result = await runDump({
    target: input.target,
    bucket: input.bucket,
    source: input.sourceId,
    tiers: input.tiers,
    s3,
    partSizeBytes: input.partSizeBytes,
    queueSize: input.queueSize,
    compression: input.compression,
    parallelism: input.parallelism,
    workDir: input.workDir,
  });
  return { bytes: result.manifest.bytes, manifestKey: result.manifestKey, dumpKey: result.dumpKey };
});
