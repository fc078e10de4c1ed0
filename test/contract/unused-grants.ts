/**
 * Granted actions that no recorded call used, per caller (function, state machine or schedule; its logical id without
 * CDK's hash), each with the reason it stays. The IAM contract test fails when this list and the synthesized policies
 * disagree, so a new grant shows up here as a change a reviewer reads. "Candidate to remove" marks a grant no code
 * path needs.
 */

/** Active tracing: the Lambda service sends the function's trace segments with its role; no handler call. */
const TRACING = {
  'xray:PutTraceSegments': 'active tracing: Lambda (or Step Functions) sends the trace segments with this role',
  'xray:PutTelemetryRecords': 'active tracing: Lambda (or Step Functions) sends the telemetry with this role',
};

/** What Step Functions does with a state machine's role besides its tasks: execution logging and tracing. */
const STATE_MACHINE = {
  ...TRACING,
  'xray:GetSamplingRules': 'tracing: Step Functions reads the sampling rules with this role',
  'xray:GetSamplingTargets': 'tracing: Step Functions reads the sampling targets with this role',
  ...Object.fromEntries(
    [
      'logs:CreateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies',
      'logs:GetLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:UpdateLogDelivery',
    ].map((action) => [action, 'execution logging (level ALL): Step Functions sets up the log delivery with this role when the state machine is deployed']),
  ),
};

/** BackupBucket.grantWriteBackups: what an SSE-KMS upload may need; reports and the tests' dumps are single PUTs. */
const BUCKET_WRITE = {
  'kms:Decrypt': 'BackupBucket.grantWriteBackups: completing an SSE-KMS multipart upload needs kms:Decrypt; the recorded uploads fit one PutObject',
  'kms:Encrypt': 'BackupBucket.grantWriteBackups: S3 uses kms:GenerateDataKey for SSE-KMS, never Encrypt; candidate to remove',
  's3:AbortMultipartUpload': 'BackupBucket.grantWriteBackups: lib-storage aborts a failed multipart upload; the recorded uploads fit one PutObject',
  's3:ListMultipartUploadParts': 'BackupBucket.grantWriteBackups: lib-storage multipart uploads; the recorded uploads fit one PutObject',
};

const DESCRIBE_SECRET = { 'secretsmanager:DescribeSecret': 'ISecret.grantRead grants it with GetSecretValue; the handlers only read the value' };
const LIST_BUCKET = { 's3:ListBucket': 'makes a missing object read as 404 (not 403) so a handler can say it is missing; no recorded run read a missing object' };
const GET_VERSION = { 's3:GetObjectVersion': 'BackupBucket.grantReadBackups: reads by version id; this function reads the current version in the recorded runs' };

/** What tasks.EcsRunTask grants a state machine besides RunTask and PassRole (the Fargate runner). */
const ECS_RUN_TASK = {
  'ecs:DescribeTasks': 'tasks.EcsRunTask grants it for every integration pattern; with waitForTaskToken (the Fargate runner) Step Functions does not poll the task; candidate to remove (CDK adds it)',
  'ecs:StopTask': 'tasks.EcsRunTask grants it for every integration pattern; with waitForTaskToken Step Functions does not stop the task; candidate to remove (CDK adds it)',
};

export const UNUSED_GRANTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  BackupDumpFunction: {
    ...TRACING,
    'kms:Encrypt': BUCKET_WRITE['kms:Encrypt'],
    's3:AbortMultipartUpload':
      'aborts a multipart upload a failed dump left open; in the recorded failures lib-storage had nothing open (test/integration/dump kills pg_dump mid-upload)',
    's3:ListMultipartUploadParts': BUCKET_WRITE['s3:ListMultipartUploadParts'],
    ...DESCRIBE_SECRET,
    's3:DeleteObject': 'deletes a failed dump in an unversioned bucket (no version id); the workflow bucket is versioned',
  },
  // The dump handler on the Fargate runner: the same grants as BackupDumpFunction (no tracing); its failures that use
  // the delete and upload-listing grants are recorded with the Lambda (the same handler and core).
  BackupDumpTaskTaskDefinition: {
    ...BUCKET_WRITE,
    's3:AbortMultipartUpload': 'aborts a multipart upload a failed dump left open: recorded with BackupDumpFunction (the same handler); the Fargate test fails on the password, before any upload',
    's3:DeleteObject': 'deletes a failed dump in an unversioned bucket (no version id); the workflow bucket is versioned',
    's3:DeleteObjectVersion': 'deletes a dump whose manifest could not be written: recorded with BackupDumpFunction; the Fargate test fails on the password, before any upload',
    's3:ListBucketMultipartUploads': 'finds the open upload of a failed dump: recorded with BackupDumpFunction; the Fargate test fails on the password, before any upload',
    ...DESCRIBE_SECRET,
  },
  BackupReportFunction: { ...TRACING, ...BUCKET_WRITE },
  BackupSnapshotFunction: {
    ...TRACING,
    'rds:ListTagsForResource': 'no handler calls ListTagsForResource (DescribeAndTagOwnSnapshots in PostgresBackup); candidate to remove',
  },
  BackupVerifyFunction: { ...TRACING, ...LIST_BUCKET },
  BackupVerifyTaskTaskDefinition: {
    ...LIST_BUCKET,
    'states:SendTaskFailure': 'answers a failed verification; the recorded Fargate verifications succeeded (a failed answer is recorded for BackupDumpTaskTaskDefinition, the same entrypoint)',
  },
  BackupWorkflowStateMachine: { ...STATE_MACHINE, ...ECS_RUN_TASK },
  CdkBackupDrUnreportedEndFunction: TRACING,
  FailoverActFunction: {
    ...TRACING,
    'rds:DescribeDBInstanceAutomatedBackups': 'the act step restores from the automated-backups ARN the preflight found; granted with the restore, not called',
    'rds:DescribeDBSnapshots': 'the act step restores the snapshot the preflight chose; granted with the restore, not called',
    'rds:DescribeDBSubnetGroups': 'the act step uses the subnet group the preflight checked; granted with the restore, not called',
  },
  FailoverDumpVerifyFunction: { ...TRACING, ...GET_VERSION, ...LIST_BUCKET, ...DESCRIBE_SECRET },
  FailoverPreflightFunction: { ...TRACING, ...GET_VERSION, ...DESCRIBE_SECRET },
  FailoverRepointFunction: {
    ...TRACING,
    ...DESCRIBE_SECRET,
    'secretsmanager:UpdateSecret': 'ISecret.grantWrite grants it with PutSecretValue; the repoint writes with PutSecretValue only',
    'secretsmanager:UpdateSecretVersionStage': 'ISecret.grantWrite grants it with PutSecretValue; the repoint writes with PutSecretValue only',
  },
  FailoverReportFunction: { ...TRACING, ...BUCKET_WRITE },
  FailoverRestoreFunction: { ...TRACING, ...GET_VERSION, ...LIST_BUCKET, ...DESCRIBE_SECRET },
  // The restore handler of a restore-dump failover on the Fargate runner: the restore Lambda's grants (no tracing).
  FailoverRestoreTaskTaskDefinition: { ...LIST_BUCKET, ...GET_VERSION },
  FailoverVerifyFunction: { ...TRACING, ...DESCRIBE_SECRET },
  FailoverWorkflowStateMachine: { ...STATE_MACHINE, ...ECS_RUN_TASK },
  MonitoringFreshnessFunction: { ...TRACING, ...GET_VERSION },
  MonitoringStateMachine: STATE_MACHINE,
  RecoveryTestPickFunction: TRACING,
  RecoveryTestReportFunction: { ...TRACING, ...BUCKET_WRITE },
  RecoveryTestRestoreFunction: { ...TRACING, ...LIST_BUCKET },
  // The restore handler on the Fargate runner: the restore Lambda's grants (no tracing) plus answering the state machine.
  RecoveryTestRestoreTaskTaskDefinition: {
    ...LIST_BUCKET,
    'states:SendTaskFailure': 'answers a failed restore; the recorded Fargate restore succeeded (a failed answer is recorded for BackupDumpTaskTaskDefinition, the same entrypoint)',
  },
  RecoveryTestScratchFunction: TRACING,
  RecoveryTestVerifyFunction: { ...TRACING, ...GET_VERSION, ...LIST_BUCKET },
  RecoveryTestWorkflowStateMachine: { ...STATE_MACHINE, ...ECS_RUN_TASK },
  RetentionCleanupFunction: {
    ...TRACING,
    ...BUCKET_WRITE,
    's3:ListBucketVersions': 'removeVersions: lists every version of the deleted dumps and manifests; the recorded runs leave delete markers (removeVersions false)',
    's3:DeleteObjectVersion': 'removeVersions: deletes every version of a deleted dump and manifest; the recorded runs leave delete markers (removeVersions false)',
    's3:GetObjectRetention':
      'a bucket with Object Lock: every deletion candidate is asked for its retention; the workflow buckets have no Object Lock (test/integration/retention/cleanup.test.ts asks moto)',
    's3:GetObjectLegalHold':
      'a bucket with Object Lock: every deletion candidate is asked for its legal hold; the workflow buckets have no Object Lock (test/integration/retention/cleanup.test.ts asks moto)',
  },
  RetentionStateMachine: STATE_MACHINE,
  SweeperStateMachine: STATE_MACHINE,
  SweeperSweepFunction: { ...TRACING, ...BUCKET_WRITE },
};
