/**
 * Listing and reading dumps in a backup bucket: for the recovery test's pick, and for the failover's newest restorable
 * dump (in the replica bucket in the DR region). The rules are in ./backup-selection (a manifest that is valid, of
 * this source, whose dump object exists with the manifest's size and is not archived); this module does the I/O.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { MAX_CANDIDATES_TRIED, dumpCandidates, dumpProblem } from './backup-selection';
import { getTextObjectOrUndefined, headObjectOrUndefined } from '../aws/s3';
import { BackupManifest, parseManifestJson } from '../backup/manifest';
import { DUMP_KEY_PREFIX } from '../common/names';

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

/** A dump examined by {@link examineDump}: its manifest when it is valid, and why it cannot be restored. */
export interface ExaminedDump {
  readonly manifest?: BackupManifest;
  /** Absent when the dump can be restored. */
  readonly problem?: string;
}

/**
 * Reads the manifest at `manifestKey` and heads its dump object (at the manifest's version) to judge it with
 * {@link dumpProblem}; `undefined` when the manifest does not exist. "Does not exist" is lambda/aws/s3's rule.
 */
export async function examineDump(s3: S3Client, bucket: string, source: string, manifestKey: string): Promise<ExaminedDump | undefined> {
  const text = await getTextObjectOrUndefined(s3, bucket, manifestKey);
  if (text === undefined) return undefined;
  const parsed = parseManifestJson(text);
  if (!parsed.ok) return { problem: `invalid manifest: ${parsed.errors.join('; ')}` };
  const manifest = parsed.manifest;
  const head = await headObjectOrUndefined(s3, bucket, manifest.s3.key, manifest.s3.versionId);
  const problem = dumpProblem(
    manifestKey,
    manifest,
    source,
    head && {
      ...(head.ContentLength !== undefined ? { contentLength: head.ContentLength } : {}),
      ...(head.VersionId !== undefined ? { versionId: head.VersionId } : {}),
      ...(head.StorageClass !== undefined ? { storageClass: head.StorageClass } : {}),
      ...(head.Restore !== undefined ? { restore: head.Restore } : {}),
    },
  );
  return { manifest, ...(problem !== undefined ? { problem } : {}) };
}

/** Why an examined dump is skipped: its problem, or that its manifest is gone. */
export function skipReason(examined: ExaminedDump | undefined): string {
  return examined?.problem ?? 'the manifest disappeared while listing';
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
    const found = await examineDump(s3, bucket, source, candidate.manifestKey);
    if (found?.manifest && found.problem === undefined) return { manifestKey: candidate.manifestKey, manifest: found.manifest, candidates: candidates.length, skipped };
    skipped.push(`${candidate.manifestKey}: ${skipReason(found)}`);
  }
  return { candidates: candidates.length, skipped };
}
