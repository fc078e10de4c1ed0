export * from './access-logs-bucket';
export { BackupBucketBase, type IBackupBucket, type ReplicaInfo } from './backup-bucket-base';
export * from './backup-bucket';
export type { BackupBucketAttributes, ReplicaAttributes } from './imported-backup-bucket';
export * from './backup-lifecycle';
export * from './errors';
