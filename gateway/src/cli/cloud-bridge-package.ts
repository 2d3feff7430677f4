import type * as CloudBridgePackage from '@fieldmesh/cloud-bridge';
import { CliError } from './errors.js';

export type CloudBridgeModule = typeof CloudBridgePackage;
export type ModuleImporter = () => Promise<unknown>;

const CLOUD_BRIDGE = '@fieldmesh/cloud-bridge';

/**
 * The CLI is the one composition root that wires the cloud bridge (`fieldmesh cloud`, `fieldmesh
 * demo`); the gateway package does not depend on it (an optional peer, docs/ARCHITECTURE.md,
 * "Packages and dependency rules"). So it is loaded here, at the command's run, and only here: a
 * gateway installed without it still runs `fieldmesh gateway`, and these two commands say what
 * to install instead of failing on a module error.
 */
export async function loadCloudBridge(importer: ModuleImporter = () => import('@fieldmesh/cloud-bridge')): Promise<CloudBridgeModule> {
  try {
    return (await importer()) as CloudBridgeModule;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && String(e.message).includes(CLOUD_BRIDGE)) {
      throw new CliError('FM_ERR_CLI_CLOUD_BRIDGE_MISSING', `cannot load ${CLOUD_BRIDGE}: ${e.message}`);
    }
    throw err;
  }
}
