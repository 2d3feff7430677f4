import type { Client, PublishPacket, Subscription } from 'aedes';
import { bundleTopics, fleetTopics, isGatewayId, parseUplinkTopic, uplinkTopics, parseRelayTopic, relayTopics } from '@fieldmesh/protocol';
import { certificateIdentity } from './broker-tls.js';
import type { GatewayCredentials } from './credentials.js';

/** The client id a gateway's relay link uses (gateway/src/relay/relay-upstream.ts). */
export const RELAY_CLIENT_ID_SUFFIX = '.relay';

/**
 * A session is keyed by client id, and a second CONNECT with the same id takes it over
 * [MQTT-3.1.4-2]: a gateway may use only its own id (uplink) or `<id>.relay` (its relay link),
 * so no credential but gw-a's can end gw-a's session. Viewers are under `live:` (live-mqtt.ts).
 */
export function ownsClientId(gatewayId: string, clientId: string): boolean {
  return clientId === gatewayId || clientId === `${gatewayId}${RELAY_CLIENT_ID_SUFFIX}`;
}

function clientIdWhy(gatewayId: string, clientId: string): string {
  return `client id ${JSON.stringify(clientId.slice(0, 80))} is not ${gatewayId} or ${gatewayId}${RELAY_CLIENT_ID_SUFFIX}`;
}

/** Topic kinds a gateway may publish under its own `fm/g/<id>/`. */
const GATEWAY_PUBLISHES = new Set(['batch', 'status', 'alerts']);

export interface AccessStats {
  authFailures: number;
  /** Logins refused because the client id is not the gateway's own (a session takeover attempt). */
  clientIdRefused: number;
  publishDenied: number;
  subscribeDenied: number;
}

/**
 * Who a connected client is and what it may do (aedes' authenticate / authorizePublish /
 * authorizeSubscribe hooks). With credentials, a gateway is its username; with `auth: none`
 * (a lab), its MQTT client id. Either way it publishes only under `fm/g/<its id>/` and
 * subscribes only to its own ack topic. Fleet (cloud-bridge/src/fleet/FLEET-CLOUD.md): it
 * publishes its own `fleet/reported` and subscribes to its own `fleet/desired`; for bundles over
 * the uplink it publishes its own `fleet/bundle/get` and subscribes to its own
 * `fleet/bundle/chunk`. No client ever publishes a desired or chunk topic (the bridge publishes
 * them itself, without a client).
 */
export class GatewayAccess {
  readonly stats: AccessStats = { authFailures: 0, clientIdRefused: 0, publishDenied: 0, subscribeDenied: 0 };
  private readonly identity = new WeakMap<Client, string>();

  constructor(
    private readonly mode: 'credentials' | 'none',
    private readonly credentials: GatewayCredentials | null,
    private readonly onDenied: (what: string, client: Client | null, detail: string) => void = () => {},
  ) {}

  gatewayOf(client: Client | null): string | undefined {
    return client ? this.identity.get(client) : undefined;
  }

  readonly authenticate = (
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void => {
    const refuse = (returnCode: number, why: string) => {
      if (returnCode === 2) this.stats.clientIdRefused++;
      this.stats.authFailures++;
      this.onDenied('connect', client, why);
      done(Object.assign(new Error(why), { returnCode }), null);
    };
    // A client certificate the TLS layer verified proves the gateway id (its CN): it replaces
    // the password, and a username, if sent, must be the same id, so a gateway holding gw-b's
    // certificate can never log in (and so publish) as gw-a.
    const certId = certificateIdentity(client);
    if (certId !== undefined) {
      if (!isGatewayId(certId)) return refuse(5, `certificate CN ${JSON.stringify(certId.slice(0, 80))} is not a valid gateway id`);
      if (username !== undefined && username !== certId) return refuse(5, `username ${JSON.stringify(username.slice(0, 80))} does not match the certificate CN ${certId}`);
      if (!ownsClientId(certId, client.id)) return refuse(2, clientIdWhy(certId, client.id));
      this.identity.set(client, certId);
      return done(null, true);
    }
    if (this.mode === 'none') {
      const id = username && isGatewayId(username) ? username : client.id;
      if (!isGatewayId(id)) return refuse(2, `client id ${JSON.stringify(id)} is not a valid gateway id`);
      if (!ownsClientId(id, client.id)) return refuse(2, clientIdWhy(id, client.id));
      this.identity.set(client, id);
      return done(null, true);
    }
    if (!username || !isGatewayId(username)) return refuse(4, 'missing or invalid username');
    // Checked before the password, so a guess costs no scrypt; a takeover needs the victim's own login.
    if (!ownsClientId(username, client.id)) return refuse(2, clientIdWhy(username, client.id));
    this.credentials!.verify(username, password).then(
      (ok) => {
        if (!ok) return refuse(4, `bad credentials for ${username}`);
        this.identity.set(client, username);
        done(null, true);
      },
      (err: Error) => refuse(3, `credential check failed: ${err.message}`),
    );
  };

  readonly authorizePublish = (client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void => {
    // Broker-internal publishes (acks) have no client.
    if (client === null) return done(null);
    const id = this.identity.get(client);
    const t = parseUplinkTopic(packet.topic);
    if (id !== undefined && t && t.gatewayId === id && GATEWAY_PUBLISHES.has(t.kind)) return done(null);
    if (id !== undefined && (packet.topic === fleetTopics.reported(id) || packet.topic === bundleTopics.get(id))) return done(null);
    if (id !== undefined && this.mayRelay(id, packet.topic)) return done(null);
    this.stats.publishDenied++;
    this.onDenied('publish', client, `${id ?? '?'} may not publish on ${packet.topic}`);
    done(new Error(`not authorized to publish on ${packet.topic}`));
  };

  readonly authorizeSubscribe = (client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void => {
    const id = this.identity.get(client);
    if (id !== undefined && sub.topic === uplinkTopics.ack(id)) return done(null, sub);
    if (id !== undefined && (sub.topic === fleetTopics.desired(id) || sub.topic === bundleTopics.chunk(id))) return done(null, sub);
    // A relay's acks for the origins it carries (gateway/src/relay/RELAY.md §4).
    if (id !== undefined && sub.topic === relayTopics.ackFilter(id)) return done(null, sub);
    this.stats.subscribeDenied++;
    this.onDenied('subscribe', client, `${id ?? '?'} may not subscribe to ${sub.topic}`);
    // A null subscription makes aedes answer SUBACK 0x80 (failure) [MQTT-3.9.3].
    done(null, null);
  };

  /**
   * A gateway may publish an origin's batch on `fm/g/<itself>/relay/<origin>/batch` (RELAY.md §4):
   * the origin must be a valid gateway id other than itself and, with credentials, one the cloud
   * knows. What the cloud trusts: the relay is an authenticated member of the fleet; the batch's
   * content is the origin's (the receiver checks the batch names that origin), and a relay can
   * only add readings under `(origin, epoch, seq)` keys, never overwrite committed ones.
   */
  private mayRelay(id: string, topic: string): boolean {
    const r = parseRelayTopic(topic);
    if (!r || r.kind !== 'batch' || r.relayId !== id || r.originId === id || !isGatewayId(r.originId)) return false;
    return this.mode === 'none' || this.credentials!.ids().includes(r.originId);
  }
}
