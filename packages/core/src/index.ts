export * from './errors/index.js';
export * from './config/index.js';
export * from './logger/index.js';
export * from './db/index.js';
export * from './jobs/catalog.js';
export * from './state/index.js';
export * from './jobs/redisConnection.js';
export * from './jobs/queues.js';
