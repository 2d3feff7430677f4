import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeAlertEvent, encodeAlertEvent } from '#gateway/alerts/event';
import type { AlertLog } from '#gateway/alerts/log';
import { MemoryAlertLog } from '#gateway/alerts/memory-log';
import { SqliteAlertLog } from '#gateway/alerts/sqlite-log';
import type { RuleTransition } from '#gateway/alerts/transition';

const dir = mkdtempSync(join(tmpdir(), 'fm-alertlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function t(type: 'raised' | 'cleared', series = 'boiler/temp', ts = 1000, value: number | null = 81): RuleTransition {
  return { type, ruleId: 'hot', series, severity: 'critical', condition: 'high', value, ts, reason: 'r' };
}

const impls: Array<[string, () => AlertLog]> = [
  ['memory', () => new MemoryAlertLog()],
  ['sqlite', () => new SqliteAlertLog(new Database(join(dir, `a${++n}.db`)))],
];

describe.each(impls)('AlertLog contract: %s', (_name, make) => {
  let log: AlertLog;
  beforeEach(() => {
    log = make();
  });

  it('opens on raise, closes on clear with the same alert id, keeps history in order', () => {
    const r = log.append(t('raised'), 'gw');
    const other = log.append(t('raised', 'boiler/pressure'), 'gw');
    expect(r).toMatchObject({ seq: 1, alertId: 1, gateway: 'gw', type: 'raised', value: 81 });
    expect(log.open().map((e) => e.seq)).toEqual([1, 2]);
    const c = log.append(t('cleared', 'boiler/temp', 2000, 70), 'gw');
    expect(c).toMatchObject({ seq: 3, alertId: 1, type: 'cleared', value: 70, ts: 2000 });
    expect(log.open()).toEqual([other]);
    expect(log.events(0, 10).map((e) => `${e.type}:${e.alertId}`)).toEqual(['raised:1', 'raised:2', 'cleared:1']);
    expect(log.events(1, 1).map((e) => e.seq)).toEqual([2]);
  });

  it('a clear without an open alert gets alert id 0; a null value stays null', () => {
    expect(log.append(t('cleared', 'x/y', 5, null), 'gw')).toMatchObject({ alertId: 0, value: null });
  });

  it('is an outbox: pending upstream until acked, acks never move back or past the end, listeners hear at once', () => {
    const heard: number[] = [];
    const off = log.onQueued((e) => heard.push(e.seq));
    for (let i = 0; i < 5; i++) log.append(t(i % 2 ? 'cleared' : 'raised'), 'gw');
    expect(heard).toEqual([1, 2, 3, 4, 5]);
    expect(log.pendingUpstream(3).map((e) => e.seq)).toEqual([1, 2, 3]);
    log.ackUpstream(3);
    log.ackUpstream(2);
    expect(log.upstreamCursor()).toBe(3);
    expect(log.pendingUpstream(10).map((e) => e.seq)).toEqual([4, 5]);
    expect(log.pendingUpstreamCount()).toBe(2);
    log.ackUpstream(99);
    expect(log.upstreamCursor()).toBe(5);
    off();
    log.append(t('cleared'), 'gw');
    expect(heard).toHaveLength(5);
  });

  it('prunes old events that went upstream, never open raises nor unsent ones', () => {
    log.append(t('raised', 'a/1', 100), 'gw'); // stays open
    log.append(t('raised', 'a/2', 100), 'gw');
    log.append(t('cleared', 'a/2', 200), 'gw');
    log.append(t('raised', 'a/3', 300), 'gw'); // not acked
    log.ackUpstream(3);
    expect(log.prune(1000)).toBe(2);
    expect(log.events(0, 10).map((e) => e.seq)).toEqual([1, 4]);
  });
});

describe('SqliteAlertLog on a real file', () => {
  it('keeps events, open alerts and the upstream cursor across a reopen', () => {
    const file = join(dir, 'reopen.db');
    const db = new Database(file);
    const log = new SqliteAlertLog(db);
    log.append(t('raised'), 'gw');
    log.append(t('raised', 'a/b'), 'gw');
    log.ackUpstream(1);
    db.close();
    const db2 = new Database(file);
    const again = new SqliteAlertLog(db2);
    expect(again.open().map((e) => e.series)).toEqual(['boiler/temp', 'a/b']);
    expect(again.upstreamCursor()).toBe(1);
    expect(again.append(t('cleared'), 'gw')).toMatchObject({ seq: 3, alertId: 1 });
    db2.close();
  });
});

describe('alert payload', () => {
  it('matches the documented test vector and round-trips', () => {
    const e = {
      gateway: 'gw-a',
      seq: 7,
      alertId: 7,
      type: 'raised' as const,
      ruleId: 'boiler-hot',
      series: 'boiler/temp',
      condition: 'high' as const,
      severity: 'critical' as const,
      value: 81.5,
      ts: 1767225600000,
      reason: 'value 81.5 > high 80',
    };
    const text = encodeAlertEvent(e);
    expect(text).toBe(
      '{"v":1,"gateway":"gw-a","seq":7,"alertId":7,"type":"raised","rule":"boiler-hot","series":"boiler/temp","condition":"high","severity":"critical","value":81.5,"ts":1767225600000,"reason":"value 81.5 > high 80"}',
    );
    expect(decodeAlertEvent(text)).toEqual(e);
    expect(() => decodeAlertEvent('{"v":2}')).toThrow(/version/);
  });
});
