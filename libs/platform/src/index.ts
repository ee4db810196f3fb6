export * from './clock';
export * from './core.module';
export * from './database';
export * from './health';
export * from './rate-limit';
