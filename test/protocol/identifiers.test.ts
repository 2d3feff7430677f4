import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EPOCH,
  GATEWAY_ID,
  ProtocolError,
  decodeAck,
  decodeBatch,
  decodeBatchHeader,
  encodeAck,
  encodeBatch,
  isEpoch,
  GROUP_TAG,
  isGatewayId,
  isGroupTag,
  parseRelayTopic,
  parseReported,
  parseUplinkTopic,
  encodeReported,
  relayTopics,
  uplinkTopics,
} from '@fieldmesh/protocol';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { scratchDirs } from '../scratch-dirs.js';

const vectorFile = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'vectors', 'identifiers', name), 'utf8')) as { valid: string[]; invalid: string[] };
const vectors = vectorFile('gateway-ids.json');
const epochs = vectorFile('epochs.json');

/** What the grammar is for (FORMAT.md §1.1), stated independently of the pattern. */
function safeEverywhere(id: string): boolean {
  return (
    id.length >= 1 &&
    Buffer.byteLength(id) <= 64 &&
    !/[+#/\0]/.test(id) && // an MQTT topic level
    encodeURIComponent(id) === id && // an HTTP path segment and query value, unescaped
    id !== '.' &&
    id !== '..' &&
    !id.startsWith('.') && // a file name, not hidden
    !id.startsWith('-') // an argument, not a flag
  );
}

describe('gateway ids and group tags (FORMAT.md §1.1)', () => {
  it('accepts every valid vector and refuses every invalid one, as an id and as a tag', () => {
    expect(vectors.valid.length).toBeGreaterThan(10);
    expect(vectors.invalid.length).toBeGreaterThan(20);
    for (const v of vectors.valid) {
      expect([isGatewayId(v), isGroupTag(v), GATEWAY_ID.test(v), GROUP_TAG.test(v)], JSON.stringify(v)).toEqual([true, true, true, true]);
    }
    for (const v of vectors.invalid) {
      expect([isGatewayId(v), isGroupTag(v), GATEWAY_ID.test(v), GROUP_TAG.test(v)], JSON.stringify(v)).toEqual([false, false, false, false]);
    }
  });

  it('holds the 64-character bound exactly', () => {
    expect(vectors.valid.some((v) => v.length === 64)).toBe(true);
    expect(vectors.invalid.some((v) => v.length === 65 && isGatewayId(v.slice(0, 64)))).toBe(true);
  });

  it('refuses what is not a string', () => {
    for (const v of [undefined, null, 7, ['gw-a'], { id: 'gw-a' }]) expect([isGatewayId(v), isGroupTag(v)]).toEqual([false, false]);
  });

  it('accepts only ids safe as a topic level, a path segment, a file name and an argument', () => {
    const alphabet = fc.constantFrom(...'aZ09._-+#/ \0~:@%é'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 70 }), (s) => {
        if (isGatewayId(s)) expect(safeEverywhere(s), JSON.stringify(s)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('is what the topic parsers accept as a gateway level', () => {
    expect(parseUplinkTopic(uplinkTopics.batch('gw-a'))).toEqual({ gatewayId: 'gw-a', kind: 'batch' });
    for (const id of ['.x', '-x', '_x', 'a'.repeat(65)]) expect(parseUplinkTopic(`fm/g/${id}/batch`), id).toBeNull();
    expect(parseRelayTopic(relayTopics.batch('gw-b', 'gw-a'))).toEqual({ relayId: 'gw-b', originId: 'gw-a', kind: 'batch' });
    expect(parseRelayTopic('fm/g/gw-b/relay/.x/batch')).toBeNull();
    expect(parseRelayTopic('fm/g/-b/relay/gw-a/batch')).toBeNull();
  });

  it('is what a reported state is checked against, for its gateway and its tags', () => {
    const reported = (gateway: string, tags: string[]) =>
      parseReported(encodeReported({ format: 1, gateway, at: new Date(0).toISOString(), tags, running: { version: '1.1.0', configRevision: null }, desiredSerial: null, refused: [] }));
    expect(reported('gw-a', ['north', 'site.1']).ok).toBe(true);
    expect(reported('-gw', ['north'])).toMatchObject({ ok: false, why: 'gateway is not a gateway id' });
    expect(reported('gw-a', ['.north'])).toMatchObject({ ok: false, why: expect.stringContaining('tags is not a list') });
  });
});

/** Where an epoch stands (FORMAT.md §3.2), stated independently of the pattern. */
function safeAsEpoch(e: string): boolean {
  return (
    e.length >= 1 &&
    Buffer.byteLength(e) <= 64 && // the batch header's bound
    !e.includes('~') && // the cloud's ts~gateway~epoch~seq cursor
    !e.includes('/') && // the replica keeper's origin/epoch/seq keys
    encodeURIComponent(e) === e // an HTTP query value, unescaped
  );
}

const refusal = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `not a ProtocolError: ${String(err)}`;
  }
};

describe('epochs (FORMAT.md §3.2)', () => {
  const scratch = scratchDirs('fm-epoch-');
  const reading = { seq: 1, series: 'boiler/temp', ts: 1_767_225_600_000, value: 81.5, unit: 'Cel' };

  it('accepts every valid vector and refuses every invalid one', () => {
    expect(epochs.valid.length).toBeGreaterThan(10);
    expect(epochs.invalid.length).toBeGreaterThan(15);
    for (const v of epochs.valid) expect([isEpoch(v), EPOCH.test(v)], JSON.stringify(v)).toEqual([true, true]);
    for (const v of epochs.invalid) expect([isEpoch(v), EPOCH.test(v)], JSON.stringify(v)).toEqual([false, false]);
    expect(epochs.valid.some((v) => v.length === 64)).toBe(true);
    expect(epochs.invalid.some((v) => v.length === 65 && isEpoch(v.slice(0, 64)))).toBe(true);
    for (const v of [undefined, null, 7, ['e'], { epoch: 'e' }]) expect(isEpoch(v)).toBe(false);
  });

  it('accepts only epochs safe in a cursor, a relay key and a query value', () => {
    const alphabet = fc.constantFrom(...'aZ09._-~/ +#%:é\0'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 70 }), (s) => {
        if (isEpoch(s)) expect(safeAsEpoch(s), JSON.stringify(s)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every epoch a gateway makes, in memory and in its database', () => {
    const made: string[] = [];
    for (let i = 0; i < 20; i++) made.push(new MemoryReadingLog().epoch);
    for (let i = 0; i < 3; i++) {
      const log = new SqliteReadingLog(join(scratch.fresh(), 'gateway.db'));
      made.push(log.epoch);
      log.close();
    }
    for (const e of made) expect(isEpoch(e), e).toBe(true);
    expect(new Set(made).size).toBe(made.length);
  });

  it('is what the batch decoder accepts in a header (FM_ERR_BATCH_MALFORMED)', () => {
    for (const v of epochs.valid) {
      const bytes = encodeBatch({ gatewayId: 'gw-a', epoch: v, readings: [reading] });
      expect([decodeBatchHeader(bytes).epoch, decodeBatch(bytes).epoch]).toEqual([v, v]);
    }
    // The encoder bounds only the length, so a hostile frame is easy to make; past 64 bytes the header's text bound refuses it.
    for (const v of epochs.invalid) {
      const bytes = Buffer.byteLength(v) <= 64 ? encodeBatch({ gatewayId: 'gw-a', epoch: v, readings: [reading] }) : null;
      if (bytes === null) continue;
      expect([refusal(() => decodeBatchHeader(bytes)), refusal(() => decodeBatch(bytes))], JSON.stringify(v)).toEqual(['FM_ERR_BATCH_MALFORMED', 'FM_ERR_BATCH_MALFORMED']);
    }
    expect(() => decodeBatch(encodeBatch({ gatewayId: 'gw-a', epoch: 'a~b', readings: [reading] }))).toThrow(/epoch "a~b" is not 1-64 of letters, digits/);
  });

  it('is what the ack decoder accepts in an ack and a nack (FM_ERR_ACK_MALFORMED)', () => {
    const ack = (epoch: unknown) => Buffer.from(JSON.stringify({ v: 1, ok: true, epoch, firstSeq: 1, lastSeq: 2, stored: 2, duplicates: 0 }));
    const nack = (epoch: unknown) => Buffer.from(JSON.stringify({ v: 1, ok: false, epoch, firstSeq: 1, lastSeq: 2, code: 'FM_ERR_BATCH_MALFORMED', reason: 'x' }));
    for (const v of epochs.valid) {
      expect(decodeAck(ack(v))).toMatchObject({ ok: true, epoch: v });
      expect(decodeAck(nack(v))).toMatchObject({ ok: false, epoch: v });
    }
    for (const v of [...epochs.invalid, 7, null]) {
      expect([refusal(() => decodeAck(ack(v))), refusal(() => decodeAck(nack(v)))], JSON.stringify(v)).toEqual(['FM_ERR_ACK_MALFORMED', 'FM_ERR_ACK_MALFORMED']);
    }
    // A nack of a batch whose header could not be read names no epoch, and stays readable.
    expect(decodeAck(encodeAck({ v: 1, ok: false, code: 'FM_ERR_BATCH_CHECKSUM', reason: 'CRC-32 mismatch' }))).toEqual({ v: 1, ok: false, code: 'FM_ERR_BATCH_CHECKSUM', reason: 'CRC-32 mismatch' });
  });
});
