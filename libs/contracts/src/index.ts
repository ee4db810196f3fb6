export * from './topics';
export * from './envelope';
export * from './streams';
export * from './errors';
export * from './commands';
export * from './replies';
export * from './events';
