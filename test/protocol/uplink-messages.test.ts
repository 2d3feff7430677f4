import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, decodeAck, encodeAck, parseUplinkTopic, uplinkTopics, type AckMessage } from '@fieldmesh/protocol';

describe('uplink messages', () => {
  it('acks and nacks round-trip', () => {
    const msgs: AckMessage[] = [
      { v: 1, ok: true, epoch: 'e', firstSeq: 1, lastSeq: 9, stored: 9, duplicates: 0 },
      { v: 1, ok: false, epoch: 'e', firstSeq: 1, lastSeq: 9, code: 'FM_ERR_BATCH_CHECKSUM', reason: 'CRC' },
      { v: 1, ok: false, code: 'FM_ERR_BATCH_MAGIC', reason: 'x' },
    ];
    for (const m of msgs) expect(decodeAck(encodeAck(m))).toEqual(m);
  });

  it('any payload on the ack topic decodes or gives FM_ERR_ACK_MALFORMED, never another exception', () => {
    const jsonish = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      fc
        .record({ v: fc.constantFrom(1, 2, '1'), ok: fc.constantFrom(true, false, 'yes'), epoch: fc.oneof(fc.string(), fc.integer()), firstSeq: fc.oneof(fc.integer(), fc.double(), fc.string()), lastSeq: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] })
        .map((o) => Buffer.from(JSON.stringify(o))),
    );
    fc.assert(
      fc.property(jsonish, (payload) => {
        try {
          const ack = decodeAck(payload);
          if (ack.ok) expect(ack.lastSeq).toBeGreaterThanOrEqual(ack.firstSeq);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
          expect((err as ProtocolError).code).toBe('FM_ERR_ACK_MALFORMED');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parses only fm/g/<gateway>/<kind>', () => {
    expect(parseUplinkTopic(uplinkTopics.batch('gw-a'))).toEqual({ gatewayId: 'gw-a', kind: 'batch' });
    for (const t of ['fm/g/gw-a', 'fm/g//batch', 'fm/d/x/batch', 'fm/g/a/b/c', '']) expect(parseUplinkTopic(t)).toBeNull();
  });
});
