import type { RelayUpstream } from './relay-upstream.js';

/**
 * The in-memory twin of `MqttRelayUpstream`: records what the relay publishes and lets a test
 * answer with acks (or go offline) when it chooses, so window and ordering rules are checked
 * without a broker.
 */
export class MemoryRelayUpstream implements RelayUpstream {
  online = false;
  readonly published: Array<{ originId: string; batch: Buffer }> = [];
  private events: { ack: (originId: string, payload: Buffer) => void; state: (online: boolean) => void } | null = null;

  start(events: { ack: (originId: string, payload: Buffer) => void; state: (online: boolean) => void }): void {
    this.events = events;
  }

  setOnline(online: boolean): void {
    this.online = online;
    this.events?.state(online);
  }

  publish(originId: string, batch: Buffer): Promise<void> {
    if (!this.online) return Promise.reject(new Error('relay upstream offline'));
    this.published.push({ originId, batch });
    return Promise.resolve();
  }

  /** Delivers an ack as the cloud would (after its commit). */
  ack(originId: string, payload: Buffer): void {
    this.events?.ack(originId, payload);
  }

  async stop(): Promise<void> {
    this.online = false;
  }
}
