import { isGatewayId } from './identifiers.js';

/**
 * MQTT topics of relayed delivery (RELAY.md §4). A relay publishes an origin's batch unchanged on
 * a topic under its OWN identity, so the cloud's ACL still knows who published it, and names the
 * origin in the topic; the cloud answers on the relay's matching ack topic.
 */
export const relayTopics = {
  batch: (relayId: string, originId: string) => `fm/g/${relayId}/relay/${originId}/batch`,
  ack: (relayId: string, originId: string) => `fm/g/${relayId}/relay/${originId}/ack`,
  /** What a relay subscribes to: the acks for every origin it serves. */
  ackFilter: (relayId: string) => `fm/g/${relayId}/relay/+/ack`,
} as const;

/** Matches `fm/g/<relay>/relay/<origin>/<kind>`, both gateway ids (FORMAT.md §1.1); returns null for anything else. */
export function parseRelayTopic(topic: string): { relayId: string; originId: string; kind: string } | null {
  const p = topic.split('/');
  if (p.length !== 6 || p[0] !== 'fm' || p[1] !== 'g' || p[3] !== 'relay' || !isGatewayId(p[2]) || !isGatewayId(p[4]) || !p[5]) return null;
  return { relayId: p[2], originId: p[4], kind: p[5] };
}
