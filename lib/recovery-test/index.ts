export * from './recovery-test';
export * from './recovery-test-schedule';
export * from './recovery-test-workflow';
export * from './tested-backups';
