import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReleaseInstall } from '#hardware/image/fleet/install';
import { renderLauncher } from '#hardware/image/fleet/launcher';
import { DEFAULT_SERVICE_LAYOUT } from '#hardware/image/service/unit';

/**
 * A gateway's root file system in a temp dir, laid out by the same shell functions first boot
 * runs (hardware/src/image/fleet/install.ts, under $FM_ROOT): the first bundle unpacked to
 * releases/<version>/, releases/current and app linked, the launcher installed from the image's
 * rendering. Only what first boot does as root on a real card (users, units, Wi-Fi) is left out.
 */
export interface SandboxRoot {
  root: string;
  releasesDir: string;
  launcher: string;
  /** <root>/var/lib/fieldmesh: the gateway's dataDir. */
  stateDir: string;
  fleetDir: string;
  journal: string;
  configPath: string;
  /** Env for the launcher: FM_ROOT, FM_NODE (this test's node). */
  env: Record<string, string>;
  /** Unpacks one more bundle to releases/<version>/ with first boot's own function. */
  unpack(bundle: string): void;
  current(): string;
  cleanup(): void;
}

function runInstall(root: string, script: string, args: string[]): void {
  const r = spawnSync('sh', ['-c', `set -u\n${renderReleaseInstall()}\n${script}`, 'install', ...args], {
    env: { ...process.env, FM_ROOT: root },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`release install failed (${r.status}): ${r.stderr}${r.stdout}`);
}

export function createSandboxRoot(opts: { bundle: string; gatewayYaml?: (root: string) => string; tmpParent?: string }): SandboxRoot {
  const root = mkdtempSync(join(opts.tmpParent ?? tmpdir(), 'fm-root-'));
  const l = DEFAULT_SERVICE_LAYOUT;
  const stateDir = join(root, 'var/lib', l.stateDirectory);
  const fleetDir = join(stateDir, 'fleet');
  mkdirSync(fleetDir, { recursive: true });
  const configPath = join(root, l.configPath);
  mkdirSync(join(configPath, '..'), { recursive: true });
  writeFileSync(configPath, opts.gatewayYaml?.(root) ?? `id: sandbox\ndataDir: ${JSON.stringify(stateDir)}\n`);
  const launcherSource = join(root, 'fieldmesh-launch.from-image');
  writeFileSync(launcherSource, renderLauncher());
  runInstall(root, 'fm_install_first_release "$1" && fm_install_launcher "$2"', [opts.bundle, launcherSource]);
  rmSync(launcherSource);
  const releasesDir = join(root, l.releasesDir);
  return {
    root,
    releasesDir,
    launcher: join(root, l.launcherPath),
    stateDir,
    fleetDir,
    journal: join(fleetDir, 'switch.state'),
    configPath,
    env: { FM_ROOT: root, FM_NODE: process.execPath },
    unpack: (bundle) => runInstall(root, 'fm_unpack_release "$1"', [bundle]),
    current: () => readlinkSync(join(releasesDir, 'current')),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
