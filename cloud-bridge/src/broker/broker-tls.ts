import { readFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import type { Client } from 'aedes';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';

/** TLS material of the gateway listener, read once at start. */
export interface BrokerTls {
  cert: Buffer;
  key: Buffer;
  /** CA(s) that sign gateway client certificates; without it no client certificate is asked for. */
  ca?: Buffer;
  /** Refuse the handshake of a client without a certificate signed by `ca`. */
  requireClientCert: boolean;
}

/** Reads `broker.tls` files; an unreadable file is named by its config key. */
export function readBrokerTls(tls: NonNullable<CloudConfig['broker']['tls']>): BrokerTls {
  const read = (key: 'cert' | 'key' | 'ca', file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new CloudError('FM_ERR_CLOUD_TLS', `broker.tls.${key}: cannot read ${file} (${(err as Error).message})`);
    }
  };
  const out: BrokerTls = { cert: read('cert', tls.cert), key: read('key', tls.key), requireClientCert: tls.requireClientCert };
  if (tls.ca !== undefined) out.ca = read('ca', tls.ca);
  return out;
}

/**
 * The gateway id a client proved with a certificate: the subject CN of a client certificate the
 * TLS layer verified against `broker.tls.ca`, or undefined (no TLS, no certificate, or one that
 * did not verify: with `requireClientCert: false` an unverified certificate proves nothing).
 */
export function certificateIdentity(client: Client): string | undefined {
  const conn = client.conn as unknown as { socket?: unknown };
  const socket = conn.socket instanceof TLSSocket ? conn.socket : (client.conn as unknown) instanceof TLSSocket ? (client.conn as unknown as TLSSocket) : null;
  if (!socket || !socket.authorized) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}
