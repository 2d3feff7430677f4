import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetTopics, relayTopics, uplinkTopics } from '@fieldmesh/protocol';
import { routeOf, TopicRouter, type UplinkHandlers } from '#cloud-bridge/bridge/topic-router';
import { uplinkHandlers } from '#cloud-bridge/bridge/uplink-handlers';

function recording(): { calls: string[]; handlers: Required<UplinkHandlers> } {
  const calls: string[] = [];
  return {
    calls,
    handlers: {
      batch: (gw, p) => calls.push(`batch ${gw} ${p.toString()}`),
      relayBatch: (origin, relay, p) => calls.push(`relayBatch ${origin} via ${relay} ${p.toString()}`),
      status: (gw, p, connectedNow) => calls.push(`status ${gw} ${p.toString()} ${connectedNow}`),
      alert: (gw, p) => calls.push(`alert ${gw} ${p.toString()}`),
      alerts: (gw, p) => calls.push(`alerts ${gw} ${p.toString()}`),
      fleetReported: (gw, p) => calls.push(`fleetReported ${gw} ${p.toString()}`),
    },
  };
}

const b = (s: string) => Buffer.from(s);

describe('TopicRouter: one handler per message kind', () => {
  it('routes each kind a gateway publishes to its handler, and nothing else', () => {
    const { calls, handlers } = recording();
    const router = new TopicRouter(handlers);
    expect(router.dispatch(uplinkTopics.batch('gw-a'), b('1'))).toBe('batch');
    expect(router.dispatch(relayTopics.batch('gw-b', 'gw-a'), b('2'))).toBe('relayBatch');
    expect(router.dispatch(uplinkTopics.status('gw-a'), b('3'))).toBe('status');
    expect(router.dispatch('fm/g/gw-a/alert', b('4'))).toBe('alert');
    expect(router.dispatch(uplinkTopics.alerts('gw-a'), b('5'))).toBe('alerts');
    expect(router.dispatch(fleetTopics.reported('gw-a'), b('6'))).toBe('fleetReported');
    for (const t of [fleetTopics.desired('gw-a'), 'fm/g/gw-a/fleet/reported/x', 'fm/g/gw-a/fleet', uplinkTopics.ack('gw-a'), relayTopics.ack('gw-b', 'gw-a'), 'fm/g/gw-a/other', 'fm/g//batch', 'fm/d/dev/senml', 'fm/g/gw-a/batch/x', '']) {
      expect(router.dispatch(t, b('x')), t).toBeNull();
    }
    expect(calls).toEqual(['batch gw-a 1', 'relayBatch gw-a via gw-b 2', 'status gw-a 3 false', 'alert gw-a 4', 'alerts gw-a 5', 'fleetReported gw-a 6']);
  });

  it('with a publisher (embedded broker), takes a message only from the gateway its topic names', () => {
    const { calls, handlers } = recording();
    const router = new TopicRouter(handlers);
    expect(router.dispatch(uplinkTopics.batch('gw-a'), b('1'), { gatewayId: 'gw-b', newerConnection: false })).toBeNull();
    expect(router.dispatch(uplinkTopics.batch('gw-a'), b('1'), { gatewayId: undefined, newerConnection: false })).toBeNull();
    // A relayed batch is published by the relay, under its own identity.
    expect(router.dispatch(relayTopics.batch('gw-b', 'gw-a'), b('2'), { gatewayId: 'gw-a', newerConnection: false })).toBeNull();
    expect(router.dispatch(relayTopics.batch('gw-b', 'gw-a'), b('2'), { gatewayId: 'gw-b', newerConnection: false })).toBe('relayBatch');
    expect(router.dispatch(uplinkTopics.status('gw-a'), b('3'), { gatewayId: 'gw-a', newerConnection: true })).toBe('status');
    expect(router.dispatch(fleetTopics.reported('gw-a'), b('4'), { gatewayId: 'gw-b', newerConnection: false })).toBeNull();
    expect(calls).toEqual(['relayBatch gw-a via gw-b 2', 'status gw-a 3 true']);
  });

  it('ignores a kind its root has no handler for', () => {
    const router = new TopicRouter({ batch: () => {} });
    expect(router.dispatch(relayTopics.batch('gw-b', 'gw-a'), b('2'))).toBeNull();
    expect(router.dispatch(uplinkTopics.alerts('gw-a'), b('2'))).toBeNull();
    expect(routeOf(relayTopics.batch('gw-b', 'gw-a'))).toEqual({ kind: 'relayBatch', gatewayId: 'gw-a', publisherId: 'gw-b' });
  });

  it('the shared handlers commit a relayed batch under its origin, acked via the relay, and log a failed presence update', async () => {
    const received: unknown[] = [];
    const paths: string[] = [];
    const errors: string[] = [];
    let failStatus: () => void = () => {};
    const statusFailed = new Promise<void>((resolve) => (failStatus = resolve));
    const handlers = uplinkHandlers({
      receiver: { receive: (gw, payload, via) => received.push([gw, payload.toString(), via]) },
      alertReceiver: { receive: async () => {} },
      presence: { status: async () => Promise.reject(new Error('db down')) },
      live: { alertMessage: () => {} },
      relayed: { direct: (gw) => paths.push(`direct ${gw}`), relayed: (origin, relay) => paths.push(`relayed ${origin} via ${relay}`) },
      logger: { error: (o: { err: string }) => (errors.push(o.err), failStatus()), warn: () => {}, info: () => {}, debug: () => {}, child: () => { throw new Error('unused'); } } as never,
    });
    const router = new TopicRouter(handlers);
    router.dispatch(uplinkTopics.batch('gw-a'), b('1'));
    router.dispatch(relayTopics.batch('gw-b', 'gw-a'), b('2'));
    router.dispatch(uplinkTopics.status('gw-a'), b('{}'));
    await statusFailed;
    expect(received).toEqual([['gw-a', '1', undefined], ['gw-a', '2', 'gw-b']]);
    expect(paths).toEqual(['direct gw-a', 'relayed gw-a via gw-b']);
    expect(errors).toEqual(['db down']);
    // Without a relay path (the external-broker root), relayed batches are not taken.
    const external = new TopicRouter(uplinkHandlers({ receiver: { receive: () => {} }, alertReceiver: { receive: () => {} }, presence: { status: async () => {} }, live: { alertMessage: () => {} }, logger: {} as never }));
    expect(external.dispatch(relayTopics.batch('gw-b', 'gw-a'), b('2'))).toBeNull();
  });

  it('both roots route through it, and neither parses uplink topics itself', () => {
    const root = join(import.meta.dirname, '../../cloud-bridge/src');
    for (const f of ['cloud-bridge.ts', 'external-broker/external-cloud-bridge.ts']) {
      const src = readFileSync(join(root, f), 'utf8');
      expect(src, f).toMatch(/new TopicRouter\(\s*uplinkHandlers\(/);
    }
    for (const f of ['cloud-bridge.ts', 'external-broker/external-cloud-bridge.ts', 'external-broker/external-broker-link.ts']) {
      expect(readFileSync(join(root, f), 'utf8'), f).not.toMatch(/parse(Uplink|Relay)Topic/);
    }
  });
});
