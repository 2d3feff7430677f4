import { describe, expect, it } from 'vitest';
import {
  encodeDesired,
  encodeReported,
  fleetTopics,
  generateReleaseKey,
  MAX_DESIRED_BYTES,
  parseDesired,
  parseReported,
  signArtifact,
  type ReportedState,
} from '@fieldmesh/protocol';

const key = generateReleaseKey();
const release = signArtifact({ kind: 'release', version: '1.2.0', sha256: 'ab'.repeat(32), bytes: 5, commit: 'c', machine: 'x86_64', nodeAbi: '115', createdAt: new Date(0).toISOString() }, key);
const reported = (over: Partial<ReportedState> = {}): ReportedState => ({
  format: 1, gateway: 'gw-a', at: new Date(0).toISOString(), tags: ['north'], running: { version: '1.1.0', configRevision: null }, desiredSerial: 3, refused: [], ...over,
});

describe('fleet messages (FLEET-FORMAT.md §3)', () => {
  it('names per-gateway topics under fm/g/<gateway>/fleet/', () => {
    expect(fleetTopics.desired('gw-a')).toBe('fm/g/gw-a/fleet/desired');
    expect(fleetTopics.reported('gw-a')).toBe('fm/g/gw-a/fleet/reported');
  });

  it('round-trips desired state and passes artifacts on untouched', () => {
    const d = { format: 1 as const, gateway: 'gw-a', serial: 4, release, bundlePath: '/api/fleet/releases/1.2.0/bundle' };
    const p = parseDesired(encodeDesired(d));
    expect(p).toEqual({ ok: true, value: d });
  });

  it('refuses hostile desired state with a reason, never throwing', () => {
    const bad: Array<string | Buffer> = [
      '', 'null', '[]', '{"format":2,"gateway":"gw-a","serial":1}', '{"format":1,"gateway":"../x","serial":1}',
      '{"format":1,"gateway":"gw-a","serial":-1}', '{"format":1,"gateway":"gw-a","serial":1,"release":"x"}',
      JSON.stringify({ format: 1, gateway: 'gw-a', serial: 1, release }),
      JSON.stringify({ format: 1, gateway: 'gw-a', serial: 1, release, bundlePath: 'http://evil/x' }),
      JSON.stringify({ format: 1, gateway: 'gw-a', serial: 1, release, bundlePath: '/api/fleet/releases/../../etc/bundle' }),
      Buffer.alloc(MAX_DESIRED_BYTES + 1, 0x20), Buffer.from([0xff, 0xfe, 0x00]),
    ];
    for (const b of bad) {
      const p = parseDesired(b);
      expect(p.ok, String(b).slice(0, 80)).toBe(false);
      if (!p.ok) expect(p.why.length).toBeGreaterThan(3);
    }
  });

  it('round-trips reported state, keeps the newest 10 refusals, refuses hostile shapes', () => {
    const refused = Array.from({ length: 14 }, (_, i) => ({ kind: 'release' as const, target: `1.0.${i}`, reason: 'downgrade' as const, at: new Date(i).toISOString(), why: 'older' }));
    const r = reported({ refused, update: { kind: 'release', target: '1.2.0', step: 'fetch', outcome: 'in-progress', at: new Date(0).toISOString(), bytes: 100 } });
    const p = parseReported(encodeReported(r));
    expect(p.ok).toBe(true);
    if (p.ok) expect(p.value.refused.map((x) => x.target)).toEqual(refused.slice(4).map((x) => x.target));
    for (const over of [{ tags: ['a b'] }, { tags: Array(33).fill('t') }, { running: { version: 1 } }, { desiredSerial: 'x' },
      { update: { kind: 'firmware', target: 1, step: 'fetch', outcome: 'adopted', at: 'x' } }, { update: { kind: 'release', target: '1', step: 'dance', outcome: 'adopted', at: 'x' } },
      { refused: [{ kind: 'release', target: 'x', reason: 'because', at: 'x', why: 'y' }] }]) {
      expect(parseReported(JSON.stringify({ ...reported(), ...over })).ok, JSON.stringify(over)).toBe(false);
    }
    expect(parseReported(Buffer.alloc(20_000, 0x20)).ok).toBe(false);
  });
});
