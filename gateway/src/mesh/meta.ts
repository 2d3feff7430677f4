import { ByteReader, MeshWriter, CodecError } from './bytes.js';
import { MAX_META } from './codec.js';
import { MeshError } from './errors.js';

/**
 * What a gateway tells its peers about itself, carried in every alive message and push-pull
 * entry. The relay uses `uplink` and `backlog` to pick a peer that can forward data upstream.
 *
 * Layout (big-endian), version 1:
 *   u8  metaVersion = 1
 *   u8  role length, role (UTF-8, ≤ 32)
 *   u8  version length, version (UTF-8, ≤ 32)
 *   u8  uplink: 0 unknown, 1 up, 2 down, 3 none (no uplink configured)
 *   u48 backlog: readings not yet acknowledged upstream
 *   u32 oldest unsent reading's age, seconds (0 when the backlog is empty)
 *   u8  tag count, then per tag: u8 key length, key, u8 value length, value
 * A decoder accepts trailing bytes after the tags so later versions can append fields.
 * Whole encoding ≤ 512 bytes (memberlist's MetaMaxSize: it must fit one datagram).
 */
export type UplinkState = 'unknown' | 'up' | 'down' | 'none';
const uplinkStates: UplinkState[] = ['unknown', 'up', 'down', 'none'];

export interface MemberMeta {
  role: string;
  version: string;
  uplink: UplinkState;
  backlog: number;
  oldestUnsentAgeS: number;
  tags: Record<string, string>;
}

export const emptyMeta: MemberMeta = { role: 'gateway', version: '', uplink: 'unknown', backlog: 0, oldestUnsentAgeS: 0, tags: {} };

export function encodeMeta(meta: MemberMeta): Buffer {
  if (Buffer.byteLength(meta.role) > 32) throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `role "${meta.role}" is over 32 bytes`);
  if (Buffer.byteLength(meta.version) > 32) throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `version "${meta.version}" is over 32 bytes`);
  if (!Number.isSafeInteger(meta.backlog) || meta.backlog < 0 || meta.backlog >= 2 ** 48) {
    throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `backlog ${meta.backlog} is not an integer in 0..2^48-1`);
  }
  const tags = Object.entries(meta.tags);
  if (tags.length > 255) throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `${tags.length} tags (at most 255)`);
  const w = new MeshWriter(MAX_META + 600);
  w.u8(1).str8(meta.role).str8(meta.version).u8(uplinkStates.indexOf(meta.uplink));
  w.u48(meta.backlog).u32(Math.min(0xffffffff, Math.max(0, Math.floor(meta.oldestUnsentAgeS))));
  w.u8(tags.length);
  for (const [k, v] of tags) {
    if (Buffer.byteLength(k) > 255 || Buffer.byteLength(v) > 255) throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `tag "${k.slice(0, 40)}" is over 255 bytes`);
    w.str8(k).str8(v);
  }
  const out = w.copy();
  if (out.length > MAX_META) throw new MeshError('FM_ERR_MESH_META_TOO_LARGE', `metadata encodes to ${out.length} bytes (at most ${MAX_META})`);
  return out;
}

/** Decodes peer metadata; hostile input throws CodecError, which callers count and ignore. */
export function decodeMeta(buf: Buffer): MemberMeta {
  if (buf.length === 0) return { ...emptyMeta, tags: {} };
  const r = new ByteReader(buf);
  const v = r.u8();
  if (v !== 1) throw new CodecError(`meta version ${v}`);
  const role = r.str8();
  const version = r.str8();
  const uplink = uplinkStates[r.u8()];
  if (uplink === undefined) throw new CodecError('bad uplink state');
  const backlog = r.u48();
  const oldestUnsentAgeS = r.u32();
  const n = r.u8();
  // No prototype: a hostile "__proto__" tag must stay a plain key.
  const tags = Object.create(null) as Record<string, string>;
  for (let i = 0; i < n; i++) tags[r.str8()] = r.str8();
  return { role, version, uplink, backlog, oldestUnsentAgeS, tags };
}
