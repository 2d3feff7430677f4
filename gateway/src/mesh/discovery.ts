/**
 * Finding seed peers (mDNS only finds seeds; liveness is the gossip's job). The real
 * implementation is MdnsDiscovery (bonjour-service, `_fieldmesh._udp`); MemoryDiscovery lets
 * tests and the simulator run without multicast. Static seeds need no discovery at all.
 */
export interface DiscoveredPeer {
  /** The peer's gateway id (from TXT `id`). */
  id: string;
  /** Candidate mesh addresses, best first ("host:port"); joining tries each. */
  addresses: string[];
}

export interface Discovery {
  /** Publishes ourselves and starts browsing; `onPeer` fires for each new or changed peer. */
  start(onPeer: (peer: DiscoveredPeer) => void): Promise<void>;
  /** Peers currently believed present (stale and goodbye'd ones removed). */
  peers(): DiscoveredPeer[];
  /** Withdraws our record (a goodbye, TTL 0) and stops browsing. */
  stop(): Promise<void>;
}

/** Shared medium of MemoryDiscovery instances: what a LAN's multicast is to MdnsDiscovery. */
export class MemoryDiscoveryBus {
  private readonly members = new Map<MemoryDiscovery, DiscoveredPeer>();

  announce(from: MemoryDiscovery, peer: DiscoveredPeer): void {
    this.members.set(from, peer);
    for (const other of this.members.keys()) if (other !== from) other.heard(peer);
    for (const [other, p] of this.members) if (other !== from) from.heard(p);
  }

  withdraw(from: MemoryDiscovery, id: string): void {
    this.members.delete(from);
    for (const other of this.members.keys()) other.gone(id);
  }
}

export class MemoryDiscovery implements Discovery {
  private readonly known = new Map<string, DiscoveredPeer>();
  private onPeer?: (peer: DiscoveredPeer) => void;
  private running = false;

  constructor(
    private readonly bus: MemoryDiscoveryBus,
    private readonly self: DiscoveredPeer,
  ) {}

  async start(onPeer: (peer: DiscoveredPeer) => void): Promise<void> {
    this.onPeer = onPeer;
    this.running = true;
    this.bus.announce(this, this.self);
  }

  heard(peer: DiscoveredPeer): void {
    if (!this.running || peer.id === this.self.id) return;
    this.known.set(peer.id, peer);
    this.onPeer?.(peer);
  }

  gone(id: string): void {
    this.known.delete(id);
  }

  peers(): DiscoveredPeer[] {
    return [...this.known.values()];
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.bus.withdraw(this, this.self.id);
  }
}
