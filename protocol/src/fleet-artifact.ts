import { createHash, sign, verify } from 'node:crypto';
import { ed25519PrivateKey, ed25519PublicKey, generateEd25519, rawKey32 } from './ed25519-keys.js';
import { isReleaseVersion } from './release-version.js';

/**
 * Fleet artifacts (protocol/FLEET-FORMAT.md): a release manifest, a config revision, a rollback
 * order, each signed by a release key. The release key stays with the operator; the cloud only
 * stores and forwards envelopes, and a gateway holds public keys alone, so neither the cloud nor
 * anyone on the path can author what a gateway installs.
 *
 * Signed bytes: the context string, then the canonical JSON of `body` (keys sorted at every
 * level, no whitespace), so a signature survives any re-serialisation of the envelope.
 */
const CONTEXT = 'fieldmesh fleet artifact v1\0';

export type FleetKind = 'release' | 'config' | 'rollback';

export interface ReleaseBody {
  kind: 'release';
  version: string;
  /** SHA-256 of the bundle .tgz, lowercase hex. */
  sha256: string;
  bytes: number;
  commit: string;
  /** `uname -m` the bundle's native modules were built for. */
  machine: string;
  nodeAbi: string;
  createdAt: string;
}

export interface ConfigBody {
  kind: 'config';
  revision: number;
  /** Top-level sections of gateway.yaml; each replaces that whole section of the base config. */
  sections: Record<string, unknown>;
  createdAt: string;
  note?: string;
}

/** Permits going down to exactly this version and/or config revision, once (`order` is used up). */
export interface RollbackBody {
  kind: 'rollback';
  order: number;
  version?: string;
  configRevision?: number;
  createdAt: string;
  note?: string;
}

export type FleetBody = ReleaseBody | ConfigBody | RollbackBody;

export interface SignedArtifact<B extends FleetBody = FleetBody> {
  body: B;
  keyId: string;
  /** base64 of the 64-byte Ed25519 signature. */
  sig: string;
}

export interface ReleaseKeyFile {
  format: 1;
  kind: 'fieldmesh-release-key';
  /** base64 of the 32-byte seed; secret. */
  signingKey: string;
  /** base64 of the 32-byte public key: what gateways hold in `fleet.releaseKeys`. */
  publicKey: string;
  keyId: string;
}

export type ArtifactRefusal = 'unsigned' | 'wrong-key' | 'bad-signature' | 'malformed';
export type ArtifactCheck<B> = { ok: true; body: B } | { ok: false; reason: ArtifactRefusal; why: string };

/**
 * Sections a config revision may not replace: who the gateway is (`id`; `gatewayId` as some
 * tools spell it), where its data lives, whom it trusts.
 */
export const FIXED_CONFIG_SECTIONS: ReadonlySet<string> = new Set(['id', 'gatewayId', 'dataDir', 'fleet']);

/** The first section of a config revision that may not be replaced (FIXED_CONFIG_SECTIONS), or null. */
export function fixedSectionIn(body: ConfigBody): string | null {
  return Object.keys(body.sections).find((s) => FIXED_CONFIG_SECTIONS.has(s)) ?? null;
}

/** An envelope is a few KiB; a config revision with big rule sets stays well under this. */
export const MAX_ARTIFACT_BYTES = 48 * 1024;
const MAX_DEPTH = 32;

/** First 8 bytes of SHA-256 of the raw public key, hex: names a key in envelopes and messages. */
export function releaseKeyId(publicKeyB64: string): string {
  const raw = rawKey32(publicKeyB64);
  if (!raw) throw new RangeError('a release public key is base64 of 32 bytes');
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function generateReleaseKey(): ReleaseKeyFile {
  const { seed, publicKey } = generateEd25519();
  return { format: 1, kind: 'fieldmesh-release-key', signingKey: seed, publicKey, keyId: releaseKeyId(publicKey) };
}

/** JSON with object keys sorted at every level and no whitespace. Throws on non-JSON values. */
export function canonicalJson(v: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) throw new RangeError('nested too deeply');
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError('not a finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x, depth + 1)).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  throw new RangeError(`${typeof v} is not JSON`);
}

function signedBytes(body: unknown): Buffer {
  return Buffer.from(CONTEXT + canonicalJson(body), 'utf8');
}

export function signArtifact<B extends FleetBody>(body: B, key: Pick<ReleaseKeyFile, 'signingKey' | 'publicKey'>): SignedArtifact<B> {
  const seed = rawKey32(key.signingKey);
  if (!seed) throw new RangeError('the release signing key is not base64 of 32 bytes');
  const problem = bodyProblem(body, body.kind);
  if (problem) throw new RangeError(`refusing to sign a malformed ${body.kind}: ${problem}`);
  const sig = sign(null, signedBytes(body), ed25519PrivateKey(seed)).toString('base64');
  return { body, keyId: releaseKeyId(key.publicKey), sig };
}

/**
 * Checks an envelope as it arrived (parsed JSON, any shape): the body is well formed for `kind`,
 * it names one of `trustedPublicKeys`, and the signature verifies. Never throws.
 */
export function verifyArtifact<B extends FleetBody>(raw: unknown, kind: FleetKind, trustedPublicKeys: readonly string[]): ArtifactCheck<B> {
  if (!isRecord(raw)) return { ok: false, reason: 'malformed', why: 'an artifact is a JSON object {body, keyId, sig}' };
  if (raw.sig === undefined || raw.sig === null || raw.sig === '') return { ok: false, reason: 'unsigned', why: `the ${kind} carries no signature` };
  let problem: string | null;
  try {
    problem = bodyProblem(raw.body, kind);
  } catch (err) {
    problem = (err as Error).message;
  }
  if (problem) return { ok: false, reason: 'malformed', why: problem };
  const sig = typeof raw.sig === 'string' && /^[A-Za-z0-9+/]{86}==$/.test(raw.sig) ? Buffer.from(raw.sig, 'base64') : null;
  if (!sig || sig.length !== 64) return { ok: false, reason: 'bad-signature', why: 'sig is not base64 of 64 bytes' };
  const keyId = typeof raw.keyId === 'string' ? raw.keyId : '';
  const key = trustedPublicKeys.find((k) => rawKey32(k) && releaseKeyId(k) === keyId);
  if (!key) return { ok: false, reason: 'wrong-key', why: `signed by key ${JSON.stringify(keyId.slice(0, 32))}, which is not in fleet.releaseKeys` };
  let good = false;
  try {
    good = verify(null, signedBytes(raw.body), ed25519PublicKey(rawKey32(key)!), sig);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: 'bad-signature', why: `the signature does not match the ${kind} (altered after signing)` };
  return { ok: true, body: raw.body as B };
}

/** A JSON object (not null, not an array): what every fleet message and artifact is. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const HEX64 = /^[0-9a-f]{64}$/;
const TOKEN = /^[A-Za-z0-9._+-]{1,64}$/;
const isCount = (v: unknown, max = Number.MAX_SAFE_INTEGER) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
const isTime = (v: unknown) => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
const isNote = (v: unknown) => v === undefined || (typeof v === 'string' && v.length <= 1000);

/** What is wrong with a body for `kind`, or null. Sizes are checked by canonicalJson's caller. */
function bodyProblem(body: unknown, kind: FleetKind): string | null {
  if (!isRecord(body)) return 'body is not a JSON object';
  if (body.kind !== kind) return `body.kind is ${JSON.stringify(body.kind)}, expected "${kind}"`;
  if (Buffer.byteLength(canonicalJson(body)) > MAX_ARTIFACT_BYTES) return `body is over ${MAX_ARTIFACT_BYTES} bytes`;
  if (!isTime(body.createdAt)) return 'createdAt is not an ISO time';
  if (kind === 'release') {
    if (!isReleaseVersion(body.version)) return 'version is not MAJOR.MINOR.PATCH';
    if (typeof body.sha256 !== 'string' || !HEX64.test(body.sha256)) return 'sha256 is not 64 lowercase hex digits';
    if (!isCount(body.bytes, 2 ** 40) || body.bytes === 0) return 'bytes is not a positive integer';
    for (const f of ['commit', 'machine', 'nodeAbi'] as const) if (typeof body[f] !== 'string' || !TOKEN.test(body[f] as string)) return `${f} is not a short token`;
    return null;
  }
  if (kind === 'config') {
    if (!isCount(body.revision) || body.revision === 0) return 'revision is not a positive integer';
    if (!isRecord(body.sections)) return 'sections is not an object of gateway.yaml sections';
    return isNote(body.note) ? null : 'note is not a string of at most 1000 characters';
  }
  if (!isCount(body.order) || body.order === 0) return 'order is not a positive integer';
  if (body.version === undefined && body.configRevision === undefined) return 'a rollback names a version, a configRevision or both';
  if (body.version !== undefined && !isReleaseVersion(body.version)) return 'version is not MAJOR.MINOR.PATCH';
  if (body.configRevision !== undefined && (!isCount(body.configRevision) || body.configRevision === 0)) return 'configRevision is not a positive integer';
  return isNote(body.note) ? null : 'note is not a string of at most 1000 characters';
}
