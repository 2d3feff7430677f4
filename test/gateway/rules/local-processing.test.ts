import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import { decodeAlertEvent } from '#gateway/alerts/event';
import { LocalProcessing } from '#gateway/local-processing';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';

const dir = mkdtempSync(join(tmpdir(), 'fm-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 0, 1);

describe('LocalProcessing across a restart (real SQLite file)', () => {
  it('keeps open alerts open (no second raise), rollups and latest values, and the upstream queue', () => {
    const file = join(dir, 'gateway.db');
    const log = new SqliteReadingLog(file);
    const published: string[] = [];
    const make = (clock: ManualClock) =>
      new LocalProcessing({
        gatewayId: 'gw',
        dbFile: file,
        rules: [
          { id: 'hot', kind: 'threshold', series: 'a/t', high: 10 },
          { id: 'db', kind: 'deadband', series: 'a/*', band: 5 },
        ],
        publish: (topic, payload) => published.push(`${topic} ${decodeAlertEvent(payload).type}`),
        clock,
      });
    const feed = (lp: LocalProcessing, ts: number, value: number) => {
      const r = [{ series: 'a/t', ts, value }];
      log.append(r);
      return [...lp.onCommitted(r)];
    };
    const clock = new ManualClock(T0);
    const first = make(clock);
    first.start();
    expect(feed(first, T0, 20)).toEqual([true]);
    expect(feed(first, T0 + 1000, 22)).toEqual([false]); // within the deadband
    first.stop();

    const second = make(new ManualClock(T0 + 5000));
    second.start();
    expect(feed(second, T0 + 2000, 30)).toEqual([true]);
    expect(published).toEqual(['fm/alerts/gw/hot/a/t raised']);
    feed(second, T0 + 3000, 5);
    expect(published).toEqual(['fm/alerts/gw/hot/a/t raised', 'fm/alerts/gw/hot/a/t cleared']);
    const events = second.alertOutbox.pendingUpstream(10);
    expect(events.map((e) => [e.type, e.alertId])).toEqual([
      ['raised', 1],
      ['cleared', 1],
    ]);
    const history = second.api.handle('/api/alerts', new URLSearchParams('after=0&limit=1'))!.body as { events: Array<{ type: string }>; next: number };
    expect(history.events.map((e) => e.type)).toEqual(['raised']);
    const rest = second.api.handle('/api/alerts', new URLSearchParams(`after=${history.next}`))!.body as { events: Array<{ type: string }>; next: null };
    expect([rest.events.map((e) => e.type), rest.next]).toEqual([['cleared'], null]);
    expect(second.api.handle('/api/alerts', new URLSearchParams('after=x'))!.status).toBe(400);
    const out = second.api.handle('/api/readings', new URLSearchParams(`series=a/t&from=${T0}&to=${T0 + 60_000}&step=60000`))!;
    expect(out.body).toMatchObject({ source: 'minute', points: [{ count: 4, min: 5, max: 30, last: 5 }] });
    expect(second.api.handle('/api/latest', new URLSearchParams('series=a/t'))!.body).toEqual({ series: 'a/t', ts: T0 + 3000, value: 5 });
    const raw = second.api.handle('/api/readings', new URLSearchParams(`series=a/t&from=${T0}&to=${T0 + 60_000}&limit=2`))!.body as { readings: unknown[]; next: string };
    expect(raw.readings).toHaveLength(2);
    expect(raw.next).toBeTruthy();
    second.stop();
    log.close();
  });

  it('refuses invalid rules at construction and closes its connection', () => {
    const file = join(dir, 'bad.db');
    const log = new SqliteReadingLog(file);
    expect(
      () => new LocalProcessing({ gatewayId: 'gw', dbFile: file, rules: [{ id: 'x', kind: 'nope', series: 'a/b' }], publish: () => {} }),
    ).toThrow(expect.objectContaining({ code: 'FM_ERR_RULE_BAD_KIND' }));
    log.close();
  });
});
