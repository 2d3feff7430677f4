import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GATEWAY_ID,
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

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'vectors', 'identifiers', 'gateway-ids.json'), 'utf8')) as { valid: string[]; invalid: string[] };

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
