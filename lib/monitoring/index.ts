export * from './operations-topic';
export * from './backup-monitoring';
