export * from './storage';
export * from './database';
