// The package entry (`@fieldmesh/cloud-bridge`), and its only one (package.json `exports`): the two
// composition roots (embedded broker, external broker), their config, gateway credentials, and the
// store contract. What the `fieldmesh cloud` and `fieldmesh demo` commands need is here.
export { CloudBridge, credentialsFile } from './cloud-bridge.js';
export { ExternalCloudBridge } from './external-broker/external-cloud-bridge.js';
export { GatewayCredentials } from './broker/credentials.js';
export { FleetAdminTokens, fleetAdminTokensFile } from './fleet/admin-tokens.js';
export { CLOUD_DEFAULTS, cloudDataDir, loadCloudConfig, resolveCloudConfig, type CloudConfig } from './config.js';
export { CLOUD_ERRORS, CloudError, type CloudErrorCode } from './errors.js';
export type { CloudStore, CommitResult, GatewayRecord, ReadingQuery, SeriesInfo, StoredReading } from './store/cloud-store.js';
export { SqliteCloudStore } from './store/sqlite-cloud-store.js';
export { MemoryCloudStore } from './store/memory-cloud-store.js';
