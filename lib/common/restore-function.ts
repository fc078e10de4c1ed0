import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PgToolsLayer } from '../database/pg-tools-layer';
import { HandlerFunction, HandlerFunctionProps, LAMBDA_MAX_TIMEOUT } from './handler-function';
import type { InvalidProps } from './validation';

/**
 * Memory of a restore function unless configured, and the least it may have: Lambda allots CPU by memory, pg_restore
 * decompresses on it, and 1769 MiB is one full vCPU.
 */
export const MIN_RESTORE_MEMORY_MIB = 1769;

/**
 * `/tmp` of a restore function, MiB: Lambda's most. A directory-format (parallel) dump, and any dump restored with
 * `jobs > 1`, is downloaded there first; beyond 512 MiB it costs about $0.0003 per 15-minute invocation.
 */
export const RESTORE_EPHEMERAL_STORAGE_MIB = 10240;

/** The most memory a Lambda function can have, MiB. */
const MAX_LAMBDA_MEMORY_MIB = 10240;

/** Props of {@link createRestoreFunction}. */
export interface RestoreFunctionProps extends Omit<HandlerFunctionProps, 'handlerName' | 'timeout' | 'memorySize' | 'layers' | 'environment'> {
  /** The layer with pg_restore and the libraries it loads. */
  readonly pgToolsLayer: lambda.ILayerVersion;
  /** The bucket the dumps are read from. */
  readonly bucketName: string;
  /** @default MIN_RESTORE_MEMORY_MIB */
  readonly memorySize?: number;
}

/**
 * The `restore` handler (pg_restore of a dump streamed from S3) as RecoveryTest and Failover both run it: the pg tools
 * layer with its library directory on the loader path (pg_restore needs the layer's libpq and libssl), the longest
 * Lambda timeout, at least one full vCPU, and the most /tmp (downloaded dumps). Grants are the caller's.
 */
export function createRestoreFunction(scope: Construct, id: string, props: RestoreFunctionProps): HandlerFunction {
  const { pgToolsLayer, bucketName, memorySize, ...common } = props;
  return new HandlerFunction(scope, id, {
    ...common,
    handlerName: 'restore',
    timeout: LAMBDA_MAX_TIMEOUT,
    memorySize: memorySize ?? MIN_RESTORE_MEMORY_MIB,
    ephemeralStorageSize: RESTORE_EPHEMERAL_STORAGE_MIB,
    layers: [pgToolsLayer],
    // pg_restore: the layer's /opt/bin/pg_restore (the restore core's default when it exists).
    environment: { BUCKET_NAME: bucketName, PG_TOOLS_LIB_DIR: PgToolsLayer.LIB_DIR },
  });
}

/** A restore function's memory (the prop `field`) must give pg_restore at least one vCPU and fit Lambda. */
export function checkRestoreMemorySize(value: number | undefined, field: string, invalid: InvalidProps): void {
  if (value !== undefined && (!Number.isInteger(value) || value < MIN_RESTORE_MEMORY_MIB || value > MAX_LAMBDA_MEMORY_MIB)) {
    throw invalid(
      `${field} must be a whole number of MiB from ${MIN_RESTORE_MEMORY_MIB} (one full vCPU, on which pg_restore decompresses) to ${MAX_LAMBDA_MEMORY_MIB}; got ${value}.`,
    );
  }
}
