export * from './backup-schedule';
export * from './backup-source';
export * from './backup-workflow';
export * from './pg-tools-layer';
export * from './postgres-backup';
export * from './dump-compression';
