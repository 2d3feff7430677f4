import { join } from 'node:path';

/**
 * Where fleet state lives (FLEET-AGENT.md, "Files"): releases side by side under `releasesDir`,
 * the agent's own state under `<dataDir>/fleet`. Every step of an update is visible in these
 * files, which is what makes each step resumable after a power cut.
 */
export interface FleetPaths {
  releasesDir: string;
  /** releases/current → `<version>` (relative), what the launcher starts. */
  currentLink: string;
  stateDir: string;
  /** The switch journal shared with the launcher. */
  journal: string;
  agentFile: string;
  downloadsDir: string;
  configDir: string;
  /** config/current → `<revision>.json` (absent: the base config only). */
  configLink: string;
}

export function fleetPaths(releasesDir: string, dataDir: string): FleetPaths {
  const stateDir = join(dataDir, 'fleet');
  return {
    releasesDir,
    currentLink: join(releasesDir, 'current'),
    stateDir,
    journal: join(stateDir, 'switch.state'),
    agentFile: join(stateDir, 'agent.json'),
    downloadsDir: join(stateDir, 'downloads'),
    configDir: join(stateDir, 'config'),
    configLink: join(stateDir, 'config', 'current'),
  };
}

/** The unpacked release of `version`, and its download (`.part` while incomplete). */
export const releaseDir = (p: FleetPaths, version: string) => join(p.releasesDir, version);
export const partialDir = (p: FleetPaths, version: string) => join(p.releasesDir, `${version}.partial`);
export const bundleFile = (p: FleetPaths, version: string) => join(p.downloadsDir, `${version}.tgz`);
export const bundlePart = (p: FleetPaths, version: string) => join(p.downloadsDir, `${version}.tgz.part`);
export const configFile = (p: FleetPaths, revision: number) => join(p.configDir, `${revision}.json`);
