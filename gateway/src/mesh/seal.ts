import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Clock } from '@fieldmesh/device-sdk';
import type { KeyRing } from './keyring.js';
import type { Random } from './random.js';
import { randomInt } from './random.js';
import { PROTOCOL_VERSION } from './codec.js';

/**
 * The encrypted envelope around every datagram (FORMAT.md §1):
 *
 *   u8 envelope version = 1 | 12-byte nonce | AES-256-GCM ciphertext | 16-byte tag
 *   AAD = envelope version byte || "fieldmesh/" || cluster label (UTF-8)
 *   nonce = 4-byte session id (random per process start) || u64 counter (from 1)
 *   plaintext = u8 protocol version | u48 sent-at (ms since epoch) | payload
 *
 * The cluster label in the AAD means two meshes sharing a key but not a label reject each other's
 * packets. The nonce never repeats under one key (random session × counter), which GCM requires.
 * Replay protection: per session a 64-packet sliding window over the counter, and packets whose
 * sent-at is further than `replayWindowMs` from the receiver's clock are refused, so a session the
 * receiver has forgotten cannot be replayed later either.
 */
export const ENVELOPE_VERSION = 1;
const NONCE = 12;
const TAG = 16;
/**
 * Packets of one sender's session accepted out of order. The counter is per sender, not per
 * receiver: a member waking from a stall (or gossiping to many) sends hundreds of packets in one
 * burst, and with delay jitter a receiver saw packets more than 64 counters apart arrive swapped,
 * dropping a live member's refutation as a "replay" (a false death in the stall benchmark).
 * 4096 counters cost 512 bytes per session as a bitset.
 */
const WINDOW = 4096;

export type DropReason = 'malformed' | 'auth' | 'replay' | 'stale' | 'version' | 'reflected';

export type OpenResult = { ok: true; payload: Buffer; sentAt: number } | { ok: false; reason: DropReason };

export interface SealOptions {
  keyring: KeyRing;
  label: string;
  clock: Clock;
  random: Random;
  /** ms; 0 turns the sent-at check off (for gateways without a trustworthy clock). */
  replayWindowMs: number;
  /** Sessions remembered for the counter window; the oldest is forgotten beyond this. */
  maxSessions?: number;
}

interface Session {
  max: number;
  seen: Uint32Array;
  lastSeen: number;
}

export class Seal {
  private readonly aad: Buffer;
  private readonly session: number;
  private counter = 0;
  private readonly sessions = new Map<number, Session>();
  private readonly maxSessions: number;

  constructor(private readonly opts: SealOptions) {
    this.aad = Buffer.concat([Buffer.from([ENVELOPE_VERSION]), Buffer.from(`fieldmesh/${opts.label}`, 'utf8')]);
    this.session = randomInt(opts.random, 0x100000000);
    this.maxSessions = opts.maxSessions ?? 4096;
  }

  seal(payload: Buffer, protocolVersion = PROTOCOL_VERSION): Buffer {
    // One allocation for the datagram: version, nonce, then the ciphertext written after them.
    const plain = Buffer.allocUnsafe(7 + payload.length);
    plain[0] = protocolVersion;
    plain.writeUIntBE(Math.max(0, Math.floor(this.opts.clock.now())), 1, 6);
    payload.copy(plain, 7);
    const out = Buffer.allocUnsafe(1 + NONCE + plain.length + TAG);
    out[0] = ENVELOPE_VERSION;
    this.counter++;
    out.writeUInt32BE(this.session, 1);
    out.writeUInt32BE(Math.floor(this.counter / 0x100000000), 5);
    out.writeUInt32BE(this.counter >>> 0, 9);
    const cipher = createCipheriv('aes-256-gcm', this.opts.keyring.primary, out.subarray(1, 1 + NONCE));
    cipher.setAAD(this.aad);
    const ct = cipher.update(plain);
    cipher.final();
    ct.copy(out, 1 + NONCE);
    cipher.getAuthTag().copy(out, 1 + NONCE + ct.length);
    return out;
  }

  open(packet: Buffer): OpenResult {
    if (packet.length < 1 + NONCE + TAG + 7) return { ok: false, reason: 'malformed' };
    if (packet[0] !== ENVELOPE_VERSION) return { ok: false, reason: 'version' };
    const nonce = packet.subarray(1, 1 + NONCE);
    const body = packet.subarray(1 + NONCE, packet.length - TAG);
    const tag = packet.subarray(packet.length - TAG);
    let plain: Buffer | undefined;
    for (const key of this.opts.keyring.all()) {
      try {
        const d = createDecipheriv('aes-256-gcm', key, nonce);
        d.setAAD(this.aad);
        d.setAuthTag(tag);
        plain = Buffer.concat([d.update(body), d.final()]);
        break;
      } catch {
        // Wrong key or tampered: try the next accepted key.
      }
    }
    if (!plain) return { ok: false, reason: 'auth' };
    const sentAt = plain.readUIntBE(1, 6);
    const now = this.opts.clock.now();
    if (this.opts.replayWindowMs > 0 && Math.abs(now - sentAt) > this.opts.replayWindowMs) return { ok: false, reason: 'stale' };
    const session = nonce.readUInt32BE(0);
    // Our own session id: one of our packets sent back to us (a reflecting peer or a looped
    // network). Refused before the replay window, so it costs none of it. Two members drawing
    // the same 32-bit session id is a 2^-32 chance per pair and start; they would refuse each
    // other until one restarts.
    if (session === this.session) return { ok: false, reason: 'reflected' };
    const counter = nonce.readUInt32BE(4) * 0x100000000 + nonce.readUInt32BE(8);
    if (!this.admit(session, counter, now)) return { ok: false, reason: 'replay' };
    if (plain[0] !== PROTOCOL_VERSION) return { ok: false, reason: 'version' };
    return { ok: true, payload: plain.subarray(7), sentAt };
  }

  private admit(id: number, counter: number, now: number): boolean {
    let s = this.sessions.get(id);
    if (!s) {
      if (this.sessions.size >= this.maxSessions) this.forgetOldest();
      s = { max: 0, seen: new Uint32Array(WINDOW / 32), lastSeen: now };
      this.sessions.set(id, s);
    }
    s.lastSeen = now;
    if (counter > s.max) {
      const gap = Math.min(WINDOW, counter - s.max);
      for (let i = 1; i <= gap; i++) clearBit(s.seen, (s.max + i) % WINDOW);
      s.max = counter;
      setBit(s.seen, counter % WINDOW);
      return true;
    }
    if (counter <= s.max - WINDOW) return false;
    if (testBit(s.seen, counter % WINDOW)) return false;
    setBit(s.seen, counter % WINDOW);
    return true;
  }

  private forgetOldest(): void {
    // Map iteration is insertion order; refresh-on-use is not worth the cost here: a forgotten
    // live session simply starts a new window, and the sent-at check still bounds replays.
    const first = this.sessions.keys().next();
    if (!first.done) this.sessions.delete(first.value);
  }
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! |= 1 << (i & 31);
}

function clearBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! &= ~(1 << (i & 31));
}

function testBit(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
}
