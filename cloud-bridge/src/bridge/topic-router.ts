import { isGatewayId, parseRelayTopic, parseUplinkTopic } from '@fieldmesh/protocol';

/** The kinds of message a gateway publishes to the cloud (protocol/FORMAT.md §1, relay topics). */
export type UplinkMessageKind = 'batch' | 'relayBatch' | 'status' | 'alert' | 'alerts' | 'fleetReported';

/**
 * One handler per kind of message, as aedes has one handler per packet type. A root leaves out
 * a kind it does not take (the external-broker root has no relay path); such messages are
 * ignored and counted by the caller.
 */
export interface UplinkHandlers {
  /** `fm/g/<gateway>/batch`: a batch of the gateway's own readings. */
  batch?(gatewayId: string, payload: Buffer): void;
  /** `fm/g/<relay>/relay/<origin>/batch`: an origin's batch, byte for byte, carried by a peer. */
  relayBatch?(originId: string, relayId: string, payload: Buffer): void;
  /** `fm/g/<gateway>/status` (retained, and the last will). See GatewayPresence for `connectedNow`. */
  status?(gatewayId: string, payload: Buffer, connectedNow: boolean): void;
  /** `fm/g/<gateway>/alert`: one alert event for the live feed only. */
  alert?(gatewayId: string, payload: Buffer): void;
  /** `fm/g/<gateway>/alerts`: the priority lane, committed and acked. */
  alerts?(gatewayId: string, payload: Buffer): void;
  /** `fm/g/<gateway>/fleet/reported`: the gateway's fleet state (cloud-bridge/src/fleet/FLEET-CLOUD.md). */
  fleetReported?(gatewayId: string, payload: Buffer): void;
}

const FLEET_REPORTED = /^fm\/g\/([^/]+)\/fleet\/reported$/;

export interface UplinkRoute {
  kind: UplinkMessageKind;
  /** The gateway whose data it is (the origin, for a relayed batch). */
  gatewayId: string;
  /** Who publishes on this topic: the gateway itself, or the relay. */
  publisherId: string;
}

/** The route of a topic, or null for a topic no gateway publishes on. */
export function routeOf(topic: string): UplinkRoute | null {
  const fleet = FLEET_REPORTED.exec(topic);
  if (fleet && isGatewayId(fleet[1])) return { kind: 'fleetReported', gatewayId: fleet[1]!, publisherId: fleet[1]! };
  const r = parseRelayTopic(topic);
  if (r) return r.kind === 'batch' ? { kind: 'relayBatch', gatewayId: r.originId, publisherId: r.relayId } : null;
  const t = parseUplinkTopic(topic);
  if (!t) return null;
  switch (t.kind) {
    case 'batch':
    case 'status':
    case 'alert':
    case 'alerts':
      return { kind: t.kind, gatewayId: t.gatewayId, publisherId: t.gatewayId };
    default:
      return null;
  }
}

/** What the broker knows of the connection a message came on. */
export interface Publisher {
  /** The gateway the broker authenticated on it (undefined: not a gateway, e.g. a dashboard viewer). */
  gatewayId: string | undefined;
  /** Whether the broker holds a newer connection of that gateway than this one (a takeover). */
  newerConnection: boolean;
}

/**
 * Routes each message a gateway publishes to its kind's handler; shared by the embedded-broker
 * root (CloudBridge) and the external-broker root (ExternalCloudBridge), so the two read the
 * same topics the same way. With a `publisher` (the embedded broker, which authenticated the
 * connection), a message is taken only from the gateway its topic names; without one (an
 * external broker), that broker's ACL is what vouches for the topic (EXTERNAL.md).
 */
export class TopicRouter {
  constructor(private readonly handlers: UplinkHandlers) {}

  /** Hands the message to its handler; returns its kind, or null when it was ignored. */
  dispatch(topic: string, payload: Buffer, publisher?: Publisher): UplinkMessageKind | null {
    const route = routeOf(topic);
    if (route === null) return null;
    if (publisher !== undefined && publisher.gatewayId !== route.publisherId) return null;
    const h = this.handlers;
    switch (route.kind) {
      case 'batch':
        if (!h.batch) return null;
        h.batch(route.gatewayId, payload);
        break;
      case 'relayBatch':
        if (!h.relayBatch) return null;
        h.relayBatch(route.gatewayId, route.publisherId, payload);
        break;
      case 'status':
        if (!h.status) return null;
        h.status(route.gatewayId, payload, publisher?.newerConnection ?? false);
        break;
      case 'alert':
        if (!h.alert) return null;
        h.alert(route.gatewayId, payload);
        break;
      case 'alerts':
        if (!h.alerts) return null;
        h.alerts(route.gatewayId, payload);
        break;
      case 'fleetReported':
        if (!h.fleetReported) return null;
        h.fleetReported(route.gatewayId, payload);
        break;
    }
    return route.kind;
  }
}
