import type { RuleTransition } from './transition.js';
import type { AlertEvent } from './event.js';
import { openKey, type AlertLog } from './log.js';

/** In-memory twin of SqliteAlertLog, for logic tests; same contract (test/gateway/alerts/log.test.ts). */
export class MemoryAlertLog implements AlertLog {
  private readonly list: AlertEvent[] = [];
  private readonly openIds = new Map<string, number>();
  private seq = 0;
  private cursor = 0;
  private readonly listeners = new Set<(e: AlertEvent) => void>();

  append(t: RuleTransition, gateway: string): AlertEvent {
    const seq = ++this.seq;
    const key = openKey(t.ruleId, t.series, t.condition);
    let alertId = seq;
    if (t.type === 'raised') this.openIds.set(key, seq);
    else {
      alertId = this.openIds.get(key) ?? 0;
      this.openIds.delete(key);
    }
    const e: AlertEvent = { ...t, seq, alertId, gateway };
    this.list.push(e);
    for (const l of this.listeners) l(e);
    return e;
  }

  open(): AlertEvent[] {
    const ids = new Set(this.openIds.values());
    return this.list.filter((e) => e.type === 'raised' && ids.has(e.seq));
  }

  events(afterSeq: number, limit: number): AlertEvent[] {
    return this.list.filter((e) => e.seq > afterSeq).slice(0, limit);
  }

  pendingUpstream(limit: number): AlertEvent[] {
    return this.events(this.cursor, limit);
  }

  ackUpstream(seq: number): void {
    if (seq > this.cursor) this.cursor = Math.min(seq, this.seq);
  }

  pendingUpstreamCount(): number {
    return this.list.filter((e) => e.seq > this.cursor).length;
  }

  upstreamCursor(): number {
    return this.cursor;
  }

  onQueued(listener: (e: AlertEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  prune(beforeTs: number): number {
    const keep = new Set(this.openIds.values());
    let removed = 0;
    for (let i = this.list.length - 1; i >= 0; i--) {
      const e = this.list[i]!;
      if (e.ts < beforeTs && e.seq <= this.cursor && !keep.has(e.seq)) {
        this.list.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  close(): void {
    this.listeners.clear();
  }
}
