export * from './failover';
export * from './failover-strategy';
export * from './failover-repoint';
export * from './failover-workflow';
