export * from './reading.js';
export * from './clock.js';
export * from './logger.js';
