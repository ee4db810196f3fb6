export * from './clock';
export * from './core.module';
export * from './database';
export * from './health';
