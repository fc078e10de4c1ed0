/**
 * S3 I/O of the dump and verify cores: a bounded-memory streaming multipart upload (SSE-KMS), cleanup of what a
 * failed upload may leave, and small object helpers. Every list call is paginated.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3ServiceException,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';

/**
 * The version id S3 gave a write, `null` when the bucket is not versioned. Some S3 implementations answer an
 * unversioned bucket with the literal version id "null" (the emulator on CompleteMultipartUpload); a request that
 * passes it back as `versionId=null` is refused, so it counts as no version.
 */
export function versionIdOf(out: { readonly VersionId?: string }): string | null {
  return out.VersionId === undefined || out.VersionId === '' || out.VersionId === 'null' ? null : out.VersionId;
}

/** Server-side encryption parameters: SSE-KMS with a given key, or the bucket's default encryption. */
export function encryptionParams(kmsKeyId: string | undefined): {
  ServerSideEncryption?: 'aws:kms';
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
} {
  return kmsKeyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId, BucketKeyEnabled: true } : {};
}

/** Options of {@link createStreamingUpload}. */
export interface StreamingUploadOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly body: Readable;
  /** SSE-KMS key (ARN, id or alias). @default - the bucket's default encryption */
  readonly kmsKeyId?: string;
  /** Bytes per part (≥ 5 MiB). */
  readonly partSize: number;
  /** Parts uploaded concurrently; memory is about `(queueSize + 1) × partSize`. */
  readonly queueSize: number;
  readonly contentType?: string;
}

/** Name of the middleware {@link createStreamingUpload} adds to the client. */
export const UNSIGNED_PART_PAYLOAD_MIDDLEWARE = 'cdkBackupDrUnsignedPartPayload';

/**
 * Lets UploadPart requests go with `x-amz-content-sha256: UNSIGNED-PAYLOAD`, so the SDK no longer SHA-256s every
 * part just to sign it. Integrity stays: each part still carries its CRC32 checksum, which S3 verifies, and the dump
 * core hashes the whole stream for the manifest, which the verify step checks again. Measured: 0.1–0.15 s less CPU
 * per 145 MiB, which matters in a 1-vCPU Lambda where node shares the CPU with pg_dump. Added once per client; only
 * UploadPart requests are affected.
 */
export function signPartsWithoutPayloadHash(s3: S3Client): void {
  if (s3.middlewareStack.identify().some((entry) => entry.startsWith(`${UNSIGNED_PART_PAYLOAD_MIDDLEWARE} `))) return;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (context.commandName === 'UploadPartCommand' && request?.headers) {
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: UNSIGNED_PART_PAYLOAD_MIDDLEWARE },
  );
}

/**
 * A multipart upload of a stream whose length is unknown, with memory bounded by `partSize × (queueSize + 1)`.
 * Failed parts abort the multipart upload (`leavePartsOnError: false`).
 */
export function createStreamingUpload(options: StreamingUploadOptions): Upload {
  signPartsWithoutPayloadHash(options.s3);
  return new Upload({
    client: options.s3,
    params: {
      Bucket: options.bucket,
      Key: options.key,
      Body: options.body,
      ContentType: options.contentType ?? 'application/octet-stream',
      ...encryptionParams(options.kmsKeyId),
    },
    partSize: options.partSize,
    queueSize: options.queueSize,
    leavePartsOnError: false,
  });
}

/**
 * Aborts every open multipart upload of exactly `key` (paginated). Returns how many were aborted. A failed upload
 * that lib-storage could not abort (it was cut off by a deadline) is cleaned up here.
 */
export async function abortOpenUploads(s3: S3Client, bucket: string, key: string): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: key,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key !== key || !upload.UploadId) continue;
      try {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
        aborted += 1;
      } catch (error) {
        // Already aborted by lib-storage between the list and here: that is the goal.
        if (!(error instanceof S3ServiceException && error.name === 'NoSuchUpload')) throw error;
      }
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker !== undefined);
  return aborted;
}

/**
 * Deletes one version of an object permanently (or, when `versionId` is null because the bucket is not versioned,
 * the object).
 */
export async function deleteObjectVersion(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string | null,
): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
}

/**
 * Writes a small text object (a manifest, a report, the globals SQL); returns its version id (`null` when not versioned).
 * `abortSignal` cuts off a request that hangs.
 */
export async function putTextObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Uint8Array,
  contentType: string,
  kmsKeyId: string | undefined,
  abortSignal?: AbortSignal,
): Promise<string | null> {
  const out = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ...encryptionParams(kmsKeyId) }),
    { abortSignal },
  );
  return versionIdOf(out);
}

/** Whether an S3 error means "there is no such object / version". */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return (
    error.name === 'NoSuchKey' ||
    error.name === 'NotFound' ||
    error.name === 'NoSuchVersion' ||
    error.$metadata.httpStatusCode === 404
  );
}

/** Whether an S3 error means "the object is archived and must be restored first". */
export function isArchivedError(error: unknown): boolean {
  return error instanceof S3ServiceException && error.name === 'InvalidObjectState';
}

/** What `request` resolves to, or `undefined` when S3 says the object (version) does not exist. */
async function unlessNotFound<T>(request: () => Promise<T>): Promise<T | undefined> {
  try {
    return await request();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** HEAD of an object (version), or `undefined` when it does not exist. `abortSignal` cuts off a request that hangs. */
export async function headObjectOrUndefined(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId?: string | null,
  abortSignal?: AbortSignal,
): Promise<HeadObjectCommandOutput | undefined> {
  return unlessNotFound(() =>
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }), { abortSignal }),
  );
}

/** The text of a small object, or `undefined` when it does not exist. */
export async function getTextObjectOrUndefined(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  return unlessNotFound(async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
    return out.Body.transformToString('utf8');
  });
}

/** Streams an object (version) as a Node stream; the caller consumes it to the end. */
export async function getObjectStream(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId?: string | null,
): Promise<Readable> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return out.Body as Readable;
}
