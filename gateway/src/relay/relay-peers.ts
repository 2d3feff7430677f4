import type { MemberView } from '../mesh/mesh.js';
import type { MemberMeta } from '../mesh/meta.js';

/** A peer that could carry our data upstream, as gossip describes it. */
export interface RelayPeer {
  id: string;
  /** Where its relay listens. */
  host: string;
  port: number;
  /** Its uplink state from its gossiped metadata: only `up` peers are asked to relay. */
  uplink: MemberMeta['uplink'];
  /** Its own unsent backlog (readings): a busy relay is tried last. */
  backlog: number;
}

/** Who could relay for us right now. The mesh is the real source; tests use a fixed list. */
export interface RelayPeers {
  list(): RelayPeer[];
}

/** The metadata tag a gateway sets to say "my relay listens on this port" (RELAY.md §1). */
export const RELAY_PORT_TAG = 'relay';

/** Tags to merge into this gateway's mesh metadata so peers can find its relay. */
export function relayMetaTags(port: number): Record<string, string> {
  return { [RELAY_PORT_TAG]: String(port) };
}

/**
 * Peers from the mesh's member list: alive, not us, with a relay port tag. The host is the one
 * the member's mesh address gives (gossip is authenticated with the same key as the relay).
 */
export class MeshRelayPeers implements RelayPeers {
  constructor(private readonly members: () => MemberView[]) {}

  list(): RelayPeer[] {
    const out: RelayPeer[] = [];
    for (const m of this.members()) {
      if (m.self || m.state !== 'alive' || !m.meta) continue;
      const port = Number(m.meta.tags[RELAY_PORT_TAG]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
      const host = hostOf(m.address);
      if (!host) continue;
      out.push({ id: m.id, host, port, uplink: m.meta.uplink, backlog: m.meta.backlog });
    }
    return out;
  }
}

/** `1.2.3.4:7946` → `1.2.3.4`, `[::1]:7946` → `::1`. */
function hostOf(address: string): string | null {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(address);
  if (v6) return v6[1]!;
  const i = address.lastIndexOf(':');
  return i > 0 ? address.slice(0, i) : null;
}

/** A fixed or test-driven list (in-memory twin of the mesh source). */
export class StaticRelayPeers implements RelayPeers {
  constructor(private readonly source: () => RelayPeer[]) {}
  list(): RelayPeer[] {
    return this.source();
  }
}
