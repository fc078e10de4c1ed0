export * from './recovery-test';
export * from './recovery-test-schedule';
export * from './recovery-test-workflow';
export * from './tested-backups';
export * from './failover';
export * from './failover-strategy';
export * from './failover-repoint';
export * from './failover-workflow';
