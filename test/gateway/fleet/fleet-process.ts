/**
 * The real `fieldmesh gateway` as a child process, for what only a process shows: SIGKILL at any
 * step, exit code 75, a --config-overlay checked at start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { baseConfigData, type FleetRoot } from './fleet-gateway.js';

const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');

export function writeGatewayYaml(r: FleetRoot, o: { gw: string; brokerUrl: string; cloudUrl: string | null }): string {
  const file = join(r.root, 'gateway.yaml');
  writeFileSync(file, stringify({ ...baseConfigData(r, o), logLevel: 'info' }), { mode: 0o600 });
  return file;
}

export interface GatewayProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

export function runGateway(args: string[], env: Record<string, string> = {}): GatewayProcess {
  const child = spawn(process.execPath, [BIN, 'gateway', ...args], { env: { ...process.env, FM_LOG: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    child,
    output: () => out,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
