import { spawn } from 'node:child_process';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import type { Reading } from '#device-sdk/reading';
import { formatEvent, SseParser } from '#gateway/cli/commands/tail';
import { parseTime } from '#gateway/cli/commands/query';
import { QueryApi } from '#gateway/query/api';
import { serveQuery } from '#gateway/query/http-routes';
import { LogScanRawSource } from '#gateway/query/raw-source';
import { TailHub } from '#gateway/query/tail';
import { MemoryRollupStore } from '#gateway/rollups/memory-store';
import { Rollups } from '#gateway/rollups/rollups';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { waitFor } from '../../wait-for.js';

const T0 = Date.UTC(2026, 0, 1);
const bin = fileURLToPath(new URL('../../../gateway/bin/fieldmesh.js', import.meta.url));
let server: Server;
let url: string;
let tail: TailHub;
const log = new MemoryReadingLog();
const rollups = new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0), config: { flushInterval: 0 } });

function ingest(readings: Reading[]) {
  log.append(readings);
  rollups.add(readings);
  tail.publishReadings(readings);
}

beforeAll(async () => {
  tail = new TailHub();
  const api = new QueryApi({ raw: new LogScanRawSource(log), rollups });
  server = createServer((req, res) => {
    if (!serveQuery(req, res, api, tail)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ingest(Array.from({ length: 2500 }, (_, i) => ({ series: 'a/t', ts: T0 + i * 1000, value: i % 100, unit: 'Cel' })));
});

afterAll(async () => {
  tail.close();
  await new Promise<void>((r) => server.close(() => r()));
});

function cli(args: string[], until?: (out: string) => boolean): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`fieldmesh ${args[0]} timed out; stdout so far: ${out.slice(-500)} stderr: ${err.slice(-500)}`));
    }, 45_000);
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (until?.(out)) p.kill('SIGINT');
    });
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('query API over HTTP', () => {
  it('answers JSON, 400 with the reason, 405 for other methods', async () => {
    const ok = await fetch(`${url}/api/readings?series=a/t&from=${T0}&to=${T0 + 3000}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      series: 'a/t',
      from: T0,
      to: T0 + 3000,
      readings: [0, 1, 2].map((i) => ({ ts: T0 + i * 1000, value: i, unit: 'Cel' })),
      next: null,
    });
    const bad = await fetch(`${url}/api/readings?series=a/t&from=5&to=1`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'FM_ERR_QUERY_RANGE', param: 'from' });
    expect((await fetch(`${url}/api/series`, { method: 'POST' })).status).toBe(405);
    expect(await (await fetch(`${url}/api/series`)).json()).toEqual({ series: [{ series: 'a/t', lastTs: T0 + 2_499_000, lastValue: 99, unit: 'Cel' }] });
  });

  it('tail streams readings and alerts as SSE, filtered by pattern', async () => {
    const got: Array<[string, string]> = [];
    const parser = new SseParser();
    const req = get(`${url}/api/tail?series=b/*`);
    const res = await new Promise<import('node:http').IncomingMessage>((r) => req.on('response', r));
    expect(res.headers['content-type']).toBe('text/event-stream');
    res.setEncoding('utf8');
    res.on('data', (c: string) => parser.feed(c, (e, d) => got.push([e, d])));
    await waitFor(() => tail.stats().clients >= 1, 'the tail client registered', 10_000, { everyMs: 10 });
    ingest([
      { series: 'z/t', ts: T0, value: 1 },
      { series: 'b/x', ts: T0, value: 2 },
    ]);
    tail.publishAlert({
      seq: 1, alertId: 1, gateway: 'gw', type: 'raised', ruleId: 'r', series: 'b/x', severity: 'info', condition: 'high', value: 2, ts: T0, reason: 'value 2 > high 1',
    });
    await waitFor(() => got.length >= 2, 'a reading and an alert on the tail', 10_000, { everyMs: 10 });
    req.destroy();
    expect(got.map(([e]) => e)).toEqual(['reading', 'alert']);
    expect(JSON.parse(got[0]![1])).toEqual({ series: 'b/x', ts: T0, value: 2 });
    expect(formatEvent(...got[1]!)).toBe('2026-01-01T00:00:00.000Z  ALERT RAISED [info] r b/x value 2: value 2 > high 1');
  });

  it('tail drops events for a client that does not read, counts them, and tells it once it drains', async () => {
    const hub = new TailHub({ maxBufferedBytes: 16_384 });
    const s = createServer((req, res) => void serveQuery(req, res, new QueryApi({ raw: new LogScanRawSource(log), rollups }), hub));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const req = get(`http://127.0.0.1:${(s.address() as AddressInfo).port}/api/tail`);
    const res = await new Promise<import('node:http').IncomingMessage>((r) => req.on('response', r));
    res.pause(); // a client that stopped reading
    const big = Array.from({ length: 1000 }, (_, i) => ({ series: 'slow/x', ts: T0 + i, value: 'y'.repeat(200) }));
    // Published until the hub drops for the client that does not read.
    await waitFor(() => (hub.publishReadings(big), hub.stats().dropped > 0), 'dropped events for the stalled client', 20_000, { everyMs: 5 });
    const dropped = hub.stats().dropped;
    expect(dropped).toBeGreaterThan(0);
    // Memory stays bounded: the server holds about maxBufferedBytes plus one chunk, not everything.
    const parser = new SseParser();
    let note: number | undefined;
    res.setEncoding('utf8');
    res.on('data', (c: string) => parser.feed(c, (e, d) => {
      if (e === 'dropped') note = (JSON.parse(d) as { count: number }).count;
    }));
    res.resume();
    await waitFor(() => note !== undefined, 'the dropped notice once the client reads', 20_000, { everyMs: 10 });
    expect(note).toBeGreaterThan(0);
    expect(note).toBeLessThanOrEqual(dropped);
    req.destroy();
    hub.close();
    await new Promise<void>((r) => s.close(() => r()));
  });

  it('tail refuses bad parameters and too many clients', async () => {
    expect((await fetch(`${url}/api/tail?series=nope`)).status).toBe(400);
    const small = new TailHub({ maxClients: 0 });
    const s = createServer((req, res) => void serveQuery(req, res, new QueryApi({ raw: new LogScanRawSource(log), rollups }), small));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    expect((await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/api/tail`)).status).toBe(503);
    await new Promise<void>((r) => s.close(() => r()));
  });
});

describe('SSE parsing', () => {
  it('reassembles events split at every position', () => {
    const text = ': hello\n\nevent: reading\ndata: {"a":1}\n\nevent: alert\r\ndata: x\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const got: string[] = [];
      p.feed(text.slice(0, cut), (e, d) => got.push(`${e}=${d}`));
      p.feed(text.slice(cut), (e, d) => got.push(`${e}=${d}`));
      expect(got).toEqual(['reading={"a":1}', 'alert=x']);
    }
  });
});

describe('fieldmesh query and tail (real CLI processes)', () => {
  it('query pages through raw readings and prints stepped rollups', async () => {
    const raw = await cli(['query', '--url', url, '--series', 'a/t', '--from', String(T0), '--to', String(T0 + 2_000_000), '--limit', '700']);
    expect(raw.err).toBe('');
    expect(raw.code).toBe(0);
    const lines = raw.out.trim().split('\n');
    expect(lines).toHaveLength(2000);
    // Values are right-aligned in one column, whatever their width.
    expect(lines[0]).toMatch(/^2026-01-01T00:00:00\.000Z +0 Cel$/);
    expect(lines[1999]).toMatch(/ 99 Cel$/);
    expect(new Set(lines.map((l) => l.lastIndexOf(' Cel'))).size).toBe(1);
    const stepped = await cli(['query', '--url', url, '--series', 'a/t', '--from', String(T0), '--to', String(T0 + 120_000), '--step', '60000', '--json']);
    expect(stepped.code).toBe(0);
    const body = JSON.parse(stepped.out) as { source: string; points: Array<{ count: number; min: number; max: number }> };
    expect(body.source).toBe('minute');
    expect(body.points.map((p) => [p.count, p.min, p.max])).toEqual([
      [60, 0, 59],
      [60, 0, 99],
    ]);
    const refused = await cli(['query', '--url', url, '--series', 'a/t', '--from', '10', '--to', '1']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('FM_ERR_QUERY_RANGE');
  });

  it('tail prints live events until interrupted', async () => {
    const before = tail.stats().clients;
    const run = cli(['tail', '--url', url, '--series', 'c/*'], (out) => out.includes('c/live'));
    await waitFor(() => tail.stats().clients > before, 'the CLI tail connected', 30_000);
    ingest([{ series: 'c/live', ts: T0, value: 42, unit: 'W' }]);
    const r = await run;
    expect(r.out).toContain('2026-01-01T00:00:00.000Z  c/live = 42 W');
    expect(r.code).toBe(0);
  });

  it('parses CLI times', () => {
    expect(parseTime('1700000000000', 'from')).toBe(1_700_000_000_000);
    expect(parseTime('2026-01-01T00:00:00Z', 'from')).toBe(T0);
    expect(parseTime('now-2h', 'from', T0)).toBe(T0 - 7_200_000);
    expect(() => parseTime('yesterday', 'from')).toThrow(/--from/);
  });
});
