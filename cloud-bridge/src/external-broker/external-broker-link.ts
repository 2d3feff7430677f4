import { randomBytes } from 'node:crypto';
import { connect, type MqttClient } from 'mqtt';
import type { Logger } from '@fieldmesh/device-sdk';
import { encodeAck, uplinkTopics, type AckMessage } from '@fieldmesh/protocol';
import type { TopicRouter } from '../bridge/topic-router.js';

export interface ExternalBrokerOptions {
  /** `mqtt://host:port` or `mqtts://…` of an MQTT 5 broker (Mosquitto, EMQX, HiveMQ…). */
  url: string;
  username?: string;
  password?: string;
  /** Shared-subscription group: bridges in one group split the batches between them. */
  shareGroup: string;
}

export interface ExternalLinkStats {
  connects: number;
  batches: number;
  statuses: number;
  alerts: number;
  ignored: number;
}

/**
 * The bridge's side of an external MQTT 5 broker. Batches arrive through the shared subscription
 * `$share/<group>/fm/g/+/batch` [MQTT-5 §4.8.2], so each batch goes to one bridge of the group;
 * status messages through a plain subscription, because retained messages are not sent on shared
 * subscriptions (MQTT 5 §4.8.2), and every bridge wants
 * the fleet's presence anyway.
 *
 * Clean start, no session kept: a batch in flight to a bridge that dies is not queued for it;
 * the gateway resends it after its ack timeout, another bridge takes it, and the unique
 * (gateway, epoch, seq) key in the shared store makes a double commit harmless.
 * Who may publish on `fm/g/<id>/…` is the external broker's ACL to enforce (EXTERNAL.md).
 */
export class ExternalBrokerLink {
  readonly stats: ExternalLinkStats = { connects: 0, batches: 0, statuses: 0, alerts: 0, ignored: 0 };

  private constructor(
    private readonly client: MqttClient,
    readonly clientId: string,
  ) {}

  static async connect(opts: ExternalBrokerOptions, router: TopicRouter, logger: Logger): Promise<ExternalBrokerLink> {
    const clientId = `fm-bridge-${process.pid}-${randomBytes(4).toString('hex')}`;
    const client = connect(opts.url, {
      clientId,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      // Batches handled at once by this bridge: its receiver handles them one at a time anyway.
      properties: { receiveMaximum: 32, sessionExpiryInterval: 0 },
    });
    const link = new ExternalBrokerLink(client, clientId);
    // No publisher identity here: the external broker's ACL vouches for the topic (EXTERNAL.md).
    client.on('message', (topic, payload) => {
      const kind = router.dispatch(topic, payload);
      if (kind === 'batch') link.stats.batches++;
      else if (kind === 'status') link.stats.statuses++;
      else if (kind === 'alert' || kind === 'alerts') link.stats.alerts++;
      else link.stats.ignored++;
    });
    client.on('error', (err) => logger.warn({ err: err.message }, 'external broker error'));
    client.on('connect', () => {
      link.stats.connects++;
      client.subscribe(
        { [`$share/${opts.shareGroup}/${uplinkTopics.batch('+')}`]: { qos: 1 }, [uplinkTopics.status('+')]: { qos: 1 }, 'fm/g/+/alert': { qos: 1 }, [`$share/${opts.shareGroup}/${uplinkTopics.alerts('+')}`]: { qos: 1 } },
        (err, granted) => {
          if (err || granted?.some((g) => g.qos > 2)) logger.error({ err: err?.message, granted }, 'external broker refused the subscriptions (is it MQTT 5 with shared subscriptions?)');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CONNACK from ${opts.url} within 15 s`)), 15_000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    }).catch(async (err: Error) => {
      await client.endAsync(true);
      throw err;
    });
    return link;
  }

  /** Publishes an ack (or nack) to the gateway, QoS 1. */
  readonly sendAck = async (gatewayId: string, ack: AckMessage): Promise<void> => {
    await this.client.publishAsync(uplinkTopics.ack(gatewayId), encodeAck(ack), { qos: 1 });
  };

  get connected(): boolean {
    return this.client.connected;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
