import { createHash } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';
import type { Bonjour, Browser, Service } from 'bonjour-service';
import { type Clock, type Timer, type Logger, silentLogger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { formatAddress } from './address.js';
import { PROTOCOL_VERSION } from './codec.js';
import type { DiscoveredPeer, Discovery } from './discovery.js';
import { loadBonjour } from '../lazy-packages.js';

/** DNS-SD service type: `_fieldmesh._udp.local`. */
export const SERVICE_TYPE = 'fieldmesh';

export interface MdnsDiscoveryOptions {
  id: string;
  /** Our mesh UDP port, published in the SRV record. */
  port: number;
  /** Cluster label: only its hash travels, and peers of other clusters are ignored. */
  label: string;
  clock: Clock;
  /** multicast-dns socket options; on loopback only: { interface: '127.0.0.1', bind: '0.0.0.0' }. */
  interface?: string;
  bind?: string;
  /**
   * ms between re-queries (default 60000). bonjour-service's browser queries once at start and
   * keeps answers for the PTR TTL (8 h): without re-querying, peers that start later are missed
   * whenever their announcement was lost, and vanished ones linger.
   */
  requeryIntervalMs?: number;
  /** ms after the last answer when a peer is dropped as stale (default 3 × requery interval). */
  staleAfterMs?: number;
  /**
   * More TXT keys to publish, e.g. `mqtt`: the gateway's MQTT port, which the device SDK's
   * DeviceClient reads to find a gateway (device-sdk/src/client/discovery.ts). Keep them short:
   * the whole record stays within 200 bytes.
   */
  txt?: Record<string, string>;
  logger?: Logger;
}

export function clusterHash(label: string): string {
  return createHash('sha256').update(`fieldmesh/${label}`).digest('hex').slice(0, 16);
}

/** TXT record: small (RFC 6763 §6 suggests ≤ 200 bytes), no secrets: id, protocol version, cluster hash. */
export function txtRecord(id: string, label: string): Record<string, string> {
  return { id, v: String(PROTOCOL_VERSION), c: clusterHash(label) };
}

export function txtSize(txt: Record<string, string>): number {
  return Object.entries(txt).reduce((n, [k, v]) => n + 1 + Buffer.byteLength(`${k}=${v}`), 0);
}

/**
 * Orders a service's addresses for joining. bonjour-service advertises the addresses of every
 * interface (docker0, veth, VPN), so: first the address the answer actually came from, then
 * addresses on a subnet we share, then the rest; IPv6 link-local ones (unusable without a zone)
 * are dropped.
 */
export function rankAddresses(service: Pick<Service, 'addresses' | 'referer' | 'port'>, local = localSubnets()): string[] {
  const all = (service.addresses ?? []).filter((a) => !a.toLowerCase().startsWith('fe80:'));
  const referer = service.referer?.address;
  const score = (a: string) => (a === referer ? 0 : local.some((s) => s.contains(a)) ? 1 : 2);
  const ranked = [...new Set(all)].sort((a, b) => score(a) - score(b));
  if (referer && !ranked.includes(referer) && !referer.toLowerCase().startsWith('fe80:')) ranked.unshift(referer);
  return ranked.map((host) => formatAddress({ host, port: service.port }));
}

interface Subnet {
  contains(addr: string): boolean;
}

function localSubnets(): Subnet[] {
  const out: Subnet[] = [];
  for (const infos of Object.values(networkInterfaces())) {
    for (const i of infos ?? []) {
      if (i.family !== 'IPv4') continue;
      const net = ipv4ToInt(i.address) & ipv4ToInt(i.netmask);
      const mask = ipv4ToInt(i.netmask);
      out.push({ contains: (a) => isIPv4(a) && (ipv4ToInt(a) & mask) === net });
    }
  }
  return out;
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, p) => ((n << 8) | Number(p)) >>> 0, 0);
}

interface Seen {
  peer: DiscoveredPeer;
  lastSeen: number;
}

/** mDNS/DNS-SD discovery with bonjour-service, working around its known pitfalls. */
export class MdnsDiscovery implements Discovery {
  private bonjour?: Bonjour;
  private browser?: Browser;
  private service?: Service;
  private timer?: Timer;
  private readonly seen = new Map<string, Seen>();
  private readonly hash: string;
  private readonly requery: number;
  private readonly stale: number;
  private readonly logger: Logger;
  /** Announcements ignored: other clusters, other protocol versions, malformed TXT. */
  ignored = 0;

  constructor(private readonly opts: MdnsDiscoveryOptions) {
    this.hash = clusterHash(opts.label);
    this.requery = opts.requeryIntervalMs ?? 60_000;
    this.stale = opts.staleAfterMs ?? 3 * this.requery;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'mesh-mdns' });
  }

  async start(onPeer: (peer: DiscoveredPeer) => void): Promise<void> {
    const socketOpts: Record<string, string> = {};
    if (this.opts.interface) socketOpts.interface = this.opts.interface;
    if (this.opts.bind) socketOpts.bind = this.opts.bind;
    // Multicast trouble repeats on every packet: one line a minute, with the count in between.
    const limited = new RateLimitedLog(this.logger, this.opts.clock, { intervalMs: 60_000, countZero: false });
    // Loaded here, not at the top: a gateway with `mesh.mdns: false` never loads multicast-dns.
    const { Bonjour } = await loadBonjour();
    this.bonjour = new Bonjour(socketOpts as object, (err: Error) => {
      limited.warn('mdns', { err: err.message }, 'mDNS error; static seeds still work');
    });
    // A host name of our own: every instance on one machine would otherwise claim the same
    // `<hostname>.local`, and a second gateway's records would conflict with the first's.
    this.service = this.bonjour.publish({
      name: `fieldmesh-${this.opts.id}`,
      type: SERVICE_TYPE,
      protocol: 'udp',
      port: this.opts.port,
      host: `fm-${this.opts.id}.local`,
      txt: { ...this.opts.txt, ...txtRecord(this.opts.id, this.opts.label) },
      probe: false,
    });
    const consider = (s: Service) => {
      const txt = (s.txt ?? {}) as Record<string, unknown>;
      const id = typeof txt.id === 'string' ? txt.id : undefined;
      if (!id || txt.c !== this.hash || String(txt.v) !== String(PROTOCOL_VERSION)) {
        this.ignored++;
        return;
      }
      if (id === this.opts.id) return;
      const addresses = rankAddresses(s);
      if (addresses.length === 0) return;
      const prev = this.seen.get(id);
      const peer = { id, addresses };
      this.seen.set(id, { peer, lastSeen: this.opts.clock.monotonic() });
      if (!prev || prev.peer.addresses.join() !== addresses.join()) onPeer(peer);
    };
    const browse = () => {
      // A fresh browser per round: bonjour-service's browser never refreshes a known service's
      // lastSeen, so a new one is the only way to see who still answers.
      this.browser?.stop();
      const browser = this.bonjour!.find({ type: SERVICE_TYPE, protocol: 'udp' });
      browser.on('up', consider);
      browser.on('srv-update', consider);
      browser.on('txt-update', consider);
      browser.on('down', (s: Service) => {
        // A goodbye (TTL 0): gone now, not in 8 hours.
        const id = (s.txt as Record<string, unknown> | undefined)?.id;
        if (typeof id === 'string') this.seen.delete(id);
      });
      this.browser = browser;
    };
    browse();
    const tick = () => {
      const now = this.opts.clock.monotonic();
      for (const [id, s] of this.seen) if (now - s.lastSeen > this.stale) this.seen.delete(id);
      browse();
      this.timer = this.opts.clock.setTimeout(tick, this.requery);
      this.timer.unref?.();
    };
    this.timer = this.opts.clock.setTimeout(tick, this.requery);
    this.timer.unref?.();
  }

  peers(): DiscoveredPeer[] {
    return [...this.seen.values()].map((s) => s.peer);
  }

  async stop(): Promise<void> {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.browser?.stop();
    const bonjour = this.bonjour;
    this.bonjour = undefined;
    if (!bonjour) return;
    // unpublishAll sends the goodbye (TTL 0) so peers drop us now (RFC 6762 §10.1).
    await new Promise<void>((resolve) => bonjour.unpublishAll(() => resolve()));
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
  }
}
