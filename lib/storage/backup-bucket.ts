import { Aws, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AccessLogsBucket } from './access-logs-bucket';
import { BackupBucketBase, granteeStack, type IBackupBucket, type ReplicaInfo } from './backup-bucket-base';
import { type BackupBucketAttributes, ImportedBackupBucket } from './imported-backup-bucket';
import { BackupLifecycle } from './backup-lifecycle';
import { ConfigurationError } from '../common/errors';
import { objectLockRetentionProblem, overlappingPrefixProblem } from './storage-classes';
import { nagResourceString } from '../common/nag';

/** Properties of a {@link BackupBucket}. */
export interface BackupBucketProps {
  /**
   * Physical name of the bucket.
   *
   * @default - CloudFormation generates a name; a bucket that becomes the replica of another one (see
   * `replicateTo`) is given a deterministic name `<construct-id>-<account>-<region>` instead, so that the
   * source stack can address it without cross-region exports.
   */
  readonly bucketName?: string;

  /**
   * Keep every version of every object. Replication and Object Lock need it; turn it off only for a
   * bucket that uses neither.
   *
   * @default true
   */
  readonly versioned?: boolean;

  /**
   * How objects age. Each entry becomes one lifecycle rule; their prefixes must not overlap. An empty list
   * keeps everything in S3 Standard forever. Incomplete multipart uploads are aborted after one day and
   * expired delete markers are removed in every case.
   *
   * @default [BackupLifecycle.archive()] - the whole bucket tiers to Glacier IR (30 d), Glacier Flexible
   * Retrieval (120 d), Deep Archive (365 d) and expires after 7 years; noncurrent versions are kept 30 days
   */
  readonly lifecycle?: BackupLifecycle[];

  /**
   * Turn on S3 Object Lock with this default retention for every new object version
   * (`s3.ObjectLockRetention.governance(...)` or `s3.ObjectLockRetention.compliance(...)`).
   * Object Lock cannot be turned off once the bucket exists.
   *
   * @default - no Object Lock
   */
  readonly objectLock?: s3.ObjectLockRetention;

  /**
   * What happens to the bucket, its KMS key and its access-log bucket when they leave the stack.
   * A non-empty bucket cannot be deleted by CloudFormation in any case.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long S3 server access logs are kept in the access-log bucket.
   *
   * @default Duration.days(365)
   */
  readonly accessLogsRetention?: Duration;
}

/** Options of {@link BackupBucket.replicateTo}. */
export interface ReplicationOptions {
  /**
   * Storage class of the replicas (e.g. `s3.StorageClass.GLACIER_INSTANT_RETRIEVAL` for a cheaper DR copy).
   *
   * @default - the storage class of the source object
   */
  readonly storageClass?: s3.StorageClass;

  /**
   * Replicate delete markers. Off by default on purpose: with it, a deletion in the primary region (by
   * mistake, by an attacker or by a faulty retention job) also hides the object in the DR copy, which is
   * exactly what the DR copy is there to survive. The DR bucket's own lifecycle expires its copies.
   *
   * @default false
   */
  readonly replicateDeleteMarkers?: boolean;

  /**
   * S3 Replication Time Control: 99.99% of objects replicated within 15 minutes, with replication metrics
   * and `OperationMissedThreshold` events. When off, replication metrics are still enabled.
   *
   * @default true
   */
  readonly replicationTimeControl?: boolean;

  /**
   * Replicate only objects whose key starts with this prefix.
   *
   * @default - the whole bucket
   */
  readonly prefix?: string;
}

/** What a call to `replicateTo` configured. */
interface ReplicationState {
  readonly replica: BackupBucket;
  readonly ruleId: string;
  readonly role: iam.Role;
  readonly destinationBucketName: string;
}

/**
 * An S3 bucket for database backups, secure by default.
 *
 * - versioned; SSE-KMS with a customer-managed key (rotation every 90 days) and S3 Bucket Keys; SSE-C blocked;
 * - bucket policy: TLS 1.2+ only, and uploads that ask for any encryption other than SSE-KMS with this
 *   bucket's key are denied (uploads without an encryption header get the bucket default, which is that key;
 *   a policy that required the header would also deny `UploadPart`, which never carries it);
 * - all public access blocked, ACLs disabled (bucket owner enforced);
 * - server access logs to a dedicated {@link AccessLogsBucket};
 * - a {@link BackupLifecycle} schedule (Glacier tiers by default), incomplete multipart uploads aborted after a day;
 * - optional Object Lock; RETAIN removal policy by default;
 * - `replicateTo(replica)` for cross-region replication with RTC, KMS re-encryption and a least-privilege role.
 *
 * @example
 * declare const dumpFunction: lambda.IFunction;
 * const app = new App();
 * const primary = new Stack(app, 'Primary', { env: { account: '123456789012', region: 'us-east-1' } });
 * const dr = new Stack(app, 'Dr', { env: { account: '123456789012', region: 'us-west-2' } });
 *
 * const lock = s3.ObjectLockRetention.governance(Duration.days(35));
 * const replica = new BackupBucket(dr, 'Replica', {
 *   lifecycle: [BackupLifecycle.archive({ glacierInstantRetrievalAfter: false })],
 *   objectLock: lock, // a locked source needs a locked replica
 * });
 * const backups = new BackupBucket(primary, 'Backups', {
 *   lifecycle: [
 *     BackupLifecycle.archive({ prefix: 'postgres/' }),
 *     BackupLifecycle.keepInStandard({ prefix: 'reports/', expireAfter: Duration.days(730) }),
 *   ],
 *   objectLock: lock,
 * });
 * backups.replicateTo(replica, { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL });
 * backups.grantWriteBackups(dumpFunction, 'postgres/*');
 * new cloudwatch.Alarm(primary, 'ReplicationFailures', {
 *   metric: backups.metricOperationsFailedReplication(),
 *   threshold: 1,
 *   evaluationPeriods: 1,
 * });
 */
export class BackupBucket extends BackupBucketBase {
  /**
   * A backup bucket that another app or stack created, by its attributes, for the constructs of this app (RecoveryTest,
   * Failover, PostgresBackup) to use. The attributes are checked when they are literal strings (a bucket name or
   * ARN, a key ARN in the bucket's region, a replica in another region); values only known at deploy time (SSM
   * parameters, imports) are taken as they are.
   *
   * What an imported bucket cannot give: its bucket policy, replication rule, lifecycle and key policy stay with the app
   * that created it, so grants go into the grantees' identity policies only. In the same account that is enough for
   * a BackupBucket (its key policy lets IAM policies grant the key); for a key whose policy does not, add to it a
   * statement allowing the roles of this app what they are granted (see the README, "Using a bucket from another app").
   *
   * @example
   * const backups = BackupBucket.fromBucketAttributes(this, 'Backups', {
   *   bucketName: 'orders-backups-123456789012-us-west-2',
   *   encryptionKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
   * });
   * new RecoveryTest(this, 'RecoveryTest', { bucket: backups, sourceName: 'orders', vpc, postgresVersion: 16 });
   */
  public static fromBucketAttributes(scope: Construct, id: string, attrs: BackupBucketAttributes): IBackupBucket {
    return new ImportedBackupBucket(scope, id, attrs);
  }

  /** The bucket. */
  public readonly bucket: s3.IBucket;
  /** The customer-managed KMS key that encrypts the bucket. */
  public readonly encryptionKey: kms.IKey;
  /** Alias name of the KMS key (`alias/...`), usable from other regions where the key id is unknown. */
  public readonly encryptionKeyAliasName: string;
  /** The bucket that receives this bucket's S3 server access logs. */
  public readonly accessLogsBucket: s3.IBucket;
  /** Whether versioning is on. */
  public readonly versioned: boolean;
  /** The Object Lock default retention, when Object Lock is on. */
  public readonly objectLock?: s3.ObjectLockRetention;
  /** The lifecycle schedules, one rule each. */
  public readonly lifecycle: readonly BackupLifecycle[];

  private readonly s3Bucket: s3.Bucket;
  private readonly cfnBucket: s3.CfnBucket;
  private readonly explicitBucketName?: string;
  private assignedBucketName?: string;
  private replication?: ReplicationState;
  private readonly replicationListeners: Array<(replica: ReplicaInfo) => void> = [];
  private source?: BackupBucket;

  constructor(scope: Construct, id: string, props: BackupBucketProps = {}) {
    super(scope, id);

    this.versioned = props.versioned ?? true;
    this.objectLock = props.objectLock;
    this.lifecycle = props.lifecycle ?? [BackupLifecycle.archive()];
    this.explicitBucketName = props.bucketName;
    this.validateProps();

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.encryptionKeyAliasName = `alias/cdk-backup-dr/${Names.uniqueResourceName(this, { maxLength: 200 })}`;
    const key = new kms.Key(this, 'Key', {
      description: `Encrypts the backups in ${this.node.path}`,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(90),
      alias: this.encryptionKeyAliasName,
      removalPolicy,
    });
    this.encryptionKey = key;

    const accessLogs = new AccessLogsBucket(this, 'AccessLogs', {
      retention: props.accessLogsRetention,
      removalPolicy,
    });
    this.accessLogsBucket = accessLogs.bucket;

    const bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      versioned: this.versioned,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockedEncryptionTypes: [s3.BlockedEncryptionType.SSE_C],
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs.bucket,
      serverAccessLogsPrefix: 'backup-bucket/',
      objectLockEnabled: this.objectLock ? true : undefined,
      objectLockDefaultRetention: this.objectLock,
      lifecycleRules: [
        {
          id: 'abort-incomplete-multipart-uploads',
          enabled: true,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
        ...this.lifecycle.map((l, i) => l.toLifecycleRule(lifecycleRuleId(l, i))),
      ],
      removalPolicy,
    });
    this.bucket = bucket;
    this.s3Bucket = bucket;
    this.cfnBucket = bucket.node.defaultChild as s3.CfnBucket;

    // An upload that names an encryption header must name SSE-KMS with this bucket's key.
    const denyUploadsWithOther = (sid: string, header: string, required: string) =>
      bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['s3:PutObject'],
          resources: [bucket.arnForObjects('*')],
          conditions: { StringNotEquals: { [header]: required }, Null: { [header]: 'false' } },
        }),
      );
    denyUploadsWithOther('DenyUploadsNotEncryptedWithSseKms', 's3:x-amz-server-side-encryption', 'aws:kms');
    denyUploadsWithOther('DenyUploadsEncryptedWithAnotherKmsKey', 's3:x-amz-server-side-encryption-aws-kms-key-id', key.keyArn);
  }

  /** The replica this bucket replicates to, if `replicateTo` was called. */
  public get replica(): BackupBucket | undefined {
    return this.replication?.replica;
  }

  /**
   * Runs `configure` with the replica as soon as this bucket replicates: at once when `replicateTo` was already
   * called, else inside that call. A construct that depends on the replica (a verifier that also checks the DR copy)
   * uses it instead of reading {@link replica} once, so it does not matter whether it was created before or after
   * `replicateTo`.
   *
   * @example
   * backups.onReplication(({ bucketName, region }) => {
   *   verifyFunction.addEnvironment('REPLICA_BUCKET_NAME', bucketName);
   *   verifyFunction.addEnvironment('REPLICA_REGION', region);
   * });
   */
  public onReplication(configure: (replica: ReplicaInfo) => void): void {
    if (this.replication) configure(this.replicaInfo(this.replication));
    else this.replicationListeners.push(configure);
  }

  private replicaInfo(replication: ReplicationState): ReplicaInfo {
    const replicaStack = Stack.of(replication.replica);
    return {
      replica: replication.replica,
      bucketName: replication.destinationBucketName,
      region: replicaStack.region,
      account: replicaStack.account,
      encryptionKeyArn: Stack.of(this).formatArn({
        service: 'kms',
        region: replicaStack.region,
        account: replicaStack.account,
        resource: replication.replica.encryptionKeyAliasName,
      }),
      ruleId: replication.ruleId,
    };
  }

  protected currentReplica(): ReplicaInfo | undefined {
    return this.replication ? this.replicaInfo(this.replication) : undefined;
  }

  /** The role S3 assumes to replicate, if `replicateTo` was called. */
  public get replicationRole(): iam.IRole | undefined {
    return this.replication?.role;
  }

  /** The bucket that replicates into this one, if this bucket was passed to another one's `replicateTo`. */
  public get replicationSource(): BackupBucket | undefined {
    return this.source;
  }

  /**
   * Replicate every new object version to `replica`, a BackupBucket in a stack of another region of the
   * same account.
   *
   * What it configures: a replication rule with Replication Time Control (15 minutes) and replication
   * metrics; SSE-KMS objects re-encrypted with the replica's own key; delete markers not replicated unless
   * asked; a role that S3 assumes (only on behalf of this account) with exactly: read versions of this
   * bucket's objects, `kms:Decrypt` on this bucket's key (via S3, for this bucket), replicate into the
   * replica's objects, and `kms:Encrypt`/`kms:GenerateDataKey` on the replica's key (via S3, for the replica
   * bucket). The stack of this bucket is made to depend on the replica's stack, so `cdk deploy --all`
   * creates the replica first.
   *
   * Cross-region wiring without exports: the replica gets a deterministic name when it has none, and its key
   * is addressed through its alias (`encryptionKeyAliasName`), because a KMS key id is only known after
   * deployment. The role's KMS permission on the replica key is therefore granted on `key/*` of the replica
   * region, restricted with `kms:ResourceAliases` to that alias.
   */
  public replicateTo(replica: BackupBucket, options: ReplicationOptions = {}): void {
    this.validateReplication(replica);
    const stack = Stack.of(this);
    const replicaStack = Stack.of(replica);
    const replicaRegion = replicaStack.region;
    const destinationBucketName = replica.ensurePhysicalName();
    const destinationBucketArn = stack.formatArn({
      service: 's3',
      region: '',
      account: '',
      resource: destinationBucketName,
    });
    const replicaKeyAliasArn = stack.formatArn({
      service: 'kms',
      region: replicaRegion,
      account: replicaStack.account,
      resource: replica.encryptionKeyAliasName,
    });
    const replicaKeysArn = stack.formatArn({
      service: 'kms',
      region: replicaRegion,
      account: replicaStack.account,
      resource: 'key',
      resourceName: '*',
    });
    const prefix = options.prefix ?? '';
    const rtc = options.replicationTimeControl ?? true;
    const replicateDeleteMarkers = options.replicateDeleteMarkers ?? false;
    const ruleId = `replicate-to-${replicaRegion}`;

    const role = new iam.Role(this, 'ReplicationRole', {
      description: `S3 replication from ${this.node.path} to ${replica.node.path}`,
      // aws:SourceArn (this bucket) cannot be added without a dependency cycle: the bucket references the role.
      assumedBy: new iam.ServicePrincipal('s3.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
      }),
    });
    const sourceObjects = this.bucket.arnForObjects(`${prefix}*`);
    const destinationObjects = `${destinationBucketArn}/${prefix}*`;
    const policy = new iam.ManagedPolicy(this, 'ReplicationPolicy', {
      description: `Least privilege for S3 replication from ${this.node.path} to ${replica.node.path}`,
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadSourceReplicationConfiguration',
          actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
          resources: [this.bucket.bucketArn],
        }),
        new iam.PolicyStatement({
          sid: 'ReadSourceObjectVersions',
          actions: [
            's3:GetObjectVersionForReplication',
            's3:GetObjectVersionAcl',
            's3:GetObjectVersionTagging',
            ...(this.objectLock ? ['s3:GetObjectRetention', 's3:GetObjectLegalHold'] : []),
          ],
          resources: [sourceObjects],
        }),
        new iam.PolicyStatement({
          sid: 'ReplicateIntoDestination',
          actions: ['s3:ReplicateObject', 's3:ReplicateTags', ...(replicateDeleteMarkers ? ['s3:ReplicateDelete'] : [])],
          resources: [destinationObjects],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptSourceObjects',
          actions: ['kms:Decrypt'],
          resources: [this.encryptionKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `s3.${stack.region}.${Aws.URL_SUFFIX}` },
            StringLike: { 'kms:EncryptionContext:aws:s3:arn': [this.bucket.bucketArn, `${this.bucket.bucketArn}/*`] },
          },
        }),
        new iam.PolicyStatement({
          sid: 'EncryptReplicasWithReplicaKey',
          actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [replicaKeysArn],
          conditions: {
            'StringEquals': { 'kms:ViaService': `s3.${replicaRegion}.${Aws.URL_SUFFIX}` },
            'ForAnyValue:StringEquals': { 'kms:ResourceAliases': replica.encryptionKeyAliasName },
            'StringLike': { 'kms:EncryptionContext:aws:s3:arn': [destinationBucketArn, `${destinationBucketArn}/*`] },
          },
        }),
      ],
    });

    this.cfnBucket.replicationConfiguration = {
      role: role.roleArn,
      rules: [
        {
          id: ruleId,
          priority: 0,
          status: 'Enabled',
          filter: { prefix },
          deleteMarkerReplication: { status: replicateDeleteMarkers ? 'Enabled' : 'Disabled' },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: 'Enabled' } },
          destination: {
            bucket: destinationBucketArn,
            storageClass: options.storageClass?.value,
            encryptionConfiguration: { replicaKmsKeyId: replicaKeyAliasArn },
            replicationTime: rtc ? { status: 'Enabled', time: { minutes: 15 } } : undefined,
            metrics: rtc ? { status: 'Enabled', eventThreshold: { minutes: 15 } } : { status: 'Enabled' },
          },
        },
      ],
    };
    if (replicaStack !== stack) {
      stack.addStackDependency(replicaStack, 'the replication destination bucket must exist before replication is configured');
    }

    acknowledgeReplicationRoleWildcards(policy, {
      sourceObjects,
      destinationObjects,
      replicaKeys: replicaKeysArn,
    });
    replica.markAsReplicaOf(this);
    this.replication = { replica, ruleId, role, destinationBucketName };
    for (const configure of this.replicationListeners.splice(0)) configure(this.replicaInfo(this.replication));
  }

  private validateProps(): void {
    if (!this.versioned && this.objectLock) {
      throw new ConfigurationError(
        'Object Lock needs versioning: remove versioned: false, or remove objectLock.',
        this,
      );
    }
    const prefixes = this.lifecycle.map((l) => l.prefix);
    for (let i = 0; i < prefixes.length; i++) {
      for (let j = i + 1; j < prefixes.length; j++) {
        const problem = overlappingPrefixProblem(prefixes[i], prefixes[j]);
        if (problem) throw new ConfigurationError(problem, this);
      }
    }
    const lock = this.objectLock;
    if (lock && !lock.duration.isUnresolved()) {
      const retentionDays = lock.duration.toDays({ integral: false });
      for (const lifecycle of this.lifecycle) {
        const problem = objectLockRetentionProblem({
          description: lifecycle.description,
          retentionDays,
          mode: lock.mode,
          expireDay: lifecycle.expireDay,
        });
        if (problem) throw new ConfigurationError(problem, this);
      }
    }
  }

  private validateReplication(replica: BackupBucket): void {
    if (this.replication) {
      throw new ConfigurationError(
        `this bucket already replicates to ${this.replication.replica.node.path}; a BackupBucket replicates to ` +
          'one replica. Remove the second replicateTo call.',
        this,
      );
    }
    if (replica === this) {
      throw new ConfigurationError('a bucket cannot replicate to itself: pass a BackupBucket created in the DR-region stack.', this);
    }
    const sourceStack = Stack.of(this);
    const replicaStack = Stack.of(replica);
    if (Token.isUnresolved(replicaStack.region)) {
      throw new ConfigurationError(
        `the replica ${replica.node.path} is in a stack without an explicit region; give its stack ` +
          "env: { region: '<dr-region>' } so the replication rule can address it.",
        this,
      );
    }
    if (!Token.isUnresolved(sourceStack.region) && sourceStack.region === replicaStack.region) {
      throw new ConfigurationError(
        `the replica ${replica.node.path} is in the same region (${replicaStack.region}) as the source, so it ` +
          'would not survive a regional outage. Create the replica in a stack whose env.region is the DR region.',
        this,
      );
    }
    if (!Token.isUnresolved(sourceStack.account) && !Token.isUnresolved(replicaStack.account) && sourceStack.account !== replicaStack.account) {
      throw new ConfigurationError(
        `the replica ${replica.node.path} is in account ${replicaStack.account}, the source in ` +
          `${sourceStack.account}; cross-account replication is not supported. Put the DR stack in the same account.`,
        this,
      );
    }
    if (!this.versioned) {
      throw new ConfigurationError('replication needs versioning on the source: remove versioned: false from this BackupBucket.', this);
    }
    if (!replica.versioned) {
      throw new ConfigurationError(
        `replication needs versioning on the replica: remove versioned: false from ${replica.node.path}.`,
        this,
      );
    }
    if (this.objectLock && !replica.objectLock) {
      throw new ConfigurationError(
        `this bucket uses Object Lock, so its replica must too (S3 refuses to replicate locked objects into an ` +
          `unlocked bucket): set objectLock on ${replica.node.path}.`,
        this,
      );
    }
    if (replica.explicitBucketName !== undefined && Token.isUnresolved(replica.explicitBucketName)) {
      throw new ConfigurationError(
        `the replica ${replica.node.path} has a bucketName that is only known at deploy time; a replication ` +
          'destination in another region needs a literal name. Pass a plain string or omit bucketName.',
        this,
      );
    }
  }

  /**
   * The bucket's literal physical name, giving the bucket a deterministic one when it has none:
   * `<construct-id-slug>-<account>-<region>` (the account is the deploying account when the stack has none).
   */
  private ensurePhysicalName(): string {
    if (this.explicitBucketName !== undefined) {
      return this.explicitBucketName;
    }
    if (this.assignedBucketName === undefined) {
      const stack = Stack.of(this);
      const slug = Names.uniqueResourceName(this, { maxLength: 30 }).toLowerCase();
      const name = `${slug}-${stack.account}-${stack.region}`;
      this.cfnBucket.bucketName = name;
      this.assignedBucketName = name;
    }
    return this.assignedBucketName;
  }

  private markAsReplicaOf(source: BackupBucket): void {
    this.source = source;
    const reason =
      `This bucket is the cross-region replica of ${source.node.path}; replicating the DR copy again would ` +
      'chain copies without protecting against anything the first replication does not.';
    Validations.of(this.cfnBucket).acknowledge(
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason },
      { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason },
    );
  }

  protected grantOnBucket(grantee: iam.IGrantable, actions: string[], resourceArns: string[]): iam.Grant {
    return iam.Grant.addToPrincipalOrResource({
      grantee,
      actions,
      resourceArns,
      resource: this.s3Bucket,
    });
  }

  protected grantOnKey(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const otherStack = this.otherEnvironmentOf(grantee);
    if (otherStack === undefined) {
      return this.encryptionKey.grant(grantee, ...actions);
    }
    const keyStack = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [
        otherStack.formatArn({
          service: 'kms',
          region: keyStack.region,
          account: keyStack.account,
          resource: 'key',
          resourceName: '*',
        }),
      ],
      conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': this.encryptionKeyAliasName } },
    });
  }

  protected bucketArnFor(grantee: iam.IGrantable): string {
    const otherStack = this.otherEnvironmentOf(grantee);
    if (otherStack === undefined) {
      return this.bucket.bucketArn;
    }
    if (this.explicitBucketName !== undefined && Token.isUnresolved(this.explicitBucketName)) {
      throw new ConfigurationError(
        'a grantee in another region needs this bucket to have a literal name: pass a plain string as bucketName or omit it.',
        this,
      );
    }
    return otherStack.formatArn({
      service: 's3',
      region: '',
      account: '',
      resource: this.ensurePhysicalName(),
    });
  }

  /** The grantee's stack when the grantee is a construct in a stack of another region than this bucket's. */
  private otherEnvironmentOf(grantee: iam.IGrantable): Stack | undefined {
    const otherStack = granteeStack(grantee);
    const ownStack = Stack.of(this);
    if (otherStack === undefined || otherStack === ownStack) {
      return undefined;
    }
    if (Token.isUnresolved(otherStack.region) || Token.isUnresolved(ownStack.region)) {
      return undefined;
    }
    return otherStack.region !== ownStack.region ? otherStack : undefined;
  }
}

function lifecycleRuleId(lifecycle: BackupLifecycle, index: number): string {
  const where = lifecycle.prefix === '' ? 'all' : lifecycle.prefix.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-|-$/g, '');
  return `backup-lifecycle-${index}-${where}`;
}

/**
 * Acknowledge the cdk-nag wildcard findings that S3 replication makes unavoidable on the replication policy:
 * replication reads and writes any object version under the replicated prefix, and the replica region's key
 * id is unknown at synth time (it is pinned by alias instead).
 */
function acknowledgeReplicationRoleWildcards(
  policy: iam.ManagedPolicy,
  resources: { sourceObjects: string; destinationObjects: string; replicaKeys: string },
): void {
  const stack = Stack.of(policy);
  const cfnPolicy = policy.node.defaultChild as iam.CfnManagedPolicy;
  const reasons: Array<[string, string]> = [
    [resources.sourceObjects, 'S3 replication reads every object version under the replicated prefix of the source bucket; the resource names that bucket.'],
    [resources.destinationObjects, 'S3 replication writes every replicated object under the same prefix of the named replica bucket.'],
    [resources.replicaKeys, 'The replica key id is only known after the DR stack is deployed; access is restricted to the one key carrying the replica alias through kms:ResourceAliases, and to S3 in that region through kms:ViaService.'],
  ];
  for (const [arn, reason] of reasons) {
    const finding = `Resource::${nagResourceString(stack.resolve(arn))}`;
    Validations.of(cfnPolicy).acknowledge(
      { id: `AwsSolutions-IAM5[${finding}]`, reason },
    );
  }
}
