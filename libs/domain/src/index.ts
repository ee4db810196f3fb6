export * from './decider';
export * from './domain-error';
export * from './actor/actor.decider';
export * from './server/server.decider';
