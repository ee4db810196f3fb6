export * from './eventually';
export * from './test-clock';
export * from './test-database';
export * from './test-topics';
export * from './decider-spec';
