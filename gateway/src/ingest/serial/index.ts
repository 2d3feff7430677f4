export { SerialIngest, type SerialIngestOptions, type SerialIngestStats } from './serial-ingest.js';
export { SerialPortReader, type SerialPortEntry, type SerialPortStats, type SerialBackoff, type PortState } from './port-reader.js';
export type { SerialLink, SerialLinkEvents, SerialLinkOpener } from './serial-link.js';
export { StreamSerialLinkOpener, nodeSerialLinks, mockBindingSerialLinks } from './stream-link.js';
export { MemorySerialLinks } from './memory-link.js';
export { serialErrors, SerialIngestError, classifyOpenError, type SerialErrorCode } from './errors.js';
export { serialMetrics } from './metrics.js';
