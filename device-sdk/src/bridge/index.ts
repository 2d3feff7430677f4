export { SerialBridge, type SerialBridgeOptions, type SerialBridgeStats } from './serial-bridge.js';
export { serialPortSource, type ByteSource, type ByteSourceEvents, type OpenByteSource } from './serial-source.js';
