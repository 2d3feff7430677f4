import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import type { Clock, Logger, Timer } from '@fieldmesh/device-sdk';
import { LiveError } from './errors.js';
import { LiveMatcher, parseLiveFilter, type LiveFilter } from './live-filter.js';
import type { LiveHub } from './live-hub.js';
import type { LiveMqtt } from './live-mqtt.js';
import { LiveSubscriber, type LiveChannel, type SubscriberLimits } from './live-subscriber.js';
import type { LiveTokens } from './live-tokens.js';

/** Paths on the bridge's HTTP port that upgrade to WebSocket. */
export const LIVE_PATH = '/live';
export const MQTT_WS_PATH = '/mqtt';

/** Inbound frames are tiny (MQTT SUBSCRIBE, pings); anything bigger is an attack. */
const MAX_INBOUND_BYTES = 64 * 1024;

/** Limits of the live server as a whole (per subscriber: SubscriberLimits). */
export interface LiveServerLimits {
  /** Concurrent `/live` subscribers; more get HTTP 503. Default 1000 (a token holder could open thousands). */
  maxSubscribers: number;
  /** Ping period, ms; a subscriber that has not answered the previous ping is dropped (half-open TCP). Default 30000. */
  heartbeatMs: number;
}

export const SERVER_DEFAULTS: LiveServerLimits = { maxSubscribers: 1000, heartbeatMs: 30_000 };

export interface LiveServerStats {
  subscribers: number;
  accepted: number;
  refusedToken: number;
  refusedFilter: number;
  refusedFull: number;
  /** Dropped for not answering a ping within heartbeatMs. */
  deadDropped: number;
  cutOff: number;
  readingsSampled: number;
}

/**
 * The WebSocket side of the live API (LIVE.md): `/live` streams JSON events to token holders,
 * `/mqtt` carries MQTT for third-party dashboards (authenticated at MQTT CONNECT).
 * A wrong or missing token on `/live` gets HTTP 401 and a closed connection, before any upgrade.
 */
export class LiveServer {
  readonly stats: LiveServerStats = { subscribers: 0, accepted: 0, refusedToken: 0, refusedFilter: 0, refusedFull: 0, deadDropped: 0, cutOff: 0, readingsSampled: 0 };
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_INBOUND_BYTES,
    // MQTT over WebSocket names the subprotocol `mqtt` [MQTT-6.0.0-3]; answer it when offered.
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  private readonly live = new Map<WebSocket, LiveSubscriber>();
  private readonly alive = new WeakSet<WebSocket>();
  private heartbeat: Timer | null = null;

  constructor(
    private readonly hub: LiveHub,
    private readonly tokens: LiveTokens,
    private readonly mqtt: () => LiveMqtt | null,
    private readonly limits: SubscriberLimits,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly server: LiveServerLimits = SERVER_DEFAULTS,
  ) {
    this.scheduleHeartbeat();
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = this.clock.setTimeout(() => {
      for (const ws of this.live.keys()) {
        if (!this.alive.has(ws)) {
          this.stats.deadDropped++;
          ws.terminate();
          continue;
        }
        this.alive.delete(ws);
        ws.ping();
      }
      this.scheduleHeartbeat();
    }, this.server.heartbeatMs);
    this.heartbeat.unref?.();
  }

  /** The HTTP server's `upgrade` listener. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === LIVE_PATH) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!this.tokens.verify(url.searchParams.get('token') ?? bearer)) {
        this.stats.refusedToken++;
        return refuse(socket, 401, 'a valid live token is required (?token= or Authorization: Bearer)');
      }
      if (this.live.size >= this.server.maxSubscribers) {
        this.stats.refusedFull++;
        return refuse(socket, 503, `at most ${this.server.maxSubscribers} live subscribers`);
      }
      let filter: LiveFilter;
      try {
        url.searchParams.delete('token');
        filter = parseLiveFilter(url.searchParams);
      } catch (err) {
        this.stats.refusedFilter++;
        return refuse(socket, 400, err instanceof LiveError ? err.message : 'bad filter');
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, filter));
      return;
    }
    const mqtt = this.mqtt();
    if (url.pathname === MQTT_WS_PATH && mqtt) {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => {});
        mqtt.handle(stream, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
      });
      return;
    }
    refuse(socket, 404, `no WebSocket endpoint at ${url.pathname.slice(0, 80)}`);
  };

  private attach(ws: WebSocket, filter: LiveFilter): void {
    this.stats.accepted++;
    const channel: LiveChannel = {
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      send: (text) => ws.send(text),
      cutOff: (code, reason) => {
        ws.close(code, reason);
        ws.terminate();
      },
    };
    const sub = new LiveSubscriber(new LiveMatcher(filter), channel, this.limits, () => this.clock.monotonic(), () => {
      this.stats.cutOff++;
      this.logger.warn({ sampled: sub.stats.readingsSampled }, 'live subscriber cut off: not reading');
    });
    const remove = this.hub.add(sub);
    this.live.set(ws, sub);
    this.stats.subscribers = this.live.size;
    ws.on('error', () => {});
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
    // Subscribers have nothing to say; inbound frames are read (and dropped) so pings work.
    ws.on('message', () => {});
    ws.on('close', () => {
      remove();
      sub.close();
      this.stats.readingsSampled += sub.stats.readingsSampled;
      this.live.delete(ws);
      this.stats.subscribers = this.live.size;
    });
    sub.sendControl({ type: 'hello', v: 1, filter });
  }

  /** Subscriber-level counters of the connected subscribers (tests, metrics). */
  subscriberStats(): Array<LiveSubscriber['stats']> {
    return [...this.live.values()].map((s) => ({ ...s.stats }));
  }

  close(): void {
    if (this.heartbeat !== null) this.clock.clearTimeout(this.heartbeat);
    this.heartbeat = null;
    for (const ws of this.live.keys()) ws.terminate();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}

function refuse(socket: Duplex, status: 400 | 401 | 404 | 503, why: string): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' }[status];
  const body = JSON.stringify({ error: why });
  // Destroy once the answer is flushed: the client learns why, then the connection is gone.
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
