import { systemClock, type Clock, type Timer, type Logger, silentLogger } from '@fieldmesh/device-sdk';
import { formatAddress, isAddress, parseAddress } from './address.js';
import { lookup } from 'node:dns/promises';
import { checkMemberId, type MeshSection, type MeshTuning } from './config.js';
import type { Discovery } from './discovery.js';
import { MeshError } from './errors.js';
import { KeyRing } from './keyring.js';
import type { MemberEvent } from './membership.js';
import { MdnsDiscovery } from './mdns-discovery.js';
import { decodeMeta, encodeMeta, emptyMeta, type MemberMeta } from './meta.js';
import type { MemberStateName } from './messages.js';
import { metricsToPrometheus, type MeshMetrics } from './metrics.js';
import { MeshNode } from './node.js';
import { systemRandom, type Random } from './random.js';
import type { Transport } from './transport.js';
import { UdpTransport } from './udp-transport.js';

export type { MeshSection } from './config.js';

export interface MeshOptions {
  id: string;
  section: MeshSection;
  meta?: MemberMeta;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /** Injected for tests; default a UdpTransport on section.bind:section.port. */
  transport?: Transport;
  /** Injected for tests; default MdnsDiscovery when section.mdns. */
  discovery?: Discovery;
  /** Re-read our metadata every `intervalMs` and gossip it when it changed meaningfully (metaChanged). */
  metaSource?: { read: () => MemberMeta; intervalMs: number };
  /** multicast-dns socket options for the default MdnsDiscovery (loopback: { interface: '127.0.0.1', bind: '0.0.0.0' }). */
  mdnsSocket?: { interface?: string; bind?: string };
  /** More TXT keys for the mDNS record (the gateway adds `mqtt`: its broker port). */
  mdnsTxt?: Record<string, string>;
}

/**
 * Every metadata change is a new incarnation gossiped to the whole mesh, so only changes that
 * matter to a peer choosing a relay count: uplink state, role, version, and the backlog moving
 * to another power-of-two bucket (or to or from empty).
 */
export function metaChanged(a: MemberMeta, b: MemberMeta): boolean {
  const bucket = (n: number) => (n <= 0 ? -1 : Math.floor(Math.log2(n)));
  return a.uplink !== b.uplink || a.role !== b.role || a.version !== b.version || bucket(a.backlog) !== bucket(b.backlog) || JSON.stringify(a.tags) !== JSON.stringify(b.tags);
}

/** One member as `GET /api/members` and `fieldmesh members` show it. */
export interface MemberView {
  id: string;
  address: string;
  state: MemberStateName;
  incarnation: number;
  self: boolean;
  meta: MemberMeta | null;
}

/** The mesh as the gateway uses it: start, stop, who is there, and our own metadata. */
export class Mesh {
  private node?: MeshNode;
  private discovery?: Discovery;
  /** How peers are found: 'mdns' once discovery runs, 'seeds-only' when mDNS was wanted but could not start, 'off' when not wanted. */
  discoveryState: 'off' | 'mdns' | 'seeds-only' = 'off';
  private readonly keyring: KeyRing;
  private readonly tuning: Readonly<MeshTuning>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private meta: MemberMeta;
  private readonly listeners: Array<(e: MemberEvent) => void> = [];
  private metaTimer?: Timer;
  private seedTimer?: Timer;

  constructor(private readonly opts: MeshOptions) {
    checkMemberId(opts.id);
    this.keyring = new KeyRing([opts.section.key, ...opts.section.keys]);
    this.tuning = opts.section.tuning;
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'mesh' });
    this.meta = opts.meta ?? emptyMeta;
    encodeMeta(this.meta);
  }

  async start(): Promise<void> {
    if (this.node) throw new MeshError('FM_ERR_MESH_STATE', 'mesh started twice');
    const s = this.opts.section;
    const transport =
      this.opts.transport ?? (await UdpTransport.create({ bindHost: s.bind, port: s.port, advertise: s.advertise, logger: this.logger, clock: this.clock }));
    const node = new MeshNode({
      id: this.opts.id,
      label: s.label,
      tuning: this.tuning,
      transport,
      keyring: this.keyring,
      clock: this.clock,
      random: this.opts.random ?? systemRandom,
      meta: encodeMeta(this.meta),
      logger: this.logger,
    });
    node.on((e) => {
      if (e.type === 'dead' || e.type === 'join' || e.type === 'left') this.logger.info({ member: e.member.id, addr: e.member.addr, event: e.type }, 'mesh membership change');
      for (const l of this.listeners) l(e);
    });
    this.node = node;
    node.start(s.seeds.filter(isAddress));
    const named = s.seeds.filter((x) => !isAddress(x));
    if (named.length > 0) this.resolveSeeds(node, named);
    const source = this.opts.metaSource;
    if (source) {
      const check = () => {
        try {
          const next = source.read();
          if (metaChanged(this.meta, next)) this.setLocalMeta(next);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'mesh metadata not updated');
        }
        this.metaTimer = this.clock.setTimeout(check, source.intervalMs);
        this.metaTimer.unref?.();
      };
      this.metaTimer = this.clock.setTimeout(check, source.intervalMs);
      this.metaTimer.unref?.();
    }
    const discovery =
      this.opts.discovery ??
      (s.mdns
        ? new MdnsDiscovery({ id: this.opts.id, port: parseAddress(transport.address).port, label: s.label, clock: this.clock, logger: this.logger, ...this.opts.mdnsSocket, ...(this.opts.mdnsTxt ? { txt: this.opts.mdnsTxt } : {}) })
        : undefined);
    if (discovery) {
      this.discovery = discovery;
      try {
        await discovery.start((peer) => {
          // Already a live member there: gossip has it; a full-state join would only cost bytes
          // (every gateway discovers every other one at start).
          const known = node.membership.get(peer.id);
          if (known && (known.state === 'alive' || known.state === 'suspect') && peer.addresses.includes(known.addr)) return;
          node.join(peer.addresses);
        });
        this.discoveryState = 'mdns';
      } catch (err) {
        this.discoveryState = 'seeds-only';
        // No multicast (container, locked-down network): static seeds still work.
        this.logger.warn({ err: (err as Error).message }, 'mDNS discovery unavailable; using static seeds only');
      }
    }
  }

  /**
   * Seeds given by host name are resolved here, not in the protocol (which speaks addresses);
   * failures are retried every reconnect interval, as a name may only resolve once the network is up.
   */
  private resolveSeeds(node: MeshNode, names: string[]): void {
    const pending = new Set(names);
    const ipv4Only = !this.opts.section.bind.includes(':');
    const attempt = () => {
      for (const name of [...pending]) {
        const colon = name.lastIndexOf(':');
        const host = name.slice(0, colon);
        const port = Number(name.slice(colon + 1));
        // An IPv4 socket reaches only IPv4 addresses ("localhost" may resolve to ::1 first).
        lookup(host, { all: true, ...(ipv4Only ? { family: 4 } : {}) })
          .then((addrs) => {
            pending.delete(name);
            node.join(addrs.map((a) => formatAddress({ host: a.address, port })));
          })
          .catch((err: Error) => this.logger.warn({ seed: name, err: err.message }, 'mesh seed does not resolve yet'));
      }
      if (pending.size > 0 && this.node === node) {
        this.seedTimer = this.clock.setTimeout(attempt, this.tuning.reconnectIntervalMs);
        this.seedTimer.unref?.();
      }
    };
    attempt();
  }

  /** Leaves gracefully (peers mark us left at once) and withdraws the mDNS record (goodbye). */
  async stop(): Promise<void> {
    if (this.metaTimer) this.clock.clearTimeout(this.metaTimer);
    if (this.seedTimer) this.clock.clearTimeout(this.seedTimer);
    await this.discovery?.stop().catch(() => {});
    await this.node?.leave();
  }

  get address(): string {
    return this.requireNode().address;
  }

  members(): MemberView[] {
    const node = this.requireNode();
    return node.members().map((m) => {
      let meta: MemberMeta | null = null;
      try {
        meta = decodeMeta(m.meta);
      } catch {
        meta = null;
      }
      return { id: m.id, address: m.addr, state: m.state, incarnation: m.incarnation, self: m.id === node.id, meta };
    });
  }

  setLocalMeta(meta: MemberMeta): void {
    const encoded = encodeMeta(meta);
    this.meta = meta;
    this.node?.setMeta(encoded);
  }

  on(listener: (e: MemberEvent) => void): void {
    this.listeners.push(listener);
  }

  metrics(): MeshMetrics {
    return this.requireNode().snapshotMetrics();
  }

  prometheus(): string {
    return metricsToPrometheus(this.metrics());
  }

  /** Live key rotation: install everywhere, then use everywhere, then remove the old key. */
  installKey(key: string): void {
    this.keyring.install(key);
  }
  useKey(key: string): void {
    this.keyring.use(key);
  }
  removeKey(key: string): void {
    this.keyring.remove(key);
  }

  private requireNode(): MeshNode {
    if (!this.node) throw new MeshError('FM_ERR_MESH_STATE', 'mesh not started');
    return this.node;
  }
}
