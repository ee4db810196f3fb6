export * from './kafka.factory';
export * from './command-bus';
export * from './command-transport';
export * from './event-publisher';
export * from './kafka-health';
