import { readFileSync } from 'node:fs';
import { UplinkError } from './errors.js';
import type { LinkTls } from './uplink-link.js';

/** The `uplink.ca`, `uplink.cert` and `uplink.key` paths of the gateway config (null: not set). */
export interface UplinkTlsFiles {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

/** Reads the uplink's PEM files once at start, naming the config key of a file that cannot be read. */
export function readUplinkTls(up: UplinkTlsFiles): LinkTls {
  const out: LinkTls = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = up[k];
    if (file === null) continue;
    try {
      out[k] = readFileSync(file);
    } catch (err) {
      throw new UplinkError('FM_ERR_UPLINK_TLS', `uplink.${k}: cannot read ${file} (${(err as Error).message}); give a readable PEM file`);
    }
  }
  return out;
}
