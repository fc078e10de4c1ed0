/**
 * SHA-256 over streams without holding them: a pass-through tap for uploads and a consumer for downloads.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';

/** Byte count and SHA-256 (lowercase hex) of a stream. */
export interface StreamDigest {
  readonly bytes: number;
  readonly sha256: string;
}

/** Options of {@link HashTap}. */
export interface HashTapOptions {
  /**
   * Awaited before the tap ends its readable side. If it rejects, the tap errors instead of ending, so whatever
   * consumes the tap (an S3 upload) never sees a clean end of a stream that must not count as complete.
   * @default - end as soon as the input ends
   */
  readonly beforeEnd?: () => Promise<void>;
  /** Called after each chunk with the running byte count. */
  readonly onBytes?: (total: number) => void;
}

/**
 * A pass-through Transform that hashes and counts what flows through it.
 *
 * @example
 * const tap = new HashTap({ beforeEnd: () => childExitedCleanly });
 * child.stdout.pipe(tap);            // tap is the upload's Body
 * await upload.done();
 * const { bytes, sha256 } = tap.digest();
 */
export class HashTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private result?: StreamDigest;
  private readonly options: HashTapOptions;

  constructor(options: HashTapOptions = {}) {
    super({ highWaterMark: 256 * 1024 });
    this.options = options;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.count;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    this.options.onBytes?.(this.count);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const gate = this.options.beforeEnd ? this.options.beforeEnd() : Promise.resolve();
    gate.then(
      () => {
        this.result = { bytes: this.count, sha256: this.hash.digest('hex') };
        callback();
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /**
   * The digest of everything that flowed through.
   * @throws Error when the stream has not ended cleanly.
   */
  digest(): StreamDigest {
    if (!this.result) throw new Error('HashTap.digest(): the stream has not ended cleanly');
    return this.result;
  }
}

/** Reads `stream` to its end and returns its size and SHA-256; memory stays constant whatever the size. */
export async function digestStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<StreamDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}
