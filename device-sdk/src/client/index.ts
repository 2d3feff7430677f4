export { DeviceClient, type DeviceReading, type DeviceClientStats, type RejectedNotice } from './device-client.js';
export { CLIENT_DEFAULTS, checkClientOptions, type DeviceClientOptions } from './options.js';
export { MemoryOfflineBuffer, DEFAULT_BUFFER_LIMITS, type OfflineBuffer, type BufferedMessage, type BufferLimits } from './offline-buffer.js';
export { FileOfflineBuffer, type FileBufferOptions } from './file-buffer.js';
export { MdnsGatewayDiscovery, StaticGateway, gatewayUrl, MDNS_SERVICE_TYPE, MDNS_TXT_MQTT_PORT, type GatewayDiscovery, type MdnsOptions } from './discovery.js';
export { DeviceClientError, clientErrors, type ClientErrorCode } from './errors.js';
