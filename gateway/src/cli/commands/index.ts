import type { Command } from '../command.js';

/**
 * Every `fieldmesh` subcommand, in the order `fieldmesh --help` lists them.
 * Commands are loaded lazily so `fieldmesh --help` does not pull in aedes or SQLite.
 */
export const commands: Array<Pick<Command, 'name' | 'summary'> & { load: () => Promise<Command> }> = [
  { name: 'cloud', summary: 'run the cloud bridge (uplink receiver, storage, HTTP API)', load: async () => (await import('./cloud.js')).default },
  { name: 'image', summary: 'write a customised Raspberry Pi OS image for a gateway', load: async () => (await import('./image.js')).default },
];
