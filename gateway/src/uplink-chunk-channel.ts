import { bundleTopics } from '@fieldmesh/protocol';
import type { ChunkChannel } from './fleet/bundle-mqtt.js';
import type { Uplink } from './uplink/uplink.js';

/**
 * The chunked bundle download's view of the uplink session (protocol/FLEET-FORMAT.md §4): its
 * requests go out on the gateway's `fleet/bundle/get`, the replies on its `fleet/bundle/chunk`
 * reach whichever download listens, and every new session is told, so what the old one had in
 * flight is asked again. Subscribes on the uplink, so it is made before the uplink starts.
 */
export function uplinkChunkChannel(uplink: Uplink, gatewayId: string): ChunkChannel {
  const listeners = new Set<Parameters<ChunkChannel['listen']>[0]>();
  uplink.subscribe(bundleTopics.chunk(gatewayId), (payload) => {
    for (const l of listeners) l.chunk(payload);
  });
  uplink.onSubscribed(() => {
    for (const l of listeners) l.online();
  });
  return {
    request: (payload) => void uplink.publishOnce(bundleTopics.get(gatewayId), payload),
    online: () => uplink.stats().state === 'online',
    listen: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}
