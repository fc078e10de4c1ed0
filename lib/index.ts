export * from './common/errors';
export * from './storage';
export * from './database';
export * from './recovery-test';
export * from './failover';
