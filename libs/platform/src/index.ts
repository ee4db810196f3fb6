export * from './database';
export * from './health';
