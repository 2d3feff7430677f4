/**
 * Finding a gateway. A gateway announces itself over mDNS/DNS-SD as `_fieldmesh._udp` (its mesh
 * port, RFC 6763) with TXT keys `id` (gateway id) and `mqtt` (its MQTT port; 1883 when absent).
 * The client only needs a broker URL, so discovery is an interface: a fixed URL, or mDNS. Each
 * find() queries afresh (bonjour-service's browser queries only once at start), so a client
 * re-discovers on every reconnect and follows a gateway that moved.
 */
import { Bonjour, type Service } from 'bonjour-service';
import { DeviceClientError } from './errors.js';

export interface GatewayDiscovery {
  /** Resolves with an MQTT URL (`mqtt://host:port`); rejects with FM_ERR_CLIENT_DISCOVERY. */
  find(): Promise<string>;
  close(): void;
}

export class StaticGateway implements GatewayDiscovery {
  constructor(private readonly url: string) {}
  find(): Promise<string> {
    return Promise.resolve(this.url);
  }
  close(): void {}
}

export interface MdnsOptions {
  /** ms to wait for an answer. Default 5000 (bonjour-service queries once at start; RFC 6762 §5.2 answers come within ~1 s). */
  timeoutMs?: number;
  /** Interface address to query on; on loopback-only hosts `127.0.0.1`. */
  interface?: string;
  /** Bind address for the mDNS socket; with `interface: 127.0.0.1` use `0.0.0.0`. */
  bind?: string;
  /** Only a gateway whose instance name is this. Default: the first to answer. */
  name?: string;
  /** Only the gateway whose TXT `id` is this (gateways publish `id=<gateway id>`). */
  gatewayId?: string;
  /** MQTT URL scheme: `mqtt` or `mqtts`. Default `mqtt`. */
  protocol?: 'mqtt' | 'mqtts';
}

export const MDNS_SERVICE_TYPE = 'fieldmesh';
export const MDNS_TXT_MQTT_PORT = 'mqtt';

/** Picks an address a TCP connection can use; IPv4 before IPv6 (link-local IPv6 needs a zone id). */
export function gatewayUrl(service: Pick<Service, 'addresses' | 'referer' | 'txt' | 'host'>, protocol: 'mqtt' | 'mqtts' = 'mqtt'): string | undefined {
  const txt = (service.txt ?? {}) as Record<string, unknown>;
  const rawPort = txt[MDNS_TXT_MQTT_PORT];
  const port = rawPort === undefined ? 1883 : Number(String(rawPort));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const isV4 = (a: string | undefined) => a !== undefined && /^\d+\.\d+\.\d+\.\d+$/.test(a);
  // The answer's source address first: bonjour-service lists the A records of every interface
  // of the gateway, and only the one the answer came from is known to reach us (RFC 6762 §6.2).
  const referer = service.referer?.address;
  const host = isV4(referer) ? referer : ((service.addresses ?? []).find(isV4) ?? referer);
  if (!host) return undefined;
  return `${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class MdnsGatewayDiscovery implements GatewayDiscovery {
  private bonjour?: Bonjour;

  constructor(private readonly opts: MdnsOptions = {}) {}

  find(): Promise<string> {
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      let browser: ReturnType<Bonjour['find']> | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        clearTimeout(timer);
        browser?.stop();
        this.close();
      };
      const mdnsOpts: Record<string, unknown> = {};
      if (this.opts.interface) mdnsOpts.interface = this.opts.interface;
      if (this.opts.bind) mdnsOpts.bind = this.opts.bind;
      const bonjour = new Bonjour(mdnsOpts, (err: unknown) => {
        finish();
        reject(new DeviceClientError('FM_ERR_CLIENT_DISCOVERY', `mDNS failed: ${String((err as Error)?.message ?? err)}`));
      });
      this.bonjour = bonjour;
      timer = setTimeout(() => {
        finish();
        reject(new DeviceClientError('FM_ERR_CLIENT_DISCOVERY', `no _${MDNS_SERVICE_TYPE}._udp gateway answered within ${timeoutMs} ms`));
      }, timeoutMs);
      browser = bonjour.find({ type: MDNS_SERVICE_TYPE, protocol: 'udp' }, (service: Service) => {
        if (this.opts.name && service.name !== this.opts.name) return;
        if (this.opts.gatewayId && (service.txt as Record<string, unknown> | undefined)?.id !== this.opts.gatewayId) return;
        const url = gatewayUrl(service, this.opts.protocol);
        if (!url) return;
        finish();
        resolve(url);
      });
    });
  }

  close(): void {
    const b = this.bonjour;
    this.bonjour = undefined;
    b?.destroy();
  }
}
