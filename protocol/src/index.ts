/**
 * The uplink's wire contract, shared by the gateway (sender) and the cloud bridge (receiver):
 * gateway ids, group tags and epochs, topics, the batch and ack codecs, the wire reading, their error catalog (FORMAT.md), and the
 * MQTT fixed-header guard both brokers put in front of aedes.
 */
export * from './identifiers.js';
export * from './wire-reading.js';
export * from './errors.js';
export * from './batch-codec.js';
export * from './byte-stream.js';
export * from './uplink-messages.js';
export * from './relay-topics.js';
export * from './mqtt-packet-guard.js';
export * from './batch-signature.js';
export * from './ed25519-keys.js';
export * from './release-version.js';
export * from './fleet-artifact.js';
export * from './fleet-messages.js';
export * from './fleet-bundle-chunks.js';
