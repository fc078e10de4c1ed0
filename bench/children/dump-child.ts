/** Measured child: one call of the dump core (`runDump`), bundled by bench/run.ts and run with plain node. */
import { S3Client } from '@aws-sdk/client-s3';
import { runDump } from '../../lambda/shared/dump-core';
import type { Tier } from '../../lambda/shared/manifest';
import type { PgTarget } from '../../lambda/shared/pg';
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
}

export interface DumpChildOutput {
  readonly bytes: number;
  readonly manifestKey: string;
  readonly dumpKey: string;
}

void runChild<DumpChildOutput>(async () => {
  const input = readInput<DumpChildInput>();
  // Like the Lambda handler: a client from the environment (AWS_ENDPOINT_URL points it at the emulator).
  const s3 = new S3Client({});
  const result = await runDump({
    target: input.target,
    bucket: input.bucket,
    source: input.sourceId,
    tiers: input.tiers,
    s3,
    partSizeBytes: input.partSizeBytes,
    queueSize: input.queueSize,
  });
  return { bytes: result.manifest.bytes, manifestKey: result.manifestKey, dumpKey: result.dumpKey };
});
