import { Annotations, Arn, ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { nagResourceString } from '../common/nag';
import { BackupBucketBase, granteeStack, type ReplicaInfo } from './backup-bucket-base';
import { bucketNameProblem, type KmsArnParts, parseBucketArn, parseKmsArn, regionProblem } from './bucket-attributes';

/** The replica of an imported backup bucket (see {@link BackupBucketAttributes.replica}). */
export interface ReplicaAttributes {
  /** Name of the replica bucket. */
  readonly bucketName: string;
  /** Region of the replica bucket; must differ from the bucket's. */
  readonly region: string;
  /**
   * ARN of the KMS key that encrypts the replica: a key ARN, or an alias ARN (`arn:aws:kms:<region>:<account>:alias/…`,
   * what the source stack of a `replicateTo` knows of the replica's key).
   */
  readonly encryptionKeyArn: string;
  /**
   * Id of the replication rule (a dimension of the replication metrics).
   *
   * @default `replicate-to-<region>`, the id `BackupBucket.replicateTo` gives its rule
   */
  readonly ruleId?: string;
}

/** How to import a bucket of backups that another app or stack created (see `BackupBucket.fromBucketAttributes`). */
export interface BackupBucketAttributes {
  /**
   * Name of the bucket. Give this or `bucketArn` (or both, when they agree).
   *
   * @default - taken from bucketArn
   */
  readonly bucketName?: string;
  /**
   * ARN of the bucket (`arn:aws:s3:::<name>`). Give this or `bucketName`.
   *
   * @default - built from bucketName
   */
  readonly bucketArn?: string;
  /**
   * ARN of the KMS key that encrypts the bucket (`arn:aws:kms:<region>:<account>:key/<id>`; not an alias): the
   * handlers encrypt with it and the grants name it. `aws s3api get-bucket-encryption --bucket <name>` prints it.
   */
  readonly encryptionKeyArn: string;
  /**
   * Region of the bucket.
   *
   * @default - the region of the stack the bucket is imported into
   */
  readonly region?: string;
  /**
   * Whether the bucket is versioned (a BackupBucket is, unless made with `versioned: false`).
   *
   * @default true
   */
  readonly versioned?: boolean;
  /**
   * The bucket's default Object Lock retention, when it has one (as BackupBucket's `objectLock`): the dump role may
   * then read the retention of a failed dump to say until when it stays.
   *
   * @default - no Object Lock
   */
  readonly objectLock?: s3.ObjectLockRetention;
  /**
   * The bucket's cross-region replica, for constructs that check the DR copy (PostgresBackup's verify) and for the
   * replication metrics.
   *
   * @default - no replica known: onReplication never calls back and replication metrics are refused
   */
  readonly replica?: ReplicaAttributes;
}

const SUBJECT = 'BackupBucket.fromBucketAttributes';

/**
 * A backup bucket created elsewhere (another app, another stack), imported by its attributes. It grants with identity
 * policies only: its bucket policy and key policy belong to the app that created it.
 */
export class ImportedBackupBucket extends BackupBucketBase {
  public readonly bucket: s3.IBucket;
  public readonly encryptionKey: kms.IKey;
  public readonly versioned: boolean;
  public readonly objectLock?: s3.ObjectLockRetention;
  private readonly bucketArn: string;
  private readonly keyArn: string;
  private readonly keyAccount?: string;
  private readonly replica?: ReplicaInfo;

  constructor(scope: Construct, id: string, attrs: BackupBucketAttributes) {
    const region = attrs.region ?? Stack.of(scope).region;
    super(scope, id, { region });
    const fail = (message: string): never => {
      throw new ConfigurationError(message, scope, { subject: SUBJECT, id });
    };
    const { bucketName, bucketArn } = bucketNameAndArn(attrs, Stack.of(this), fail);
    if (attrs.region !== undefined && !Token.isUnresolved(attrs.region)) {
      const problem = regionProblem(attrs.region, 'region');
      if (problem) fail(`${problem} Pass the region the bucket is in, or omit region when it is this stack's.`);
    }
    const key = literalKmsArn(attrs.encryptionKeyArn, 'encryptionKeyArn', false, fail);
    if (key && !Token.isUnresolved(region) && key.region !== region) {
      fail(
        `encryptionKeyArn is a key of ${key.region}, the bucket is in ${region}: S3 encrypts a bucket only with a key of the ` +
          `bucket's own region. Pass the key the bucket uses (\`aws s3api get-bucket-encryption --bucket ${bucketName}\`), ` +
          'or set region when the bucket is not in this stack\'s region.',
      );
    }
    this.keyArn = attrs.encryptionKeyArn;
    this.keyAccount = key?.account;
    this.bucketArn = bucketArn;
    this.versioned = attrs.versioned ?? true;
    if (attrs.objectLock && !this.versioned) fail('objectLock needs a versioned bucket: remove versioned: false, or remove objectLock.');
    this.objectLock = attrs.objectLock;
    this.encryptionKey = kms.Key.fromKeyArn(this, 'Key', attrs.encryptionKeyArn);
    this.bucket = s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName, bucketArn, region, encryptionKey: this.encryptionKey });
    if (attrs.replica !== undefined) this.replica = replicaInfo(attrs.replica, region, bucketName, Stack.of(this), fail);
  }

  public onReplication(configure: (replica: ReplicaInfo) => void): void {
    if (this.replica) configure(this.replica);
  }

  protected currentReplica(): ReplicaInfo | undefined {
    return this.replica;
  }

  protected bucketArnFor(): string {
    return this.bucketArn;
  }

  protected grantOnBucket(grantee: iam.IGrantable, actions: string[], resourceArns: string[]): iam.Grant {
    this.warnIfOtherAccount(grantee, 'the bucket policy', actions, resourceArns);
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns });
  }

  protected grantOnKey(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    this.warnIfOtherAccount(grantee, 'the key policy', actions, [this.keyArn]);
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.keyArn] });
  }

  /**
   * In another account an identity policy is not enough: the owner of the bucket and key must allow the grantee too.
   * The warning says what to add, since this app cannot change either policy.
   */
  private warnIfOtherAccount(grantee: iam.IGrantable, policy: string, actions: string[], resources: string[]): void {
    const account = granteeStack(grantee)?.account;
    if (this.keyAccount === undefined || account === undefined || Token.isUnresolved(account) || account === this.keyAccount) return;
    const principal = isConstructPrincipal(grantee) ? (grantee.grantPrincipal as unknown as Construct).node.path : 'the grantee';
    Annotations.of(this).addWarningV2(
      'cdk-backup-dr:imported-bucket-other-account',
      `the imported bucket and key are in account ${this.keyAccount}, ${principal} in ${account}: the grant is in its role's ` +
        `policy only. The owner of the bucket must add to ${policy} a statement allowing arn:aws:iam::${account}:root (or the role) ` +
        `${actions.join(', ')} on ${resources.map((arn) => nagResourceString(Stack.of(this).resolve(arn))).join(', ')}.`,
    );
  }
}

function isConstructPrincipal(grantee: iam.IGrantable): boolean {
  return Construct.isConstruct(grantee.grantPrincipal);
}

/** The bucket's name and ARN from whichever of the two was given, after checking they are well formed and agree. */
function bucketNameAndArn(attrs: BackupBucketAttributes, stack: Stack, fail: (message: string) => never): { bucketName: string; bucketArn: string } {
  const { bucketName, bucketArn } = attrs;
  if (bucketName === undefined && bucketArn === undefined) {
    fail('give bucketName or bucketArn: the bucket to import (e.g. bucketName from the BucketName output of the stack that created it).');
  }
  if (bucketName !== undefined && !Token.isUnresolved(bucketName)) {
    const problem = bucketNameProblem(bucketName);
    if (problem) fail(`bucketName: ${problem}`);
  }
  let nameFromArn: string | undefined;
  if (bucketArn !== undefined && !Token.isUnresolved(bucketArn)) {
    const parsed = parseBucketArn(bucketArn);
    if ('problem' in parsed) fail(`bucketArn: ${parsed.problem}`);
    else nameFromArn = parsed.bucketName;
  }
  if (bucketName !== undefined && nameFromArn !== undefined && !Token.isUnresolved(bucketName) && bucketName !== nameFromArn) {
    fail(`bucketName "${bucketName}" and bucketArn "${bucketArn}" name different buckets; give one of them, or make them agree.`);
  }
  const name = bucketName ?? nameFromArn ?? Arn.split(bucketArn as string, ArnFormat.NO_RESOURCE_NAME).resource;
  return {
    bucketName: name,
    bucketArn: bucketArn ?? stack.formatArn({ service: 's3', region: '', account: '', resource: name }),
  };
}

/** The parts of a literal KMS ARN after checking it; undefined for a token; fails for a missing or malformed one. */
function literalKmsArn(arn: string | undefined, field: string, allowAlias: boolean, fail: (message: string) => never): KmsArnParts | undefined {
  if (arn === undefined || arn === '') {
    return fail(
      `${field} is missing: a backup bucket is encrypted with a customer-managed KMS key (SSE-KMS), which the handlers write ` +
        'with and the grants name. Pass its ARN (`aws s3api get-bucket-encryption --bucket <name>` prints it; the EncryptionKeyArn ' +
        'output of SharedBackupResources holds it).',
    );
  }
  if (Token.isUnresolved(arn)) return undefined;
  const parsed = parseKmsArn(arn, allowAlias);
  if ('problem' in parsed) return fail(`${field}: ${parsed.problem}`);
  return parsed;
}

function replicaInfo(
  replica: ReplicaAttributes,
  region: string,
  bucketName: string,
  stack: Stack,
  fail: (message: string) => never,
): ReplicaInfo {
  if (!Token.isUnresolved(replica.bucketName)) {
    const problem = bucketNameProblem(replica.bucketName);
    if (problem) fail(`replica.bucketName: ${problem}`);
    if (!Token.isUnresolved(bucketName) && replica.bucketName === bucketName) {
      fail(`replica.bucketName is the bucket itself (${bucketName}); pass the name of its replica in the DR region, or omit replica.`);
    }
  }
  if (!Token.isUnresolved(replica.region)) {
    const problem = regionProblem(replica.region, 'replica.region');
    if (problem) fail(`${problem} Pass the DR region the replica is in.`);
    if (!Token.isUnresolved(region) && replica.region === region) {
      fail(
        `replica.region is ${region}, the bucket's own region: a replica there would not survive a regional outage. Pass the ` +
          'region the replica bucket is in (the DR region), or omit replica when the bucket does not replicate.',
      );
    }
  }
  const key = literalKmsArn(replica.encryptionKeyArn, 'replica.encryptionKeyArn', true, fail);
  if (key && !Token.isUnresolved(replica.region) && key.region !== replica.region) {
    fail(
      `replica.encryptionKeyArn is in ${key.region}, the replica in ${replica.region}: S3 encrypts the replica with a key of its ` +
        `own region. Pass the key of the replica bucket (\`aws s3api get-bucket-encryption --bucket ${replica.bucketName} --region ${replica.region}\`).`,
    );
  }
  return {
    bucketName: replica.bucketName,
    region: replica.region,
    account: key?.account ?? stack.account,
    encryptionKeyArn: replica.encryptionKeyArn,
    ruleId: replica.ruleId ?? `replicate-to-${replica.region}`,
  };
}
