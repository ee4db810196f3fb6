export * from './clock';
export * from './core.module';
export * from './database';
export * from './database-outage';
export * from './health';
export * from './rate-limit';
export * from './recency-map';
export * from './sealed-box';
