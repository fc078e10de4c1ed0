/**
 * What AWS authorizes for each SDK call the handlers and state machines make: the IAM action(s), the resource ARN(s)
 * and the condition keys, including the implicit ones (a `VersionId` makes S3 check the `*Version` action; S3 and
 * Secrets Manager call KMS with the caller's credentials for objects and secrets under a customer key; RDS creates a
 * KMS grant when it copies or restores with a key). One entry per operation: a call the table does not know fails the
 * contract test, so a new SDK call in a handler needs its entry here.
 *
 * Sources: the Service Authorization Reference (actions, resource types, condition keys) and the services' guides
 * (S3 "Using SSE-KMS" and multipart upload permissions, Secrets Manager "Secret encryption and decryption", RDS
 * "Copying a DB snapshot", SNS "Encryption at rest").
 */
import type { JsonValue } from '../../local/template-resolver';

/** One authorization AWS makes for a call. */
export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request besides the global ones (aws:SecureTransport, aws:PrincipalArn). */
  readonly context?: Readonly<Record<string, string | string[]>>;
  /**
   * AWS checks the action on `resource`, but the Service Authorization Reference lists no resource type for it, so
   * the simulator refuses any ARN: the evaluation matches the role's statements itself (no conditions, no Deny).
   */
  readonly resourceNotInReference?: true;
}

/** What the table needs to know about the call and its template. */
export interface CallContext {
  readonly input: Readonly<Record<string, JsonValue>>;
  readonly region: string;
  readonly accountId: string;
  /** The default KMS key ARN of a bucket of the template, undefined when the bucket is not in it or has none. */
  bucketKey(bucket: string): string | undefined;
  /** The customer KMS key ARN of a secret of the template, undefined for the AWS managed key. */
  secretKey(secretArn: string): string | undefined;
  /** The customer KMS key ARN of a topic of the template. */
  topicKey(topicArn: string): string | undefined;
  /** Tags of a resource created (with tags) earlier in the recording, for `aws:ResourceTag/*`. */
  tagsOf(arn: string): Readonly<Record<string, string>>;
}

type Authorize = (call: CallContext) => AuthorizationRequest[];

const str = (call: CallContext, field: string): string | undefined => {
  const value = call.input[field];
  return typeof value === 'string' ? value : undefined;
};
const need = (call: CallContext, field: string): string => {
  const value = str(call, field);
  if (value === undefined) throw new Error(`the call has no ${field}: the authorization table cannot name its resource`);
  return value;
};

/** `aws:RequestTag/*` and `aws:TagKeys` of a call with `Tags: [{ Key, Value }]`. */
export function requestTags(call: CallContext): Record<string, string | string[]> {
  const tags = Array.isArray(call.input.Tags) ? (call.input.Tags as Array<{ Key: string; Value: string }>) : [];
  if (tags.length === 0) return {};
  const out: Record<string, string | string[]> = { 'aws:TagKeys': tags.map((tag) => tag.Key) };
  for (const tag of tags) out[`aws:RequestTag/${tag.Key}`] = tag.Value;
  return out;
}

function resourceTags(call: CallContext, arn: string): Record<string, string> {
  return Object.fromEntries(Object.entries(call.tagsOf(arn)).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));
}

// --- ARNs -------------------------------------------------------------------------------------------------------

const s3Object = (call: CallContext) => `arn:aws:s3:::${need(call, 'Bucket')}/${need(call, 'Key')}`;
/** The keys of a DeleteObjects call (`Delete.Objects`, recorded with keys and version ids only). */
function deletedObjects(call: CallContext): Array<{ Key: string; VersionId?: string }> {
  const objects = (call.input.Delete as { Objects?: Array<{ Key: string; VersionId?: string }> } | undefined)?.Objects;
  if (!Array.isArray(objects) || objects.length === 0) throw new Error('the DeleteObjects call has no Delete.Objects: the authorization table cannot name its resources');
  return objects;
}
const s3Bucket = (call: CallContext) => `arn:aws:s3:::${need(call, 'Bucket')}`;
const s3Prefix = (call: CallContext): Record<string, string> => {
  const prefix = str(call, 'Prefix');
  return prefix === undefined ? {} : { 's3:prefix': prefix };
};

/** An RDS ARN, or the identifier when it is one already (cross-region sources are given as ARNs). */
export function rdsArn(call: CallContext, type: string, identifier: string, region = call.region): string {
  return identifier.startsWith('arn:') ? identifier : `arn:aws:rds:${region}:${call.accountId}:${type}:${identifier}`;
}

/** A secret's ARN from a name or an ARN (a name gets the random suffix every secret ARN ends with). */
function secretArn(call: CallContext, id: string): string {
  return id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${call.region}:${call.accountId}:secret:${id}-AbCdEf`;
}

/** A KMS key ARN from a key id, key ARN or alias. */
export function kmsKeyArn(call: CallContext, key: string, region = call.region): string {
  if (key.startsWith('arn:')) return key;
  return key.startsWith('alias/') ? `arn:aws:kms:${region}:${call.accountId}:${key}` : `arn:aws:kms:${region}:${call.accountId}:key/${key}`;
}

// --- implicit KMS calls -----------------------------------------------------------------------------------------

function kmsVia(service: string, call: CallContext, key: string | undefined, actions: readonly string[]): AuthorizationRequest[] {
  if (key === undefined) return [];
  const context = { 'kms:ViaService': `${service}.${call.region}.amazonaws.com`, 'kms:CallerAccount': call.accountId };
  return actions.map((action) => ({ action, resource: kmsKeyArn(call, key), context }));
}

/** The key an S3 write encrypts with: the one named in the request, else the bucket's default. */
function s3WriteKey(call: CallContext): string | undefined {
  return str(call, 'SSEKMSKeyId') ?? call.bucketKey(need(call, 'Bucket'));
}

function s3PutContext(call: CallContext): Record<string, string> {
  const out: Record<string, string> = {};
  const sse = str(call, 'ServerSideEncryption');
  const key = str(call, 'SSEKMSKeyId');
  if (sse !== undefined) out['s3:x-amz-server-side-encryption'] = sse;
  if (key !== undefined) out['s3:x-amz-server-side-encryption-aws-kms-key-id'] = key;
  return out;
}

/** An RDS call that encrypts with a customer key creates a grant for RDS on it, in the region of the call. */
function rdsKeyGrant(call: CallContext): AuthorizationRequest[] {
  const key = str(call, 'KmsKeyId');
  if (key === undefined) return [];
  const resource = kmsKeyArn(call, key);
  const via = { 'kms:ViaService': `rds.${call.region}.amazonaws.com`, 'kms:CallerAccount': call.accountId };
  return [
    { action: 'kms:CreateGrant', resource, context: { ...via, 'kms:GrantIsForAWSResource': 'true' } },
    { action: 'kms:DescribeKey', resource, context: via },
  ];
}

/** An RDS create call with `Tags`: the action with `aws:RequestTag/*`, and `rds:AddTagsToResource` on what it creates. */
function rdsCreate(call: CallContext, action: string, created: string, sources: readonly string[]): AuthorizationRequest[] {
  const tags = requestTags(call);
  const out: AuthorizationRequest[] = [{ action, resource: created, context: tags }];
  for (const source of sources) out.push({ action, resource: source, context: tags });
  if (Object.keys(tags).length > 0) out.push({ action: 'rds:AddTagsToResource', resource: created, context: tags });
  const subnetGroup = str(call, 'DBSubnetGroupName');
  if (subnetGroup !== undefined) out.push({ action, resource: rdsArn(call, 'subgrp', subnetGroup), context: tags });
  return [...out, ...rdsKeyGrant(call)];
}

/** An RDS call on one existing resource, with the tags it was created with. */
function rdsOn(action: string, type: string, field: string): Authorize {
  return (call) => {
    const resource = rdsArn(call, type, need(call, field));
    return [{ action, resource, context: resourceTags(call, resource) }];
  };
}

/** An RDS describe: on the named resource, else on all of that type. */
function rdsDescribe(action: string, choices: ReadonlyArray<readonly [field: string, type: string]>, fallbackType: string): Authorize {
  return (call) => {
    for (const [field, type] of choices) {
      const id = str(call, field);
      if (id !== undefined) return [{ action, resource: rdsArn(call, type, id) }];
    }
    return [{ action, resource: rdsArn(call, fallbackType, '*') }];
  };
}

const globalCluster = (call: CallContext, id: string) => (id.startsWith('arn:') ? id : `arn:aws:rds::${call.accountId}:global-cluster:${id}`);

function secretCall(action: string, kmsActions: readonly string[] = []): Authorize {
  return (call) => {
    const resource = secretArn(call, need(call, 'SecretId'));
    return [{ action, resource, context: resourceTags(call, resource) }, ...kmsVia('secretsmanager', call, call.secretKey(resource), kmsActions)];
  };
}

const hostedZone = (call: CallContext) => `arn:aws:route53:::hostedzone/${need(call, 'HostedZoneId').replace(/^\/hostedzone\//, '')}`;
const ssmParameter = (call: CallContext) => `arn:aws:ssm:${call.region}:${call.accountId}:parameter/${need(call, 'Name').replace(/^\//, '')}`;

/** SDK service id -> operation -> what AWS authorizes. */
export const AUTHORIZATION: Readonly<Record<string, Readonly<Record<string, Authorize>>>> = {
  S3: {
    PutObject: (call) => [
      { action: 's3:PutObject', resource: s3Object(call), context: s3PutContext(call) },
      ...kmsVia('s3', call, s3WriteKey(call), ['kms:GenerateDataKey']),
    ],
    CreateMultipartUpload: (call) => [
      { action: 's3:PutObject', resource: s3Object(call), context: s3PutContext(call) },
      ...kmsVia('s3', call, s3WriteKey(call), ['kms:GenerateDataKey']),
    ],
    UploadPart: (call) => [{ action: 's3:PutObject', resource: s3Object(call) }, ...kmsVia('s3', call, s3WriteKey(call), ['kms:GenerateDataKey'])],
    // S3 decrypts the parts to complete an SSE-KMS multipart upload.
    CompleteMultipartUpload: (call) => [{ action: 's3:PutObject', resource: s3Object(call) }, ...kmsVia('s3', call, s3WriteKey(call), ['kms:Decrypt'])],
    AbortMultipartUpload: (call) => [{ action: 's3:AbortMultipartUpload', resource: s3Object(call) }],
    ListMultipartUploads: (call) => [{ action: 's3:ListBucketMultipartUploads', resource: s3Bucket(call) }],
    HeadObject: (call) => [{ action: str(call, 'VersionId') === undefined ? 's3:GetObject' : 's3:GetObjectVersion', resource: s3Object(call) }],
    GetObject: (call) => [
      { action: str(call, 'VersionId') === undefined ? 's3:GetObject' : 's3:GetObjectVersion', resource: s3Object(call) },
      ...kmsVia('s3', call, call.bucketKey(need(call, 'Bucket')), ['kms:Decrypt']),
    ],
    DeleteObject: (call) => [{ action: str(call, 'VersionId') === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion', resource: s3Object(call) }],
    ListObjectsV2: (call) => [{ action: 's3:ListBucket', resource: s3Bucket(call), context: s3Prefix(call) }],
    ListObjectVersions: (call) => [{ action: 's3:ListBucketVersions', resource: s3Bucket(call), context: s3Prefix(call) }],
    // DeleteObjects has no action of its own: S3 authorizes each key as DeleteObject (DeleteObjectVersion with a version id).
    DeleteObjects: (call) => deletedObjects(call).map(({ Key, VersionId }) => ({
      action: VersionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion',
      resource: `arn:aws:s3:::${need(call, 'Bucket')}/${Key}`,
    })),
    GetObjectRetention: (call) => [{ action: 's3:GetObjectRetention', resource: s3Object(call) }],
    GetObjectLegalHold: (call) => [{ action: 's3:GetObjectLegalHold', resource: s3Object(call) }],
  },
  RDS: {
    DescribeDBInstances: rdsDescribe('rds:DescribeDBInstances', [['DBInstanceIdentifier', 'db']], 'db'),
    DescribeDBClusters: rdsDescribe('rds:DescribeDBClusters', [['DBClusterIdentifier', 'cluster']], 'cluster'),
    DescribeDBSnapshots: rdsDescribe('rds:DescribeDBSnapshots', [['DBSnapshotIdentifier', 'snapshot'], ['DBInstanceIdentifier', 'db']], 'snapshot'),
    DescribeDBClusterSnapshots: rdsDescribe(
      'rds:DescribeDBClusterSnapshots',
      [['DBClusterSnapshotIdentifier', 'cluster-snapshot'], ['DBClusterIdentifier', 'cluster']],
      'cluster-snapshot',
    ),
    DescribeDBInstanceAutomatedBackups: rdsDescribe(
      'rds:DescribeDBInstanceAutomatedBackups',
      [['DBInstanceAutomatedBackupsArn', 'auto-backup'], ['DBInstanceIdentifier', 'db']],
      'auto-backup',
    ),
    DescribeDBSubnetGroups: rdsDescribe('rds:DescribeDBSubnetGroups', [['DBSubnetGroupName', 'subgrp']], 'subgrp'),
    // No resource-level permissions: the account's quotas.
    DescribeAccountAttributes: () => [{ action: 'rds:DescribeAccountAttributes', resource: '*' }],
    DeleteDBSnapshot: rdsOn('rds:DeleteDBSnapshot', 'snapshot', 'DBSnapshotIdentifier'),
    DeleteDBClusterSnapshot: rdsOn('rds:DeleteDBClusterSnapshot', 'cluster-snapshot', 'DBClusterSnapshotIdentifier'),
    DescribeGlobalClusters: (call) => [
      { action: 'rds:DescribeGlobalClusters', resource: globalCluster(call, str(call, 'GlobalClusterIdentifier') ?? '*') },
    ],
    ListTagsForResource: (call) => [{ action: 'rds:ListTagsForResource', resource: need(call, 'ResourceName') }],
    AddTagsToResource: (call) => [{ action: 'rds:AddTagsToResource', resource: need(call, 'ResourceName'), context: requestTags(call) }],
    CreateDBSnapshot: (call) =>
      rdsCreate(call, 'rds:CreateDBSnapshot', rdsArn(call, 'snapshot', need(call, 'DBSnapshotIdentifier')), [
        rdsArn(call, 'db', need(call, 'DBInstanceIdentifier')),
      ]),
    CreateDBClusterSnapshot: (call) =>
      rdsCreate(call, 'rds:CreateDBClusterSnapshot', rdsArn(call, 'cluster-snapshot', need(call, 'DBClusterSnapshotIdentifier')), [
        rdsArn(call, 'cluster', need(call, 'DBClusterIdentifier')),
      ]),
    CopyDBSnapshot: (call) =>
      rdsCreate(call, 'rds:CopyDBSnapshot', rdsArn(call, 'snapshot', need(call, 'TargetDBSnapshotIdentifier')), [
        rdsArn(call, 'snapshot', need(call, 'SourceDBSnapshotIdentifier')),
      ]),
    CopyDBClusterSnapshot: (call) =>
      rdsCreate(call, 'rds:CopyDBClusterSnapshot', rdsArn(call, 'cluster-snapshot', need(call, 'TargetDBClusterSnapshotIdentifier')), [
        rdsArn(call, 'cluster-snapshot', need(call, 'SourceDBClusterSnapshotIdentifier')),
      ]),
    CreateDBInstance: (call) => rdsCreate(call, 'rds:CreateDBInstance', rdsArn(call, 'db', need(call, 'DBInstanceIdentifier')), []),
    RestoreDBInstanceFromDBSnapshot: (call) =>
      rdsCreate(call, 'rds:RestoreDBInstanceFromDBSnapshot', rdsArn(call, 'db', need(call, 'DBInstanceIdentifier')), [
        rdsArn(call, 'snapshot', need(call, 'DBSnapshotIdentifier')),
      ]),
    RestoreDBClusterFromSnapshot: (call) =>
      rdsCreate(call, 'rds:RestoreDBClusterFromSnapshot', rdsArn(call, 'cluster', need(call, 'DBClusterIdentifier')), [
        rdsArn(call, 'cluster-snapshot', need(call, 'SnapshotIdentifier')),
      ]),
    RestoreDBClusterToPointInTime: (call) =>
      rdsCreate(call, 'rds:RestoreDBClusterToPointInTime', rdsArn(call, 'cluster', need(call, 'DBClusterIdentifier')), [
        rdsArn(call, 'cluster', need(call, 'SourceDBClusterIdentifier')),
      ]),
    RestoreDBInstanceToPointInTime: (call) => {
      const backups = str(call, 'SourceDBInstanceAutomatedBackupsArn');
      const source = backups ?? rdsArn(call, 'db', need(call, 'SourceDBInstanceIdentifier'));
      return rdsCreate(call, 'rds:RestoreDBInstanceToPointInTime', rdsArn(call, 'db', need(call, 'TargetDBInstanceIdentifier')), [source]);
    },
    ModifyDBInstance: rdsOn('rds:ModifyDBInstance', 'db', 'DBInstanceIdentifier'),
    DeleteDBInstance: rdsOn('rds:DeleteDBInstance', 'db', 'DBInstanceIdentifier'),
    PromoteReadReplica: rdsOn('rds:PromoteReadReplica', 'db', 'DBInstanceIdentifier'),
    ModifyDBCluster: rdsOn('rds:ModifyDBCluster', 'cluster', 'DBClusterIdentifier'),
    DeleteDBCluster: rdsOn('rds:DeleteDBCluster', 'cluster', 'DBClusterIdentifier'),
    RemoveFromGlobalCluster: (call) => [
      { action: 'rds:RemoveFromGlobalCluster', resource: globalCluster(call, need(call, 'GlobalClusterIdentifier')) },
      { action: 'rds:RemoveFromGlobalCluster', resource: rdsArn(call, 'cluster', need(call, 'DbClusterIdentifier')) },
    ],
    FailoverGlobalCluster: (call) => [
      { action: 'rds:FailoverGlobalCluster', resource: globalCluster(call, need(call, 'GlobalClusterIdentifier')) },
      { action: 'rds:FailoverGlobalCluster', resource: rdsArn(call, 'cluster', need(call, 'TargetDbClusterIdentifier')) },
    ],
  },
  'Secrets Manager': {
    GetSecretValue: secretCall('secretsmanager:GetSecretValue', ['kms:Decrypt']),
    DescribeSecret: secretCall('secretsmanager:DescribeSecret'),
    PutSecretValue: secretCall('secretsmanager:PutSecretValue', ['kms:GenerateDataKey']),
    DeleteSecret: secretCall('secretsmanager:DeleteSecret'),
    // No resource-level permissions: lists every secret the filters match.
    ListSecrets: () => [{ action: 'secretsmanager:ListSecrets', resource: '*' }],
    CreateSecret: (call) => {
      const resource = secretArn(call, need(call, 'Name'));
      const tags = requestTags(call);
      const key = str(call, 'KmsKeyId');
      return [
        { action: 'secretsmanager:CreateSecret', resource, context: tags },
        ...(Object.keys(tags).length > 0 ? [{ action: 'secretsmanager:TagResource', resource, context: tags }] : []),
        ...kmsVia('secretsmanager', call, key === undefined ? undefined : kmsKeyArn(call, key), ['kms:GenerateDataKey']),
      ];
    },
  },
  SSM: {
    GetParameter: (call) => [{ action: 'ssm:GetParameter', resource: ssmParameter(call) }],
    PutParameter: (call) => [{ action: 'ssm:PutParameter', resource: ssmParameter(call) }],
  },
  'Route 53': {
    ListResourceRecordSets: (call) => [{ action: 'route53:ListResourceRecordSets', resource: hostedZone(call) }],
    ChangeResourceRecordSets: (call) => [{ action: 'route53:ChangeResourceRecordSets', resource: hostedZone(call) }],
  },
  SNS: {
    // Publishing to a topic under a customer key makes SNS use the key with the publisher's credentials.
    Publish: (call) => [
      { action: 'sns:Publish', resource: need(call, 'TopicArn') },
      ...kmsVia('sns', call, call.topicKey(need(call, 'TopicArn')), ['kms:GenerateDataKey', 'kms:Decrypt']),
    ],
  },
  SFN: {
    ListExecutions: (call) => [{ action: 'states:ListExecutions', resource: need(call, 'stateMachineArn') }],
    DescribeExecution: (call) => [{ action: 'states:DescribeExecution', resource: need(call, 'executionArn') }],
    GetExecutionHistory: (call) => [{ action: 'states:GetExecutionHistory', resource: need(call, 'executionArn') }],
    // A Fargate task answering the state machine that waits for it (the recording names the token's state machine).
    // The reference lists no resource type, yet AWS authorizes these on the token's state machine (its AccessDenied
    // names the state machine ARN, and a grant on that ARN works: aws/aws-cdk#8486), as grantTaskResponse grants them.
    SendTaskSuccess: (call) => [{ action: 'states:SendTaskSuccess', resource: need(call, 'stateMachineArn'), resourceNotInReference: true }],
    SendTaskFailure: (call) => [{ action: 'states:SendTaskFailure', resource: need(call, 'stateMachineArn'), resourceNotInReference: true }],
    SendTaskHeartbeat: (call) => [{ action: 'states:SendTaskHeartbeat', resource: need(call, 'stateMachineArn'), resourceNotInReference: true }],
  },
  ECS: {
    // Step Functions' ecs:runTask: RunTask on the task definition in the cluster, and PassRole of its task and
    // execution roles to ECS tasks.
    RunTask: (call) => [
      { action: 'ecs:RunTask', resource: need(call, 'taskDefinition'), context: { 'ecs:cluster': need(call, 'cluster') } },
      ...need(call, 'passRoles')
        .split(',')
        .filter((arn) => arn !== '')
        .map((arn) => ({ action: 'iam:PassRole', resource: arn, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } })),
    ],
  },
  Lambda: {
    Invoke: (call) => [{ action: 'lambda:InvokeFunction', resource: need(call, 'FunctionName') }],
  },
  Scheduler: {
    StartExecution: (call) => [{ action: 'states:StartExecution', resource: need(call, 'stateMachineArn') }],
  },
};

/** What AWS authorizes for a call; throws "map it" for an operation the table does not know. */
export function authorizationOf(service: string, operation: string, call: CallContext): AuthorizationRequest[] {
  const authorize = AUTHORIZATION[service]?.[operation];
  if (authorize === undefined) {
    throw new Error(`${service} ${operation} is not in the authorization table (test/contract/authorization.ts): map it to its IAM action(s), resource and condition keys`);
  }
  return authorize(call);
}
