import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock, type Timer, type Reading } from '@fieldmesh/device-sdk';
import { encodeAlertEvent, type AlertEvent } from '../alerts/event.js';
import { compilePattern, type SeriesPattern } from '../series/pattern.js';
import { QueryError, type QueryErrorCode } from './errors.js';
import { checkKnown } from './params.js';

/**
 * `GET /api/tail[?series=pattern][&alerts=only|none]`: live readings and alerts as Server-Sent
 * Events (text/event-stream, https://html.spec.whatwg.org/multipage/server-sent-events.html).
 *
 * Why SSE over HTTP rather than subscribing to the local MQTT broker: `fieldmesh tail` then needs
 * only the HTTP port a technician already uses for the API (no broker credentials — the broker
 * allows devices to write only their own topics and nobody to read others'), and a browser's
 * EventSource can use the same stream. Events:
 *
 * ```
 * event: reading
 * data: {"series":"boiler/temp","ts":1767225600000,"value":21.5,"unit":"Cel"}
 *
 * event: alert
 * data: <the alert payload v1 of alerts/event.ts>
 *
 * event: dropped
 * data: {"count":1234}
 * ```
 * A client that reads too slowly is not buffered without bound: once its socket holds more than
 * `maxBufferedBytes`, events are dropped for it (counted, then reported by a `dropped` event when
 * the socket drains). A comment line every `heartbeatMs` keeps proxies from closing idle streams.
 */
export interface TailOptions {
  clock?: Clock;
  /** Most concurrent tail clients; more get 503. Default 16. */
  maxClients?: number;
  /** Per-client socket buffer before events are dropped, bytes. Default 262,144. */
  maxBufferedBytes?: number;
  /** Default 15,000 ms. */
  heartbeatMs?: number;
}

interface TailClient {
  res: ServerResponse;
  pattern: SeriesPattern | undefined;
  readings: boolean;
  alerts: boolean;
  dropped: number;
}

export class TailHub {
  private readonly clients = new Set<TailClient>();
  private readonly clock: Clock;
  private readonly maxClients: number;
  private readonly maxBuffered: number;
  private readonly heartbeatMs: number;
  private heartbeat: Timer | undefined;
  private readonly counts = { events: 0, dropped: 0, refused: 0 };

  constructor(opts: TailOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.maxClients = opts.maxClients ?? 16;
    this.maxBuffered = opts.maxBufferedBytes ?? 262_144;
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  /** Serves one `GET /api/tail` request: answers 400/503 or keeps the response open as a stream. */
  attach(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    let pattern: SeriesPattern | undefined;
    let mode = 'all';
    try {
      checkKnown(params, ['series', 'alerts']);
      const p = params.get('series');
      if (p !== null) {
        const c = compilePattern(p);
        if (typeof c === 'string') throw new QueryError('FM_ERR_QUERY_BAD_SERIES', 'series', c);
        pattern = c;
      }
      mode = params.get('alerts') ?? 'all';
      if (!['all', 'only', 'none'].includes(mode)) throw new QueryError('FM_ERR_QUERY_UNKNOWN_PARAM', 'alerts', `'${mode}' is not one of all, only, none`);
    } catch (err) {
      const e = err as QueryError;
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.code, reason: e.message, param: e.param }));
      return;
    }
    if (this.clients.size >= this.maxClients) {
      this.counts.refused++;
      res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' })
        .end(JSON.stringify({ error: 'FM_ERR_QUERY_TAIL_BUSY' satisfies QueryErrorCode, reason: `at most ${this.maxClients} tail clients at once` }));
      return;
    }
    const client: TailClient = { res, pattern, readings: mode !== 'only', alerts: mode !== 'none', dropped: 0 };
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': fieldmesh tail\n\n');
    res.on('drain', () => {
      if (client.dropped > 0) {
        res.write(`event: dropped\ndata: {"count":${client.dropped}}\n\n`);
        client.dropped = 0;
      }
    });
    const bye = () => this.clients.delete(client);
    // Not req 'close': a request emits it once its (empty) body is read, with the stream still open.
    res.on('close', bye);
    res.on('error', bye);
    this.clients.add(client);
    if (!this.heartbeat) this.armHeartbeat();
  }

  /** Committed readings, in commit order. Cheap when nobody is tailing. */
  publishReadings(readings: readonly Reading[]): void {
    if (this.clients.size === 0) return;
    for (const c of this.clients) {
      if (!c.readings) continue;
      let chunk = '';
      let n = 0;
      for (const r of readings) {
        if (c.pattern && !c.pattern.matches(r.series)) continue;
        const value = typeof r.value === 'number' && !Number.isFinite(r.value) ? null : r.value;
        chunk += `event: reading\ndata: ${JSON.stringify(r.unit === undefined ? { series: r.series, ts: r.ts, value } : { series: r.series, ts: r.ts, value, unit: r.unit })}\n\n`;
        n++;
      }
      if (n > 0) this.send(c, chunk, n);
    }
  }

  publishAlert(e: AlertEvent): void {
    for (const c of this.clients) {
      // A device-scope alert's series is `<device>/*`, which `<device>/*` and `*/*` patterns match.
      if (!c.alerts || (c.pattern && !c.pattern.matches(e.series))) continue;
      this.send(c, `event: alert\ndata: ${encodeAlertEvent(e)}\n\n`, 1);
    }
  }

  stats(): { clients: number; events: number; dropped: number; refused: number } {
    return { clients: this.clients.size, ...this.counts };
  }

  /** Ends every stream (gateway stop). */
  close(): void {
    if (this.heartbeat) this.clock.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private send(c: TailClient, chunk: string, events: number): void {
    if (c.res.writableLength > this.maxBuffered) {
      c.dropped += events;
      this.counts.dropped += events;
      return;
    }
    c.res.write(chunk);
    this.counts.events += events;
  }

  private armHeartbeat(): void {
    this.heartbeat = this.clock.setTimeout(() => {
      this.heartbeat = undefined;
      if (this.clients.size === 0) return;
      for (const c of this.clients) c.res.write(': ping\n\n');
      this.armHeartbeat();
    }, this.heartbeatMs);
    this.heartbeat.unref?.();
  }
}
