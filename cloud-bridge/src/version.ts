import { readFileSync } from 'node:fs';

/** This package's version, as `fieldmesh_build_info` reports it. */
export const CLOUD_BRIDGE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
