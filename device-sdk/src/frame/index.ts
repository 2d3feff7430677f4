export * from './codec.js';
export * from './cobs.js';
export * from './crc16.js';
export * from './errors.js';
export * from './stream-decoder.js';
