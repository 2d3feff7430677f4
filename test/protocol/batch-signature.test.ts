import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchSigner, checkBatchSignature, decodeBatch, encodeBatch, generateOriginKey, originPublicKey, type WireReading } from '@fieldmesh/protocol';

const vector = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../protocol/vectors/signed/v1-signed.json'), 'utf8')) as {
  gatewayId: string;
  epoch: string;
  signingKey: string;
  publicKey: string;
  readings: WireReading[];
  hex: string;
};

describe('origin signatures on batches (FORMAT.md §3.1)', () => {
  it('replays the signed vector byte for byte (Ed25519 is deterministic) and it verifies and decodes', () => {
    const s = batchSigner(vector.signingKey);
    expect(s.publicKey).toBe(vector.publicKey);
    const bytes = encodeBatch({ gatewayId: vector.gatewayId, epoch: vector.epoch, readings: vector.readings }, s.sign);
    expect(bytes.toString('hex')).toBe(vector.hex);
    expect(checkBatchSignature(bytes, originPublicKey(vector.publicKey))).toBe('valid');
    expect(decodeBatch(bytes).readings).toEqual(vector.readings);
  });

  it('tells unsigned, signed by another key, altered and truncated batches apart, never throwing', () => {
    const a = generateOriginKey();
    const b = generateOriginKey();
    const readings: WireReading[] = Array.from({ length: 50 }, (_, i) => ({ seq: i + 1, series: 'd/x', ts: 1e12 + i, value: i }));
    const signed = encodeBatch({ gatewayId: 'gw', epoch: 'e', readings }, batchSigner(a.signingKey).sign);
    const keyA = originPublicKey(a.publicKey);
    expect(checkBatchSignature(signed, keyA)).toBe('valid');
    expect(checkBatchSignature(signed, originPublicKey(b.publicKey))).toBe('invalid');
    expect(checkBatchSignature(encodeBatch({ gatewayId: 'gw', epoch: 'e', readings }), keyA)).toBe('unsigned');
    for (let i = 0; i < signed.length - 4; i += 7) {
      const bad = Buffer.from(signed);
      bad[i] = bad[i]! ^ 0x40;
      expect(checkBatchSignature(bad, keyA), `byte ${i}`).toBe('invalid');
    }
    for (const n of [0, 3, 10, 70, signed.length - 1]) expect(checkBatchSignature(signed.subarray(0, n), keyA)).not.toBe('valid');
    expect(() => batchSigner('short')).toThrow(/FM_ERR_BATCH_KEY/);
    expect(() => originPublicKey('A'.repeat(44))).toThrow(/FM_ERR_BATCH_KEY/);
  });
});
