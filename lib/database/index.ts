export * from './pg-tools-layer';
