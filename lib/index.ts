export * from './common/errors';
export { NETWORK_WARNINGS } from './common/network';
export * from './common/attribute-store';
export * from './common/shared-backup-resources';
export * from './storage';
export * from './database';
export * from './recovery-test';
export * from './failover';
export * from './retention';
