export * from './reading.js';
export * from './clock.js';
export * from './logger.js';
export * from './senml/index.js';
