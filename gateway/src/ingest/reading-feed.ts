import type { Reading } from '@fieldmesh/device-sdk';
import { appTopic } from './app-grant.js';

/** Whether an MQTT topic matches a filter with `+` and `#` [MQTT-4.7.1]. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Writes one message to the connections of these apps (QoS 0). */
export type FeedDelivery = (clients: readonly object[], topic: string, payload: string) => void;

/** Series whose subscribers are kept; past this the cache starts over (memory stays flat). */
const MATCH_CACHE_MAX = 10_000;

/**
 * Committed readings as `fm/r/<series>` messages for local apps (INGEST.md §Apps): one message per
 * series per commit, a JSON array of that commit's readings of the series in seq order,
 * `[{"ts":…,"value":…,"unit":…}, …]` (as the cloud's `fm/live/…` topics), QoS 0, not retained.
 * One message per series, not per reading: a commit holds thousands of readings of a few series.
 *
 * Written to each subscribed app's connection directly, not through the broker's shared publish
 * path: there, one app that stops reading holds deliveries of the shared emitter while it waits
 * for its socket to drain, and so stalls the devices' publishes too. Here a stalled app only
 * grows its own connection's queue, which the broker measures and cuts (maxAppQueueBytes), and
 * the packet is encoded once for all its subscribers.
 * Built only for series some app subscribed to: with no app, one comparison per commit.
 */
export class ReadingFeed {
  private readonly filters = new Map<object, Set<string>>();
  private filterCount = 0;
  private readonly subscribers = new Map<string, object[]>();
  published = 0;

  constructor(
    private readonly deliver: FeedDelivery,
    /** Called after a commit's messages went out (the broker cuts apps that stopped reading). */
    private readonly afterPublish: () => void = () => {},
  ) {}

  subscribe(client: object, filter: string): void {
    let set = this.filters.get(client);
    if (!set) this.filters.set(client, (set = new Set()));
    if (!set.has(filter)) this.filterCount++;
    set.add(filter);
    this.subscribers.clear();
  }

  unsubscribe(client: object, filter: string): void {
    const set = this.filters.get(client);
    if (set?.delete(filter)) this.filterCount--;
    this.subscribers.clear();
  }

  drop(client: object): void {
    const set = this.filters.get(client);
    if (!set) return;
    this.filterCount -= set.size;
    this.filters.delete(client);
    this.subscribers.clear();
  }

  private subscribersOf(series: string): object[] {
    let list = this.subscribers.get(series);
    if (list !== undefined) return list;
    const topic = appTopic(series);
    list = [];
    for (const [client, set] of this.filters) {
      for (const f of set) {
        if (topicMatches(f, topic)) {
          list.push(client);
          break;
        }
      }
    }
    if (this.subscribers.size >= MATCH_CACHE_MAX) this.subscribers.clear();
    this.subscribers.set(series, list);
    return list;
  }

  onCommitted(readings: readonly Reading[]): void {
    if (this.filterCount === 0) return;
    const bySeries = new Map<string, unknown[]>();
    for (const r of readings) {
      let list = bySeries.get(r.series);
      if (list === undefined) {
        if (this.subscribersOf(r.series).length === 0) continue;
        bySeries.set(r.series, (list = []));
      }
      list.push(r.unit === undefined ? { ts: r.ts, value: r.value } : { ts: r.ts, value: r.value, unit: r.unit });
    }
    for (const [series, list] of bySeries) this.deliver(this.subscribersOf(series), appTopic(series), JSON.stringify(list));
    this.published += bySeries.size;
    if (bySeries.size > 0) this.afterPublish();
  }
}
