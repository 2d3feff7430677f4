import type { Logger } from '@fieldmesh/device-sdk';
import type { UplinkHandlers } from './topic-router.js';
import type { GatewayPresence } from './gateway-presence.js';
import type { RelayedDelivery } from './relayed-delivery.js';

/** What the handlers hand messages to; each root builds these parts. */
export interface UplinkParts {
  receiver: { receive(gatewayId: string, payload: Buffer, via?: string): void };
  alertReceiver: { receive(gatewayId: string, payload: Buffer): Promise<void> | void };
  presence: Pick<GatewayPresence, 'status'>;
  live: { alertMessage(gatewayId: string, payload: Buffer): void };
  /** Which path each gateway's batches came by; only a root that takes relayed batches has it. */
  relayed?: Pick<RelayedDelivery, 'direct' | 'relayed'>;
  /** Fleet reported state; only a root that publishes desired state (the embedded broker) has it. */
  fleet?: { reported(gatewayId: string, payload: Buffer): void };
  logger: Logger;
}

/** The one handler per message kind both cloud-bridge roots route to (TopicRouter). */
export function uplinkHandlers(p: UplinkParts): UplinkHandlers {
  const relayed = p.relayed;
  return {
    batch: (gatewayId, payload) => {
      relayed?.direct(gatewayId);
      p.receiver.receive(gatewayId, payload);
    },
    // A relayed batch is committed under its origin and acked to the relay, which hands the ack
    // to the origin over the mesh channel (gateway/src/relay/RELAY.md).
    ...(relayed
      ? {
          relayBatch: (originId: string, relayId: string, payload: Buffer) => {
            relayed.relayed(originId, relayId);
            p.receiver.receive(originId, payload, relayId);
          },
        }
      : {}),
    status: (gatewayId, payload, connectedNow) =>
      void Promise.resolve(p.presence.status(gatewayId, payload, connectedNow)).catch((err: Error) => p.logger.error({ err: err.message }, 'presence update failed')),
    alert: (gatewayId, payload) => p.live.alertMessage(gatewayId, payload),
    alerts: (gatewayId, payload) => void p.alertReceiver.receive(gatewayId, payload),
    ...(p.fleet ? { fleetReported: (gatewayId: string, payload: Buffer) => p.fleet!.reported(gatewayId, payload) } : {}),
  };
}
