export * from './retention-policy';
export * from './backup-retention';
