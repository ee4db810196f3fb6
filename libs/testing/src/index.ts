export * from './eventually';
export * from './test-database';
export * from './test-topics';
export * from './decider-spec';
