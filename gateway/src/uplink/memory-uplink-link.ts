import type { LinkEvents, LinkOpenOptions, LinkSession, UplinkLink } from './uplink-link.js';

export interface LinkMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/**
 * The in-memory twin of MqttUplinkLink, for deterministic uplink tests and the simulator. The far
 * end is a function: it sees every publish and may answer with an ack payload (or nothing, to
 * stay silent). Events are delivered on the microtask queue, like network callbacks, never
 * synchronously inside a publish. `reachable` and `cut()` play outages.
 */
export class MemoryUplinkLink implements UplinkLink {
  /** When false, connection attempts fail (ECONNREFUSED). */
  reachable = true;
  /** Connection attempts so far. */
  opens = 0;
  /** Every publish that reached the far end, in order. */
  readonly published: LinkMessage[] = [];
  /** The options of the last attempt (will, credentials). */
  lastOpen: LinkOpenOptions | null = null;
  private live: { events: LinkEvents; alive: boolean } | null = null;

  constructor(private readonly farEnd: (msg: LinkMessage) => Buffer | string | null | void = () => null) {}

  open(opts: LinkOpenOptions, events: LinkEvents): LinkSession {
    this.opens++;
    this.lastOpen = opts;
    const state = { events, alive: false };
    this.live = state;
    let bytes = 0;
    queueMicrotask(() => {
      if (!this.reachable) {
        events.error(Object.assign(new Error('connect ECONNREFUSED (memory link)'), { code: 'ECONNREFUSED' }));
        events.down();
        return;
      }
      state.alive = true;
      events.up();
      events.subscribed?.();
    });
    return {
      get connected() {
        return state.alive;
      },
      publish: (topic, payload, o, done) => {
        if (!state.alive) return queueMicrotask(() => done?.());
        const msg = { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), retain: o.retain ?? false };
        bytes += msg.payload.length;
        this.published.push(msg);
        const reply = this.farEnd(msg);
        queueMicrotask(() => {
          done?.();
          if (reply != null && state.alive) {
            bytes += reply.length;
            events.ack(Buffer.isBuffer(reply) ? reply : Buffer.from(reply));
          }
        });
      },
      close: async () => {
        state.alive = false;
      },
      wireBytes: () => bytes,
    };
  }

  /** The connection drops (the broker would publish the will). */
  cut(): void {
    const s = this.live;
    if (!s || !s.alive) return;
    s.alive = false;
    queueMicrotask(() => s.events.down());
  }

  /**
   * The far end publishes on `topic` (say, a retained desired state): delivered when the live
   * session subscribed to it. Returns whether it was delivered.
   */
  deliver(topic: string, payload: Buffer | string): boolean {
    const s = this.live;
    if (!s || !s.alive || !(this.lastOpen?.topics ?? []).includes(topic)) return false;
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    queueMicrotask(() => {
      if (s.alive) s.events.message?.(topic, body);
    });
    return true;
  }

  /** Publishes on a topic, as a filter. */
  on(topic: string): LinkMessage[] {
    return this.published.filter((m) => m.topic === topic);
  }
}
