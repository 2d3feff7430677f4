import { isIPv4, isIPv6 } from 'node:net';
import { MeshError } from './errors.js';

/**
 * Members are addressed as "IPv4:port" or "[IPv6]:port" strings: the form seeds are written in,
 * the key of the in-memory network, and what the wire codec packs into 7 or 19 bytes.
 */
export interface HostPort {
  host: string;
  port: number;
}

export function parseAddress(text: string): HostPort {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']:');
    if (end === -1) throw new MeshError('FM_ERR_MESH_ADDRESS', `address "${text}" has no "]:port"`);
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!isIPv6(host)) throw new MeshError('FM_ERR_MESH_ADDRESS', `"${host}" in "${text}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) throw new MeshError('FM_ERR_MESH_ADDRESS', `address "${text}" has no ":port"`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (!isIPv4(host)) throw new MeshError('FM_ERR_MESH_ADDRESS', `"${host}" in "${text}" is not an IPv4 address`);
  }
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new MeshError('FM_ERR_MESH_ADDRESS', `port "${portText}" in "${text}" is not 1-65535`);
  }
  return { host, port };
}

export function formatAddress(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export function isAddress(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}
