// The package entry (`@fieldmesh/cloud-bridge`): the composition root, its config, and the store
// contract. Everything else is importable by path (`@fieldmesh/cloud-bridge/<path>`).
export { CloudBridge, credentialsFile } from './cloud-bridge.js';
export { CLOUD_DEFAULTS, loadCloudConfig, resolveCloudConfig, type CloudConfig } from './config.js';
export { CLOUD_ERRORS, CloudError, type CloudErrorCode } from './errors.js';
export type { CloudStore, CommitResult, GatewayRecord, ReadingQuery, SeriesInfo, StoredReading } from './store/cloud-store.js';
export { SqliteCloudStore } from './store/sqlite-cloud-store.js';
export { MemoryCloudStore } from './store/memory-cloud-store.js';
