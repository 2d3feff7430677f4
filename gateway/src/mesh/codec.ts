import { isGatewayId } from '@fieldmesh/protocol';
import { ByteReader, MeshWriter, CodecError } from './bytes.js';
import { MeshError } from './errors.js';
import { MessageType, MemberState, memberStateNames, type Message, type PushPullEntry } from './messages.js';

/**
 * Binary codec for gossip messages; the spec with test vectors is FORMAT.md. Every datagram is at
 * most 1400 bytes (an Ethernet MTU less IP/UDP headers and margin for tunnels) so it never
 * fragments: fragmented UDP loses the whole datagram when any fragment is lost.
 */
export const MAX_DATAGRAM = 1400;
/** Envelope (version 1 + nonce 12 + tag 16) and body header (protocol 1 + sent-at 6). */
export const ENVELOPE_OVERHEAD = 29;
export const BODY_HEADER = 7;
/** What one plaintext message (or compound) may take so the sealed datagram fits MAX_DATAGRAM. */
export const MAX_MESSAGE = MAX_DATAGRAM - ENVELOPE_OVERHEAD - BODY_HEADER;
/** Compound header: type, count; each part adds a u16 length. */
export const COMPOUND_HEADER = 2;
export const COMPOUND_PART_OVERHEAD = 2;
export const MAX_COMPOUND_PARTS = 255;
export const MAX_META = 512;
export const PROTOCOL_VERSION = 1;

const scratch = new MeshWriter(4096);

export function encodeMessage(m: Message): Buffer {
  const w = scratch.reset();
  writeMessage(w, m);
  const out = w.copy();
  if (out.length > MAX_MESSAGE) {
    throw new MeshError('FM_ERR_MESH_MESSAGE_TOO_LARGE', `${m.type} message of ${out.length} bytes exceeds ${MAX_MESSAGE}`);
  }
  return out;
}

function writeMessage(w: MeshWriter, m: Message): void {
  switch (m.type) {
    case 'ping':
      w.u8(MessageType.ping).u32(m.seq).str8(m.target).str8(m.source).addr(m.sourceAddr);
      return;
    case 'indirect-ping':
      w.u8(MessageType.indirectPing).u32(m.seq).str8(m.target).addr(m.targetAddr).u8(m.nack ? 1 : 0);
      w.str8(m.source).addr(m.sourceAddr);
      return;
    case 'ack':
      w.u8(MessageType.ack).u32(m.seq);
      return;
    case 'nack':
      w.u8(MessageType.nack).u32(m.seq);
      return;
    case 'suspect':
      w.u8(MessageType.suspect).u32(m.incarnation).str8(m.node).str8(m.from);
      return;
    case 'alive':
      if (m.meta.length > MAX_META) throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `meta of ${m.meta.length} bytes`);
      w.u8(MessageType.alive).u32(m.incarnation).str8(m.node).addr(m.addr).u16(m.meta.length).bytes(m.meta);
      return;
    case 'dead':
      w.u8(MessageType.dead).u32(m.incarnation).str8(m.node).str8(m.from);
      return;
    case 'push-pull':
      if (m.entries.length > 255) throw new CodecError('push-pull chunk has more than 255 entries');
      w.u8(MessageType.pushPull).u8((m.join ? 1 : 0) | (m.reply ? 2 : 0)).u8(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      return;
  }
}

function writeEntry(w: MeshWriter, e: PushPullEntry): void {
  w.str8(e.node).addr(e.addr).u32(e.incarnation).u8(MemberState[e.state]).u16(e.meta.length).bytes(e.meta);
}

/** Encoded size of one push-pull entry, to pack chunks without encoding twice. */
export function entrySize(e: PushPullEntry): number {
  return 1 + Buffer.byteLength(e.node) + (e.addr.startsWith('[') ? 19 : 7) + 4 + 1 + 2 + e.meta.length;
}
export const PUSH_PULL_HEADER = 3;

/**
 * Packs already-encoded messages into as few payloads as possible, each at most MAX_MESSAGE
 * bytes: one part goes as itself, several as a compound of at most 255 parts.
 */
export function packCompound(parts: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let batch: Buffer[] = [];
  let size = COMPOUND_HEADER;
  const flush = () => {
    if (batch.length === 1) out.push(batch[0]!);
    else if (batch.length > 1) out.push(encodeCompound(batch));
    batch = [];
    size = COMPOUND_HEADER;
  };
  for (const p of parts) {
    if (p.length > MAX_MESSAGE) throw new MeshError('FM_ERR_MESH_MESSAGE_TOO_LARGE', `part of ${p.length} bytes`);
    if (batch.length === MAX_COMPOUND_PARTS || size + COMPOUND_PART_OVERHEAD + p.length > MAX_MESSAGE) flush();
    batch.push(p);
    size += COMPOUND_PART_OVERHEAD + p.length;
  }
  flush();
  return out;
}

export function encodeCompound(parts: Buffer[]): Buffer {
  if (parts.length > MAX_COMPOUND_PARTS) throw new CodecError(`compound of ${parts.length} parts`);
  const w = new MeshWriter(COMPOUND_HEADER + parts.reduce((n, p) => n + 2 + p.length, 0));
  w.u8(MessageType.compound).u8(parts.length);
  for (const p of parts) w.u16(p.length);
  for (const p of parts) w.bytes(p);
  return w.copy();
}

/** Decodes one payload (a message or a compound) into its messages; throws CodecError on bad input. */
export function decodePayload(buf: Buffer): Message[] {
  if (buf.length === 0) throw new CodecError('empty payload');
  if (buf[0] !== MessageType.compound) return [decodeMessage(buf)];
  const r = new ByteReader(buf);
  r.u8();
  const count = r.u8();
  const lengths: number[] = [];
  for (let i = 0; i < count; i++) lengths.push(r.u16());
  const out: Message[] = [];
  for (const len of lengths) {
    const part = r.bytes(len);
    // No nesting: a compound inside a compound is hostile or broken, never produced by us.
    if (part[0] === MessageType.compound) throw new CodecError('nested compound');
    out.push(decodeMessage(part));
  }
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after compound`);
  return out;
}

export function decodeMessage(buf: Buffer): Message {
  const r = new ByteReader(buf);
  const type = r.u8();
  let m: Message;
  switch (type) {
    case MessageType.ping:
      m = { type: 'ping', seq: r.u32(), target: readId(r), source: readId(r), sourceAddr: r.addr() };
      break;
    case MessageType.indirectPing: {
      const seq = r.u32();
      const target = readId(r);
      const targetAddr = r.addr();
      const flags = r.u8();
      m = { type: 'indirect-ping', seq, target, targetAddr, nack: (flags & 1) === 1, source: readId(r), sourceAddr: r.addr() };
      break;
    }
    case MessageType.ack:
      m = { type: 'ack', seq: r.u32() };
      break;
    case MessageType.nack:
      m = { type: 'nack', seq: r.u32() };
      break;
    case MessageType.suspect:
      m = { type: 'suspect', incarnation: readIncarnation(r, true), node: readId(r), from: readId(r) };
      break;
    case MessageType.alive: {
      const incarnation = readIncarnation(r, false);
      const node = readId(r);
      const addr = r.addr();
      m = { type: 'alive', incarnation, node, addr, meta: readMeta(r) };
      break;
    }
    case MessageType.dead:
      m = { type: 'dead', incarnation: readIncarnation(r, true), node: readId(r), from: readId(r) };
      break;
    case MessageType.pushPull: {
      const flags = r.u8();
      const count = r.u8();
      const entries: PushPullEntry[] = [];
      for (let i = 0; i < count; i++) {
        const node = readId(r);
        const addr = r.addr();
        const incarnation = readIncarnation(r, false);
        const s = r.u8();
        const state = memberStateNames[s];
        if (state === undefined) throw new CodecError(`unknown member state ${s}`);
        if ((state === 'suspect' || state === 'dead') && incarnation > MAX_INCARNATION) throw new CodecError('accusation at reserved incarnation');
        entries.push({ node, addr, incarnation, state, meta: readMeta(r) });
      }
      m = { type: 'push-pull', join: (flags & 1) === 1, reply: (flags & 2) === 2, entries };
      break;
    }
    default:
      throw new CodecError(`unknown message type ${type}`);
  }
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after ${m.type}`);
  return m;
}

function readMeta(r: ByteReader): Buffer {
  const n = r.u16();
  if (n > MAX_META) throw new CodecError(`meta of ${n} bytes exceeds ${MAX_META}`);
  // Copy: the datagram buffer may be reused, and members keep their meta.
  return Buffer.from(r.bytes(n));
}

function readId(r: ByteReader): string {
  const id = r.str8();
  // A member id is its gateway's id (also checked at configuration).
  if (!isGatewayId(id)) throw new CodecError(`bad member id ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}

/**
 * Accusations (suspect, dead) at 0xFFFFFFFF are refused: the accused could never refute, as its
 * answer would not fit u32. A member's own alive may reach 0xFFFFFFFF.
 */
export const MAX_INCARNATION = 0xfffffffe;

function readIncarnation(r: ByteReader, accusation: boolean): number {
  const v = r.u32();
  if (accusation && v > MAX_INCARNATION) throw new CodecError('accusation at reserved incarnation 0xFFFFFFFF');
  return v;
}
