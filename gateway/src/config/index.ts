export { loadGatewayConfig, parseGatewayConfig, gatewayDefaults, idFromHostname, type GatewayConfig } from './gateway-config.js';
export type { BrokerConfig } from './broker.js';
export type { HttpConfig } from './http.js';
export type { IngestConfig } from './ingest.js';
export type { MeshConfig } from './mesh.js';
export type { SerialConfig } from './serial.js';
export type { UplinkConfig } from './uplink.js';
export type { RuleConfig } from './rules.js';
export { ConfigError, CONFIG_ERRORS, type ConfigErrorCode } from './errors.js';
