import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '#gateway/mesh/memory-network';
import { VirtualScheduler } from '#gateway/mesh/scheduler';
import { SeededRandom } from '#gateway/mesh/random';
import { UdpTransport } from '#gateway/mesh/udp-transport';
import type { Transport } from '#gateway/mesh/transport';
import { waitFor } from '../../wait-for.js';

/** One contract, every transport (one contract suite run against each implementation). `pump` lets time pass: virtual or real. */
interface World {
  make(): Promise<Transport>;
  pump(): Promise<void>;
  close(): Promise<void>;
}

const worlds: Array<[string, () => World]> = [
  [
    'memory',
    () => {
      const scheduler = new VirtualScheduler();
      const net = new MemoryNetwork(scheduler, new SeededRandom(1));
      let n = 0;
      return {
        make: async () => net.attach(`10.0.0.${++n}:7946`),
        pump: async () => scheduler.advance(10),
        close: async () => {},
      };
    },
  ],
  [
    'udp',
    () => {
      const made: Transport[] = [];
      return {
        make: async () => {
          const t = await UdpTransport.create({ bindHost: '127.0.0.1', port: 0 });
          made.push(t);
          return t;
        },
        pump: () => new Promise((r) => setTimeout(r, 5)),
        close: async () => {
          await Promise.all(made.map((t) => t.close()));
        },
      };
    },
  ],
];

/** Checks between pumps of the world (its time moves only when pumped). */
const until = (world: World, cond: () => boolean, what: string, deadlineMs = 10_000) => waitFor(cond, what, deadlineMs, { between: () => world.pump() });

describe.each(worlds)('Transport contract: %s', (_name, makeWorld) => {
  let world: World;
  afterEach(async () => world.close());

  it('delivers a datagram with the sender address, both ways', async () => {
    world = makeWorld();
    const a = await world.make();
    const b = await world.make();
    const atB: Array<[string, string]> = [];
    const atA: Array<[string, string]> = [];
    b.onPacket((p, from) => atB.push([p.toString(), from]));
    a.onPacket((p, from) => atA.push([p.toString(), from]));
    a.send(b.address, Buffer.from('hello'));
    await until(world, () => atB.length === 1, 'a→b');
    expect(atB[0]).toEqual(['hello', a.address]);
    b.send(atB[0]![1], Buffer.from('back'));
    await until(world, () => atA.length === 1, 'b→a');
    expect(atA[0]).toEqual(['back', b.address]);
  });

  it('carries a full 1400-byte datagram and refuses a larger one', async () => {
    world = makeWorld();
    const a = await world.make();
    const b = await world.make();
    const got: Buffer[] = [];
    b.onPacket((p) => got.push(p));
    a.send(b.address, Buffer.alloc(1400, 7));
    await until(world, () => got.length === 1, '1400-byte datagram');
    expect(got[0]!.length).toBe(1400);
    expect(() => a.send(b.address, Buffer.alloc(1401))).toThrow(/FM_ERR_MESH_MESSAGE_TOO_LARGE/);
  });

  it('never throws for an unreachable peer or after close', async () => {
    world = makeWorld();
    const a = await world.make();
    const b = await world.make();
    let got = 0;
    b.onPacket(() => got++);
    expect(() => a.send('127.0.0.1:9', Buffer.from('x'))).not.toThrow();
    await b.close();
    expect(() => a.send(b.address, Buffer.from('x'))).not.toThrow();
    await a.close();
    expect(() => a.send(b.address, Buffer.from('x'))).not.toThrow();
    for (let i = 0; i < 5; i++) await world.pump();
    expect(got).toBe(0);
  });
});

describe('MemoryNetwork faults', () => {
  function setup(seed = 7) {
    const scheduler = new VirtualScheduler();
    const net = new MemoryNetwork(scheduler, new SeededRandom(seed));
    const a = net.attach('10.0.0.1:1');
    const b = net.attach('10.0.0.2:1');
    const got: number[] = [];
    b.onPacket((p) => got.push(p[0]!));
    return { scheduler, net, a, b, got };
  }

  it('independent loss drops about the configured share, deterministically per seed', () => {
    const run = (seed: number) => {
      const { scheduler, net, a, b, got } = setup(seed);
      net.setConditions({ loss: 0.3, delayMs: 1, jitterMs: 0 });
      for (let i = 0; i < 10_000; i++) a.send(b.address, Buffer.from([i & 0xff]));
      scheduler.advance(10);
      return got;
    };
    const got = run(7);
    expect(got.length).toBeGreaterThan(6700);
    expect(got.length).toBeLessThan(7300);
    expect(run(7)).toEqual(got);
    expect(run(8)).not.toEqual(got);
  });

  it('bursty loss comes in runs', () => {
    const { scheduler, net, a, b } = setup();
    net.setConditions({ loss: 0, burst: { enter: 0.02, exit: 0.2, loss: 1 }, delayMs: 1, jitterMs: 0 });
    const seen: boolean[] = [];
    let last = -1;
    b.onPacket((p) => {
      last = p.readUInt16BE(0);
    });
    for (let i = 0; i < 5000; i++) {
      a.send(b.address, Buffer.from([i >> 8, i & 0xff]));
      scheduler.advance(2);
      seen.push(last === i);
    }
    const lost = seen.filter((x) => !x).length;
    let runs = 0;
    for (let i = 1; i < seen.length; i++) if (!seen[i] && seen[i - 1]) runs++;
    expect(lost).toBeGreaterThan(200);
    // Independent loss of the same share would give about lost × (1 − share) runs; bursts give far fewer.
    expect(lost / runs).toBeGreaterThan(3);
  });

  it('partitions cut traffic both ways and heal', () => {
    const { scheduler, net, a, b, got } = setup();
    net.partition([[a.address], [b.address]]);
    a.send(b.address, Buffer.from([1]));
    scheduler.advance(10);
    expect(got).toEqual([]);
    net.heal();
    a.send(b.address, Buffer.from([2]));
    scheduler.advance(10);
    expect(got).toEqual([2]);
    expect(net.stats.partitioned).toBe(1);
  });

  it('a stalled node runs nothing until it resumes, then its overdue timers before queued datagrams', () => {
    const { scheduler, net, a, b } = setup();
    const order: string[] = [];
    b.onPacket(() => order.push(`packet@${scheduler.monotonic()}`));
    const clock = net.clockFor(b.address);
    net.stall(b.address, 5000);
    clock.setTimeout(() => order.push(`timer@${scheduler.monotonic()}`), 1000);
    a.send(b.address, Buffer.from([1]));
    scheduler.advance(4999);
    expect(order).toEqual([]);
    expect(net.isStalled(b.address)).toBe(true);
    scheduler.advance(1);
    expect(order).toEqual(['timer@5000', 'packet@5000']);
  });
});
