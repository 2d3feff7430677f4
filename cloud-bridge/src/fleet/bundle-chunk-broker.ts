import type { Aedes, Client } from 'aedes';
import { bundleTopics } from '@fieldmesh/protocol';
import type { BundleChunkServer } from './bundle-chunks.js';

/**
 * Connects the chunk server to the embedded broker: connections that end free what they held;
 * the returned function takes a gateway's own `fleet/bundle/get` messages (false for any other
 * topic, which the topic router then reads).
 */
export function attachBundleChunks(aedes: Aedes, gatewayOf: (client: Client | null) => string | undefined, server: BundleChunkServer): (topic: string, client: Client, payload: Buffer) => boolean {
  aedes.on('clientDisconnect', (client: Client) => server.gone(client));
  return (topic, client, payload) => {
    const id = gatewayOf(client);
    if (id === undefined || topic !== bundleTopics.get(id)) return false;
    server.request(client, id, payload);
    return true;
  };
}
