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

export interface FeedPublisher {
  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }): void;
}

/** Series whose subscribed-or-not answer is kept; past this the cache starts over (memory stays flat). */
const MATCH_CACHE_MAX = 10_000;

/**
 * Committed readings as `fm/r/<series>` messages for local apps (INGEST.md §Apps): one message per
 * reading, `{"ts":…,"value":…,"unit":…}`, QoS 0, not retained. Built only for series some app
 * subscribed to, so with no app connected the commit path pays one Map lookup per commit.
 */
export class ReadingFeed {
  private readonly filters = new Map<object, Set<string>>();
  private filterCount = 0;
  private readonly wanted = new Map<string, boolean>();
  published = 0;

  constructor(
    private readonly out: FeedPublisher,
    /** Called after a commit's messages went out (the broker cuts apps that stopped reading). */
    private readonly afterPublish: () => void = () => {},
  ) {}

  subscribe(client: object, filter: string): void {
    let set = this.filters.get(client);
    if (!set) this.filters.set(client, (set = new Set()));
    if (!set.has(filter)) this.filterCount++;
    set.add(filter);
    this.wanted.clear();
  }

  unsubscribe(client: object, filter: string): void {
    const set = this.filters.get(client);
    if (set?.delete(filter)) this.filterCount--;
    this.wanted.clear();
  }

  drop(client: object): void {
    const set = this.filters.get(client);
    if (!set) return;
    this.filterCount -= set.size;
    this.filters.delete(client);
    this.wanted.clear();
  }

  private isWanted(series: string): boolean {
    let w = this.wanted.get(series);
    if (w !== undefined) return w;
    const topic = appTopic(series);
    w = false;
    for (const set of this.filters.values()) {
      for (const f of set) if (topicMatches(f, topic)) w = true;
      if (w) break;
    }
    if (this.wanted.size >= MATCH_CACHE_MAX) this.wanted.clear();
    this.wanted.set(series, w);
    return w;
  }

  onCommitted(readings: readonly Reading[]): void {
    if (this.filterCount === 0) return;
    let sent = 0;
    for (const r of readings) {
      if (!this.isWanted(r.series)) continue;
      const body = r.unit === undefined ? { ts: r.ts, value: r.value } : { ts: r.ts, value: r.value, unit: r.unit };
      this.out.publish(appTopic(r.series), JSON.stringify(body), { qos: 0, retain: false });
      sent++;
    }
    this.published += sent;
    if (sent > 0) this.afterPublish();
  }
}
