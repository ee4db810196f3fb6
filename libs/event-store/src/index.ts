export * from './sql';
export * from './event-store';
export * from './event-store.errors';
export * from './processed-commands';
