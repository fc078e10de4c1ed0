export * from './access-logs-bucket';
export * from './backup-bucket';
export * from './backup-lifecycle';
export * from './errors';
