export * from './config';
export * from './process-env';
