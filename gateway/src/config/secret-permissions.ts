import { statSync } from 'node:fs';
import type { GatewayConfig } from './gateway-config.js';

/**
 * The secret-bearing keys of a gateway config that a file readable by group or others exposes
 * (uplink password and signing key, mesh keys), or [] when the file is private or holds none.
 * The gateway warns at start: the file then gives any local user its cloud login, its origin
 * signature and the cluster key. `${VAR}` values read from the environment are not in the file.
 */
export function exposedSecrets(file: string, config: Readonly<GatewayConfig>, fileText?: string): string[] {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return [];
  }
  if ((mode & 0o077) === 0) return [];
  const keys: string[] = [];
  if (config.uplink?.password) keys.push('uplink.password');
  if (config.uplink?.signingKey) keys.push('uplink.signingKey');
  if (config.mesh.key) keys.push('mesh.key');
  if (config.mesh.keys.length > 0) keys.push('mesh.keys');
  // A value substituted from ${VAR} is not in the file itself.
  return fileText === undefined ? keys : keys.filter((k) => !new RegExp(`${k.split('.').pop()}\\s*:\\s*["']?\\$\\{`).test(fileText));
}
