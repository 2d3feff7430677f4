import { describe, expect, it } from 'vitest';
import { Simulation } from '#gateway/mesh/simulator';
import { meshTuning } from '#gateway/mesh/config';
import { Seal } from '#gateway/mesh/seal';
import { KeyRing } from '#gateway/mesh/keyring';
import { SeededRandom } from '#gateway/mesh/random';
import { encodeMessage, encodeCompound } from '#gateway/mesh/codec';
import { decodeMessage } from '#gateway/mesh/codec';
import { CodecError } from '#gateway/mesh/bytes';

/** A peer that holds the key but sends garbage: members count it and keep working. */
describe('hostile authenticated peer', () => {
  it('random and mutated payloads are dropped and counted; the mesh stays converged', () => {
    const sim = new Simulation({ seed: 21, size: 8, tuning: meshTuning('lan') });
    sim.run(3000);
    const evil = sim.network.attach('10.66.0.1:7946');
    const random = new SeededRandom(5);
    const seal = new Seal({ keyring: new KeyRing([sim.key]), label: 'sim', clock: sim.scheduler, random, replayWindowMs: 60_000 });
    const valid = [
      encodeMessage({ type: 'alive', incarnation: 1, node: 'gw-1', addr: '10.0.0.1:1', meta: Buffer.alloc(3) }),
      encodeMessage({ type: 'push-pull', join: true, reply: false, entries: [{ node: 'x', addr: '1.2.3.4:5', incarnation: 1, state: 'dead', meta: Buffer.alloc(0) }] }),
      encodeCompound([encodeMessage({ type: 'ack', seq: 1 }), encodeMessage({ type: 'nack', seq: 2 })]),
    ];
    for (let i = 0; i < 3000; i++) {
      let payload: Buffer;
      if (i % 3 === 0) payload = Buffer.from(Array.from({ length: 1 + Math.floor(random.next() * 300) }, () => Math.floor(random.next() * 256)));
      else {
        payload = Buffer.from(valid[i % valid.length]!);
        payload[Math.floor(random.next() * payload.length)] = Math.floor(random.next() * 256);
      }
      evil.send(sim.nodes[i % 8]!.address, seal.seal(payload));
      if (i % 100 === 0) sim.run(50);
    }
    sim.run(30_000);
    const malformed = sim.nodes.reduce((n, x) => n + x.metrics.dropped.malformed, 0);
    expect(malformed).toBeGreaterThan(1000);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) if (i !== j) expect(sim.view(i, j)!.state).toBe('alive');
  });

  it('an accusation (suspect, dead) at the reserved incarnation 0xFFFFFFFF does not decode', () => {
    const buf = encodeMessage({ type: 'suspect', incarnation: 0xfffffffe, node: 'a', from: 'b' });
    expect(decodeMessage(buf)).toMatchObject({ incarnation: 0xfffffffe });
    buf.writeUInt32BE(0xffffffff, 1);
    expect(() => decodeMessage(buf)).toThrow(CodecError);
  });

  it('a member accused at the highest valid incarnation refutes within u32', () => {
    const sim = new Simulation({ seed: 22, size: 4, tuning: meshTuning('lan') });
    sim.run(2000);
    sim.nodes[1]!.membership.suspect({ type: 'suspect', incarnation: 0xfffffffe, node: Simulation.id(1), from: Simulation.id(0) });
    expect(sim.nodes[1]!.membership.self.incarnation).toBe(0xffffffff);
    sim.run(10_000);
    for (const i of [0, 2, 3]) expect(sim.view(i, 1)!).toMatchObject({ state: 'alive', incarnation: 0xffffffff });
    expect(decodeMessage(encodeMessage({ type: 'alive', incarnation: 0xffffffff, node: 'a', addr: '1.2.3.4:5', meta: Buffer.alloc(0) }))).toMatchObject({ incarnation: 0xffffffff });
  });
});
