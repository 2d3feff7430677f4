import type { LinkSession } from './uplink-link.js';

/**
 * What the uplink carries besides readings and alerts, across sessions: topics it reads beyond
 * the ack topic (the fleet's desired state) and retained messages it must publish again on every
 * connect, so the newest one reaches the broker whatever the link did meanwhile.
 */
export class SessionTopics {
  /** Topics beyond the ack topic and who reads them. */
  private readonly subscriptions = new Map<string, (payload: Buffer) => void>();
  /** Told of every session once all `subscriptions` are in place (what a session had in flight is gone). */
  private readonly subscribedListeners: Array<() => void> = [];
  /** The newest retained message per topic, sent again on every connect. */
  private readonly retained = new Map<string, string>();

  subscribe(topic: string, onMessage: (payload: Buffer) => void): void {
    this.subscriptions.set(topic, onMessage);
  }

  onSubscribed(listener: () => void): void {
    this.subscribedListeners.push(listener);
  }

  /** The topics a new session subscribes to; undefined when there are none. */
  topics(): string[] | undefined {
    return this.subscriptions.size > 0 ? [...this.subscriptions.keys()] : undefined;
  }

  deliver(topic: string, payload: Buffer): void {
    this.subscriptions.get(topic)?.(payload);
  }

  /** A session's subscriptions are in place. */
  subscribed(): void {
    for (const l of this.subscribedListeners) l();
  }

  retain(topic: string, payload: string): void {
    this.retained.set(topic, payload);
  }

  /** Publishes every retained message again in a new session. */
  replay(client: LinkSession): void {
    for (const [topic, payload] of this.retained) client.publish(topic, payload, { qos: 1, retain: true });
  }
}
