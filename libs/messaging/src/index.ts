export * from './kafka.factory';
export * from './command-bus';
export * from './command-consumer';
export * from './event-publisher';
export * from './kafka-health';
export * from './event-subscriber';
