/**
 * Listing and reading dumps in a backup bucket: for the recovery test's pick, and for the failover's newest restorable
 * dump (in the replica bucket in the DR region). The rules are in ./backup-selection (a manifest that is valid, of
 * this source, whose dump object exists with the manifest's size and is not archived); this module does the I/O.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DumpObjectHead, MAX_CANDIDATES_TRIED, dumpCandidates, dumpProblem } from './backup-selection';
import { BackupManifest, DUMP_KEY_PREFIX, parseManifestJson } from '../backup/manifest';

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** Every key under `prefix`, page by page. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/** The manifest at `key`, `undefined` when there is none, or the reason it is invalid. */
export async function readManifest(s3: S3Client, bucket: string, key: string): Promise<{ manifest: BackupManifest } | { problem: string } | undefined> {
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!out.Body) throw new Error(`GetObject ${key} returned no body`);
    text = await out.Body.transformToString('utf-8');
  } catch (error) {
    if (['NoSuchKey', 'NotFound'].includes(errorName(error))) return undefined;
    throw error;
  }
  const parsed = parseManifestJson(text);
  return parsed.ok ? { manifest: parsed.manifest } : { problem: `invalid manifest: ${parsed.errors.join('; ')}` };
}

/** The dump object's size, version and storage class at the manifest's version, `undefined` when it is missing. */
export async function headDump(s3: S3Client, bucket: string, manifest: BackupManifest): Promise<DumpObjectHead | undefined> {
  try {
    const out = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: manifest.s3.key, ...(manifest.s3.versionId ? { VersionId: manifest.s3.versionId } : {}) }),
    );
    return {
      ...(out.ContentLength !== undefined ? { contentLength: out.ContentLength } : {}),
      ...(out.VersionId !== undefined ? { versionId: out.VersionId } : {}),
      ...(out.StorageClass !== undefined ? { storageClass: out.StorageClass } : {}),
      ...(out.Restore !== undefined ? { restore: out.Restore } : {}),
    };
  } catch (error) {
    if (['NotFound', 'NoSuchKey', 'NoSuchVersion', 'BadRequest'].includes(errorName(error))) return undefined;
    throw error;
  }
}

/** The newest restorable dump, and why newer ones were skipped. */
export interface NewestDump {
  readonly manifestKey?: string;
  readonly manifest?: BackupManifest;
  readonly candidates: number;
  readonly skipped: readonly string[];
}

/**
 * The newest restorable dump of `database` from `source` in `bucket`; `manifestKey` undefined when none of the
 * newest {@link MAX_CANDIDATES_TRIED} can be restored.
 */
export async function newestRestorableDump(s3: S3Client, bucket: string, source: string, database: string): Promise<NewestDump> {
  const prefix = `${DUMP_KEY_PREFIX}${source}/${database}/`;
  const candidates = dumpCandidates(await listKeys(s3, bucket, prefix), source, database);
  const skipped: string[] = [];
  for (const candidate of candidates.slice(0, MAX_CANDIDATES_TRIED)) {
    const read = await readManifest(s3, bucket, candidate.manifestKey);
    if (read === undefined) {
      skipped.push(`${candidate.manifestKey}: the manifest disappeared while listing`);
      continue;
    }
    if ('problem' in read) {
      skipped.push(`${candidate.manifestKey}: ${read.problem}`);
      continue;
    }
    const problem = dumpProblem(candidate.manifestKey, read.manifest, source, await headDump(s3, bucket, read.manifest));
    if (problem === undefined) return { manifestKey: candidate.manifestKey, manifest: read.manifest, candidates: candidates.length, skipped };
    skipped.push(`${candidate.manifestKey}: ${problem}`);
  }
  return { candidates: candidates.length, skipped };
}
