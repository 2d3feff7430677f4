import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSenml, type Logger } from '@fieldmesh/device-sdk';
import { closed, connectDevice, connectPacket, publish, rawSocket, startRig, waitFor, type Rig } from './fixture.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const T = Date.UTC(2026, 0, 1);

function count(r: Rig): number {
  return r.log.lastSeq();
}

describe('ingest broker: credentials and ACL', () => {
  it('stores a bare value from an authenticated device', async () => {
    rig = await startRig();
    const c = await connectDevice(rig, 'dev1');
    await publish(c, 'fm/d/dev1/temp', '21.5');
    const rows = rig.log.readAfter(0, 10);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ series: 'dev1/temp', value: 21.5 });
  });

  it('stores QoS 0 and QoS 2 publishes too (PUBREC, like PUBACK, after the commit)', async () => {
    rig = await startRig();
    const c = await connectDevice(rig, 'dev1');
    c.publish('fm/d/dev1/q0', '0', { qos: 0 });
    await new Promise<void>((res, rej) => c.publish('fm/d/dev1/q2', '2', { qos: 2 }, (e) => (e ? rej(e) : res())));
    // The QoS 2 handshake completed, so its reading is already committed.
    expect(rig.log.readAfter(0, 10).map((r) => r.series)).toContain('dev1/q2');
    await waitFor(() => rig!.log.lastSeq() === 2, 'both readings', 20_000);
    expect(rig.log.readAfter(0, 10).map((r) => r.series).sort()).toEqual(['dev1/q0', 'dev1/q2']);
  });

  it('refuses a wrong password, an unknown device and an anonymous client', async () => {
    rig = await startRig();
    rig.passwords.set('dev2', 'wrong');
    await expect(connectDevice(rig, 'dev2')).rejects.toThrow(/Bad username or password|Not authorized|closed/i);
    await expect(connectDevice(rig, 'ghost')).rejects.toThrow();
    await expect(connectDevice(rig, 'dev1', { username: undefined, password: undefined })).rejects.toThrow();
    expect(rig.ingest.stats.rejected.get('bad_credentials')).toBe(3);
  });

  it("refuses a client id that is not the device's own, so no device can take over another's session", async () => {
    rig = await startRig();
    const victim = await connectDevice(rig, 'dev1');
    await expect(connectDevice(rig, 'dev2', { clientId: 'dev1' })).rejects.toThrow(/Identifier rejected|closed/i);
    expect(victim.connected).toBe(true);
    const second = await connectDevice(rig, 'dev1', { clientId: 'dev1:bridge' });
    await publish(second, 'fm/d/dev1/x', '1');
    await publish(victim, 'fm/d/dev1/y', '2');
    expect(count(rig)).toBe(2);
  });

  it('lets anyone in with auth: none, as the device its client id names', async () => {
    rig = await startRig({ broker: { auth: 'none' } });
    const c = await connectDevice(rig, 'lab7', { username: undefined, password: undefined });
    await publish(c, 'fm/d/lab7/x', 'true');
    expect(rig.log.readAfter(0, 1)[0]).toMatchObject({ series: 'lab7/x', value: true });
  });

  it('refuses a publish under another device id: PUBACK, a rejection notice, nothing stored', async () => {
    rig = await startRig();
    const c = await connectDevice(rig, 'dev1');
    const notices: Array<Record<string, unknown>> = [];
    c.on('message', (_t, p) => notices.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await new Promise<void>((res, rej) => c.subscribe('fm/d/dev1/rejected', { qos: 0 }, (err) => (err ? rej(err) : res())));
    await publish(c, 'fm/d/dev2/temp', '1');
    await publish(c, 'elsewhere/x', '1');
    await waitFor(() => notices.length === 2, 'rejection notices', 20_000);
    expect(notices[0]).toMatchObject({ reason: 'forbidden_topic', code: 'FM_ERR_INGEST_FORBIDDEN', topic: 'fm/d/dev2/temp' });
    expect(count(rig)).toBe(0);
    expect(rig.ingest.stats.rejected.get('forbidden_topic')).toBe(2);
  });

  it('does not let a device subscribe to another device', async () => {
    rig = await startRig();
    const spy = await connectDevice(rig, 'dev2');
    await expect(
      new Promise<void>((res, rej) => spy.subscribe('fm/d/dev1/#', { qos: 0 }, (err) => (err ? rej(err) : res()))),
    ).rejects.toThrow(/Subscribe error/);
  });

  it('never forwards a refused publish to subscribers, only the notice', async () => {
    rig = await startRig({ broker: { auth: 'none' } });
    const anon = { username: undefined, password: undefined };
    const watcher = await connectDevice(rig, 'watcher', anon);
    const seen: Array<[string, string]> = [];
    watcher.on('message', (t, p) => seen.push([t, p.toString()]));
    await new Promise<void>((res, rej) => watcher.subscribe('#', { qos: 0 }, (err) => (err ? rej(err) : res())));
    const dev = await connectDevice(rig, 'lab1', anon);
    await publish(dev, 'fm/d/lab1/temp', '21.5C');
    await publish(dev, 'fm/d/lab1/temp', '21.5');
    await waitFor(() => seen.some(([, p]) => p === '21.5'), 'the good publish', 20_000);
    expect(seen.map(([t]) => t)).toContain('fm/d/lab1/rejected');
    expect(seen.some(([, p]) => p === '21.5C')).toBe(false);
  });
});

describe('ingest broker: socket guard', () => {
  it('closes a connection that declares a 256 MiB packet, without allocating it', async () => {
    rig = await startRig({ broker: { auth: 'none' } });
    const s = await rawSocket(rig);
    s.write(connectPacket('big1'));
    // PUBLISH, remaining length 268,435,455 (ff ff ff 7f): the largest MQTT can declare.
    const rssBefore = process.memoryUsage().rss;
    s.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x03, 0x61, 0x2f, 0x62]));
    // Keep feeding body bytes: an unguarded parser would buffer all of them.
    const chunk = Buffer.alloc(64 * 1024, 1);
    const feeder = setInterval(() => {
      if (!s.destroyed) s.write(chunk);
    }, 1);
    try {
      await closed(s);
    } finally {
      clearInterval(feeder);
    }
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(rig.ingest.stats.rejected.get('packet_too_large')).toBe(1);
    // The broker is still fine for others.
    const ok = await connectDevice(rig, 'small', { username: undefined, password: undefined });
    await publish(ok, 'fm/d/small/x', '1');
  });

  it('closes a connection that declares an oversized packet even before CONNECT, and a 5-byte length', async () => {
    rig = await startRig();
    const a = await rawSocket(rig);
    a.write(Buffer.from([0x10, 0xff, 0xff, 0x7f]));
    await closed(a);
    const b = await rawSocket(rig);
    b.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await closed(b);
    expect(rig.ingest.stats.rejected.get('packet_too_large')).toBe(2);
  });

  it('closes a connection that starts a packet and trickles it (packet timeout)', async () => {
    rig = await startRig({ broker: { auth: 'none', packetTimeoutMs: 300 } });
    const s = await rawSocket(rig);
    s.write(connectPacket('slow1'));
    s.write(Buffer.from([0x30, 0xe8, 0x07, 0x00, 0x03, 0x61])); // PUBLISH declaring 1,000 bytes, 3 sent
    const ms = await closed(s);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(rig.ingest.stats.rejected.get('slow_packet')).toBe(1);
    // Complete packets are never timed, however long the connection lives.
    const ok = await connectDevice(rig, 'fast1', { username: undefined, password: undefined });
    // A second trickler, started after `ok` connected: once its timeout fired, any timer on `ok`
    // would have fired too.
    const later = await rawSocket(rig);
    later.write(connectPacket('slow2'));
    later.write(Buffer.from([0x30, 0xe8, 0x07, 0x00, 0x03, 0x61]));
    await closed(later);
    await waitFor(() => rig!.ingest.stats.rejected.get('slow_packet') === 2, 'the second trickler timed out', 20_000);
    await publish(ok, 'fm/d/fast1/x', '1');
    expect(rig.ingest.stats.rejected.get('slow_packet')).toBe(2);
  });

  it('closes a connection that sends no CONNECT within the timeout', async () => {
    rig = await startRig({ broker: { connectTimeoutMs: 300 } });
    const s = await rawSocket(rig);
    const ms = await closed(s);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(rig.ingest.stats.rejected.get('connect_timeout')).toBe(1);
  });

  it('keeps a connection that connected in time past the connect timeout', async () => {
    rig = await startRig({ broker: { connectTimeoutMs: 300 } });
    const c = await connectDevice(rig, 'dev1');
    // A silent connection opened after `c` connected: once its connect timeout fired, `c`'s
    // would have fired too, had it been armed past CONNECT.
    const silent = await rawSocket(rig);
    await closed(silent);
    await waitFor(() => rig!.ingest.stats.rejected.get('connect_timeout') === 1, 'the silent connection timed out', 20_000);
    await publish(c, 'fm/d/dev1/x', '1');
    expect(rig.ingest.stats.rejected.get('connect_timeout')).toBe(1);
  });

  it('refuses connections beyond the cap', async () => {
    rig = await startRig({ broker: { maxConnections: 2, auth: 'none' } });
    await connectDevice(rig, 'a1', { username: undefined, password: undefined });
    await connectDevice(rig, 'a2', { username: undefined, password: undefined });
    const third = await rawSocket(rig);
    await closed(third);
    expect(rig.ingest.stats.rejected.get('too_many_connections')).toBe(1);
    expect(rig.ingest.stats.connections).toBe(2);
  });
});

describe('ingest: durability, dedupe, bad input', () => {
  it.each([true, false])('sends the PUBACK only after the reading is committed in the SQLite file (commit thread: %s)', async (commitThread) => {
    // A long group-commit window: a PUBACK sent before the commit would be caught out.
    rig = await startRig({ commitIntervalMs: 300, commitThread });
    const c = await connectDevice(rig, 'dev1');
    const reader = new Database(rig.dbFile, { readonly: true });
    try {
      for (let i = 0; i < 5; i++) {
        const seenBefore = reader.prepare('SELECT count(*) FROM readings').pluck().get() as number;
        await publish(c, 'fm/d/dev1/temp', String(i));
        const seenAfter = reader.prepare('SELECT count(*) FROM readings').pluck().get() as number;
        expect(seenAfter).toBe(seenBefore + 1);
      }
    } finally {
      reader.close();
    }
  });

  it('stores a resent SenML pack (same fm_seq) once', async () => {
    rig = await startRig();
    const c = await connectDevice(rig, 'dev1');
    const pack = encodeSenml([{ series: 'dev1/t', ts: T, value: 1 }, { series: 'dev1/h', ts: T, value: 2 }], { deviceSeq: 42 });
    await publish(c, 'fm/d/dev1/senml', pack);
    await publish(c, 'fm/d/dev1/senml', pack);
    // Both copies in flight at once (a resend racing the original) are also stored once.
    const p2 = encodeSenml([{ series: 'dev1/t', ts: T + 1, value: 3 }], { deviceSeq: 43 });
    await Promise.all([publish(c, 'fm/d/dev1/senml', p2), publish(c, 'fm/d/dev1/senml', p2)]);
    expect(count(rig)).toBe(3);
    expect(rig.ingest.stats.duplicates).toBe(2);
    // Another device may use the same numbers.
    const d = await connectDevice(rig, 'dev2');
    await publish(d, 'fm/d/dev2/senml', encodeSenml([{ series: 'dev2/t', ts: T, value: 1 }], { deviceSeq: 42 }));
    expect(count(rig)).toBe(4);
  });

  it('stores a pack that reuses an fm_seq with other content (a device that restarted its counter)', async () => {
    rig = await startRig();
    const c = await connectDevice(rig, 'dev1');
    const before = encodeSenml([{ series: 'dev1/t', ts: T, value: 1 }], { deviceSeq: 0 });
    const after = encodeSenml([{ series: 'dev1/t', ts: T + 60_000, value: 2 }], { deviceSeq: 0 });
    await publish(c, 'fm/d/dev1/senml', before);
    await publish(c, 'fm/d/dev1/senml', after);
    await publish(c, 'fm/d/dev1/senml', after); // a real resend
    expect(rig.log.readAfter(0, 10).map((r) => r.value)).toEqual([1, 2]);
    expect(rig.ingest.stats.duplicates).toBe(1);
  });

  it('refuses each kind of bad input with its reason, stores none of it, and logs once per device per interval', async () => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn(obj) {
        warnings.push(obj as Record<string, unknown>);
      },
      error() {},
      child() {
        return logger;
      },
    };
    rig = await startRig({ logger });
    const c = await connectDevice(rig, 'dev1');
    await publish(c, 'fm/d/dev1/senml', '[{"n":"x","v":1},{"n":"y","vd":"AA"}]'); // half-valid pack
    await publish(c, 'fm/d/dev1/senml', 'not json');
    await publish(c, 'fm/d/dev1/temp', '21.5C');
    await publish(c, 'fm/d/dev1/temp', '{"v":1}');
    await publish(c, 'fm/d/dev1/bad level', '1');
    await publish(c, 'fm/d/dev1/rejected', '1');
    await publish(c, 'fm/d/dev2/temp', '1');
    expect(count(rig)).toBe(0);
    expect(Object.fromEntries(rig.ingest.stats.rejected)).toEqual({ malformed_senml: 2, bad_value: 2, bad_topic: 2, forbidden_topic: 1 });
    expect(warnings.filter((w) => w.device === 'dev1')).toHaveLength(1);
    // The connection survived all of it.
    await publish(c, 'fm/d/dev1/temp', '1');
    expect(count(rig)).toBe(1);
  });

  it('when the store fails, acknowledges nothing and closes the connection so the device resends', async () => {
    rig = await startRig();
    const c = await connectDevice(rig, 'dev1');
    const append = rig.log.appendAsync.bind(rig.log);
    rig.log.appendAsync = () => Promise.reject(new Error('database or disk is full'));
    let acked = false;
    const closedConn = new Promise<void>((res) => c.once('close', () => res()));
    c.publish('fm/d/dev1/temp', '1', { qos: 1 }, (err) => {
      if (!err) acked = true;
    });
    await closedConn;
    expect(acked).toBe(false);
    expect(rig.ingest.stats.rejected.get('store_failed')).toBe(1);
    rig.log.appendAsync = append;
    const again = await connectDevice(rig, 'dev1');
    await publish(again, 'fm/d/dev1/temp', '1');
    expect(count(rig)).toBe(1);
  });

  it('commits many concurrent publishes in few transactions', async () => {
    rig = await startRig({ commitIntervalMs: 5 });
    const c = await connectDevice(rig, 'dev1');
    await Promise.all(Array.from({ length: 200 }, (_, i) => publish(c, 'fm/d/dev1/n', String(i))));
    expect(count(rig)).toBe(200);
    expect(rig.ingest.stats.commits).toBeLessThan(100);
    expect(rig.log.readAfter(0, 200).map((r) => r.value).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
