export * from './common/errors';
export { NETWORK_WARNINGS } from './common/network';
export * from './storage';
export * from './database';
export * from './recovery-test';
export * from './failover';
export * from './retention';
