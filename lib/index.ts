export * from './storage';
export * from './database';
export * from './recovery';
