/**
 * The rules an imported backup bucket's attributes must follow (S3 bucket names and ARNs, KMS key and alias ARNs),
 * as pure functions that return what to change, or undefined when the value is fine. They read literal strings only:
 * `BackupBucket.fromBucketAttributes` skips a value that is a deploy-time token (an SSM parameter, an import).
 */

/** The parts of a KMS key or alias ARN. */
export interface KmsArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** `key` or `alias`. */
  readonly type: 'key' | 'alias';
  /** The key id (`1234abcd-…`, `mrk-…`), or the alias name with its `alias/` prefix. */
  readonly id: string;
}

const PARTITION = '[a-z][a-z0-9-]*';
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const KMS_ARN = new RegExp(`^arn:(${PARTITION}):kms:([a-z0-9-]*):([0-9]*):(key|alias)/(.+)$`);
const KEY_ID = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const ALIAS_NAME = /^alias\/[A-Za-z0-9/_-]{1,250}$/;

/** What S3 calls a bucket name (general purpose buckets created since March 2018). */
export function bucketNameProblem(name: string): string | undefined {
  const rules =
    'an S3 bucket name is 3-63 lowercase letters, digits, dots and hyphens, starts and ends with a letter or digit, ' +
    'has no two adjacent dots and is not an IP address';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    return `${JSON.stringify(name)} is not a bucket name (${rules}). Pass the name as \`aws s3api list-buckets\` prints it, without s3:// or a key.`;
  }
  return undefined;
}

/** The bucket name of an S3 bucket ARN, or what to change. */
export function parseBucketArn(arn: string): { readonly bucketName: string } | { readonly problem: string } {
  const shape = 'an S3 bucket ARN is arn:<partition>:s3:::<bucket-name> (e.g. arn:aws:s3:::my-backups)';
  const match = new RegExp(`^arn:${PARTITION}:s3:([^:]*):([^:]*):(.*)$`).exec(arn);
  if (!match) return { problem: `${JSON.stringify(arn)} is not an S3 ARN; ${shape}.` };
  const [, region, account, resource] = match;
  if (region !== '' || account !== '') {
    return { problem: `${JSON.stringify(arn)} has a region or account; ${shape}, with both left empty.` };
  }
  if (resource.includes('/')) {
    return { problem: `${JSON.stringify(arn)} names objects in a bucket, not the bucket; ${shape}: drop everything from the first "/".` };
  }
  const nameProblem = bucketNameProblem(resource);
  if (nameProblem) return { problem: `${JSON.stringify(arn)}: ${nameProblem}` };
  return { bucketName: resource };
}

/** The parts of a KMS key ARN (or, when `allowAlias`, alias ARN), or what to change. */
export function parseKmsArn(arn: string, allowAlias: boolean): KmsArnParts | { readonly problem: string } {
  const keyShape = 'a key ARN is arn:<partition>:kms:<region>:<account>:key/<key-id>';
  const accepted = allowAlias ? `${keyShape} (or arn:<partition>:kms:<region>:<account>:alias/<name> for an alias)` : keyShape;
  if (KEY_ID.test(arn)) {
    return { problem: `${JSON.stringify(arn)} is a key id; pass the full ARN: ${keyShape} (\`aws kms describe-key --key-id ${arn}\` prints it).` };
  }
  if (arn.startsWith('alias/')) {
    return { problem: `${JSON.stringify(arn)} is an alias name; pass the ARN of its key: ${keyShape} (\`aws kms describe-key --key-id ${arn}\` prints it).` };
  }
  const match = KMS_ARN.exec(arn);
  if (!match) return { problem: `${JSON.stringify(arn)} is not a KMS ARN; ${accepted}.` };
  const [, partition, region, account, type, id] = match;
  if (!REGION_PATTERN.test(region)) return { problem: `${JSON.stringify(arn)} has no valid region ("${region}"); ${accepted}.` };
  if (!/^\d{12}$/.test(account)) return { problem: `${JSON.stringify(arn)} has no 12-digit account ("${account}"); ${accepted}.` };
  if (type === 'alias') {
    if (!allowAlias) {
      return {
        problem:
          `${JSON.stringify(arn)} is an alias ARN; pass the key ARN (${keyShape}; \`aws kms describe-key --key-id ${arn}\` prints it): ` +
          "the bucket policy of a BackupBucket admits uploads encrypted with the key ARN, and IAM policies name a key by its key ARN.",
      };
    }
    const aliasName = `alias/${id}`;
    if (!ALIAS_NAME.test(aliasName) || aliasName.startsWith('alias/aws/')) {
      return { problem: `${JSON.stringify(arn)} does not name a customer alias (alias/<letters, digits, /, _ or ->, not alias/aws/…); ${accepted}.` };
    }
    return { partition, region, account, type: 'alias', id: aliasName };
  }
  if (!KEY_ID.test(id)) {
    return { problem: `${JSON.stringify(arn)} ends in "${id}", which is not a key id (a UUID, or mrk-<32 hex digits> for a multi-Region key); ${accepted}.` };
  }
  return { partition, region, account, type: 'key', id };
}

/** What to change when `region` is not an AWS region code. */
export function regionProblem(region: string, field: string): string | undefined {
  return REGION_PATTERN.test(region) ? undefined : `${field} ${JSON.stringify(region)} is not a region code (e.g. us-east-1).`;
}
