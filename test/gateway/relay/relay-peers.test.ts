import { describe, expect, it } from 'vitest';
import { MeshRelayPeers, relayMetaTags } from '#gateway/relay/relay-peers';
import type { MemberView } from '#gateway/mesh/mesh';
import { emptyMeta, type MemberMeta } from '#gateway/mesh/meta';

const member = (id: string, over: Partial<MemberView> = {}, meta: Partial<MemberMeta> | null = {}): MemberView => ({
  id,
  address: '127.0.0.1:7946',
  state: 'alive',
  incarnation: 1,
  self: false,
  meta: meta === null ? null : { ...emptyMeta, uplink: 'up', tags: relayMetaTags(40001), ...meta },
  ...over,
});

describe('relay peers from the mesh member list', () => {
  it('keeps alive non-self members with a valid relay port tag, with their gossiped uplink state', () => {
    const peers = new MeshRelayPeers(() => [
      member('gw-self', { self: true }),
      member('gw-b', {}, { backlog: 12 }),
      member('gw-c', { address: '[::1]:7946' }, { uplink: 'down' }),
      member('gw-d', { state: 'suspect' }),
      member('gw-e', {}, { tags: {} }),
      member('gw-f', {}, { tags: { relay: '99999' } }),
      member('gw-g', {}, null),
    ]).list();
    expect(peers).toEqual([
      { id: 'gw-b', host: '127.0.0.1', port: 40001, uplink: 'up', backlog: 12 },
      { id: 'gw-c', host: '::1', port: 40001, uplink: 'down', backlog: 0 },
    ]);
  });
});
