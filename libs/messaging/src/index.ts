export * from './kafka.factory';
export * from './command-bus';
export * from './coalescing-sender';
export * from './reply-partition';
export * from './command-transport';
export * from './event-publisher';
export * from './kafka-health';
export * from './event-subscriber';
