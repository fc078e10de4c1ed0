export * from './retention-policy';
export * from './backup-retention';
export * from './scratch-sweeper';
