export * from './postgres-disaster-recovery';
