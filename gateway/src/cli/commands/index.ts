import type { Command } from '../command.js';

/**
 * Every `fieldmesh` subcommand, in the order `fieldmesh --help` lists them.
 * Commands are loaded lazily so `fieldmesh --help` does not pull in aedes or SQLite.
 */
export const commands: Array<Pick<Command, 'name' | 'summary'> & { load: () => Promise<Command> }> = [
  { name: 'init', summary: 'write a complete, commented gateway.yaml or cloud.yaml and say what to run next', load: async () => (await import('./init.js')).default },
  { name: 'gateway', summary: 'run a gateway (device broker, reading log, HTTP API, uplink)', load: async () => (await import('./gateway.js')).default },
  { name: 'status', summary: "show a running gateway's or cloud's status (GET /api/status, /api/gateways)", load: async () => (await import('./status.js')).default },
  { name: 'members', summary: 'list the mesh members a running gateway sees (GET /api/members)', load: async () => (await import('./members.js')).default },
  { name: 'query', summary: 'read a series from a running gateway (GET /api/readings)', load: async () => (await import('./query.js')).default },
  { name: 'tail', summary: 'stream live readings and alerts from a running gateway', load: async () => (await import('./tail.js')).default },
  { name: 'demo', summary: 'run a complete local demo: cloud bridge, gateways, simulated devices (npm start)', load: async () => (await import('./demo.js')).default },
  { name: 'cloud', summary: 'run the cloud bridge (uplink receiver, storage, HTTP API)', load: async () => (await import('./cloud.js')).default },
  { name: 'fleet', summary: 'signed releases and config revisions for many gateways: keys, desired state, waves', load: async () => (await import('./fleet.js')).default },
  { name: 'image', summary: 'write a customised Raspberry Pi OS image for a gateway', load: async () => (await import('./image.js')).default },
  { name: 'flash', summary: 'write an image to an SD card (or file) and verify it by reading back', load: async () => (await import('./flash.js')).default },
];
