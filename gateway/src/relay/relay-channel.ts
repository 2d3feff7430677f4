import { hkdfSync, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Clock } from '@fieldmesh/device-sdk';
import { KeyRing } from '../mesh/keyring.js';
import { systemRandom } from '../mesh/random.js';
import { Seal } from '../mesh/seal.js';
import { RelayError } from './errors.js';
import { FRAME_HELLO, FrameSplitter, lengthPrefixed, MAX_FRAME_BYTES, MAX_HELLO_FRAME_BYTES, typedPayload } from './relay-frame.js';

/** Why a channel closed before its peer's hello opened (a metrics label on the serving side). */
export type PreHelloRefusal = 'preauth_frame_too_large' | 'hello_timeout' | 'hello_refused';

/** What both ends of a relay connection need to authenticate each other. */
export interface RelayCredentials {
  /** The mesh cluster key ring (mesh.key plus mesh.keys): hellos are sealed under it. */
  keyring: KeyRing;
  /** The mesh cluster label: part of the AAD, so two meshes sharing a key still refuse each other. */
  label: string;
  clock: Clock;
  /** ms; a hello whose sent-at is further off the receiver's clock is refused. 0 turns the check off. */
  replayWindowMs: number;
}

/** What an origin opens a channel for: relaying upstream, or replicating its backlog to a buddy. */
export type ChannelPurpose = 'relay' | 'replicate';

export interface RelayFrame {
  type: number;
  body: Buffer;
}

/**
 * One authenticated, encrypted relay connection (RELAY.md §3). Each side sends a HELLO sealed
 * under the cluster key carrying 32 random bytes; the session key is HKDF-SHA256 over both
 * nonces, so a recorded connection replayed later (either side) opens nothing: every frame after
 * the hellos is sealed under a key that never existed before. Within the session, the seal's
 * counter window refuses replayed or reordered frames.
 */
export class RelayChannel {
  private readonly clusterSeal: Seal;
  private sendSeal: Seal | null = null;
  private openSeal: Seal | null = null;
  private readonly nonce = randomBytes(32);
  private readonly splitter = new FrameSplitter(MAX_HELLO_FRAME_BYTES);
  private helloTimer: ReturnType<Clock['setTimeout']> | null = null;
  /** Set when the channel closed before the peer's hello opened: why. */
  preHelloRefusal: PreHelloRefusal | null = null;
  private peerHello: { id: string; nonce: Buffer; purpose: ChannelPurpose } | null = null;
  private closed = false;
  private onFrame: (f: RelayFrame) => void = () => {};
  private onHello: (peerId: string, purpose: ChannelPurpose) => void = () => {};
  private onClose: (reason: string) => void = () => {};
  /** Bytes written, for the benchmark and status. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(
    readonly socket: Socket,
    private readonly selfId: string,
    private readonly creds: RelayCredentials,
    /** Which side we are: the key derivation orders the nonces origin first. */
    private readonly role: 'origin' | 'relay',
  ) {
    this.clusterSeal = new Seal({ keyring: creds.keyring, label: `${creds.label}/relay-hello`, clock: creds.clock, random: systemRandom, replayWindowMs: creds.replayWindowMs });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.receive(d));
    socket.on('error', (err) => this.close(`socket: ${err.message}`));
    socket.on('close', () => this.close('closed by peer'));
  }

  /**
   * Sets the handlers, then sends our hello. With `helloTimeoutMs`, a peer whose hello has not
   * opened by then is closed (a stranger holding a socket open costs a slot and a buffer).
   */
  open(handlers: { hello: (peerId: string, purpose: ChannelPurpose) => void; frame: (f: RelayFrame) => void; close: (reason: string) => void }, purpose: ChannelPurpose = 'relay', helloTimeoutMs = 0): void {
    if (helloTimeoutMs > 0) {
      this.helloTimer = this.creds.clock.setTimeout(() => {
        this.helloTimer = null;
        if (this.peerHello) return;
        this.preHelloRefusal = 'hello_timeout';
        this.close(`no hello within ${helloTimeoutMs} ms`);
      }, helloTimeoutMs);
      this.helloTimer.unref?.();
    }
    this.onHello = handlers.hello;
    this.onFrame = handlers.frame;
    this.onClose = handlers.close;
    const hello = Buffer.from(JSON.stringify({ v: 1, id: this.selfId, nonce: this.nonce.toString('base64'), purpose }));
    this.write(lengthPrefixed(this.clusterSeal.seal(typedPayload(FRAME_HELLO, hello))));
  }

  get peerId(): string | null {
    return this.peerHello?.id ?? null;
  }

  get isOpen(): boolean {
    return !this.closed && this.sendSeal !== null;
  }

  /** Bytes queued in the socket but not yet written: the sender's backpressure signal. */
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  send(type: number, body: Buffer): void {
    if (this.closed || !this.sendSeal) return;
    this.write(lengthPrefixed(this.sendSeal.seal(typedPayload(type, body))));
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.helloTimer !== null) this.creds.clock.clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.socket.destroy();
    this.onClose(reason);
  }

  private write(frame: Buffer): void {
    this.bytesOut += frame.length;
    this.socket.write(frame);
  }

  private receive(data: Buffer): void {
    if (this.closed) return;
    this.bytesIn += data.length;
    let frames: Buffer[];
    try {
      frames = this.splitter.push(data);
    } catch (err) {
      if (!this.peerHello) this.preHelloRefusal = 'preauth_frame_too_large';
      return this.close((err as Error).message);
    }
    for (const sealed of frames) {
      if (this.closed) return;
      if (!this.peerHello) {
        if (!this.acceptHello(sealed)) return;
        continue;
      }
      const opened = this.openSeal!.open(sealed);
      if (!opened.ok) return this.close(new RelayError('FM_ERR_RELAY_AUTH', `session frame refused (${opened.reason})`).message);
      if (opened.payload.length < 1) return this.close(new RelayError('FM_ERR_RELAY_FRAME', 'empty frame').message);
      this.onFrame({ type: opened.payload[0]!, body: opened.payload.subarray(1) });
    }
  }

  private acceptHello(sealed: Buffer): boolean {
    const opened = this.clusterSeal.open(sealed);
    if (!opened.ok) {
      this.preHelloRefusal = 'hello_refused';
      this.close(new RelayError('FM_ERR_RELAY_AUTH', `hello refused (${opened.reason})`).message);
      return false;
    }
    try {
      if (opened.payload[0] !== FRAME_HELLO) throw new Error('first frame is not a hello');
      const m = JSON.parse(opened.payload.subarray(1).toString('utf8')) as { v?: unknown; id?: unknown; nonce?: unknown; purpose?: unknown };
      if (m.v !== 1 || typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 128 || typeof m.nonce !== 'string') throw new Error('hello fields');
      const nonce = Buffer.from(m.nonce, 'base64');
      if (nonce.length !== 32) throw new Error('hello nonce is not 32 bytes');
      if (nonce.equals(this.nonce)) throw new Error('hello reflected');
      const purpose: ChannelPurpose = m.purpose === 'replicate' ? 'replicate' : 'relay';
      this.peerHello = { id: m.id, nonce, purpose };
    } catch (err) {
      this.preHelloRefusal = 'hello_refused';
      this.close(new RelayError('FM_ERR_RELAY_HANDSHAKE', (err as Error).message).message);
      return false;
    }
    const [originNonce, relayNonce] = this.role === 'origin' ? [this.nonce, this.peerHello.nonce] : [this.peerHello.nonce, this.nonce];
    const [originId, relayId] = this.role === 'origin' ? [this.selfId, this.peerHello.id] : [this.peerHello.id, this.selfId];
    // One key per direction, so the two ends' GCM nonces (random session id, counter) can never
    // collide under one key. The nonces travelled sealed under the cluster key, so only members
    // know them; the cluster key itself stays out of the derivation so a key rotation (hellos
    // open under any installed key) never breaks a session.
    const ikm = Buffer.concat([originNonce, relayNonce]);
    const salt = Buffer.from(`fieldmesh/${this.creds.label}`);
    const derive = (dir: string) => Buffer.from(hkdfSync('sha256', ikm, salt, `relay ${originId}>${relayId} ${dir}`, 32));
    const toRelay = derive('origin-to-relay');
    const toOrigin = derive('relay-to-origin');
    const [sendKey, recvKey] = this.role === 'origin' ? [toRelay, toOrigin] : [toOrigin, toRelay];
    const sealWith = (key: Buffer) =>
      new Seal({ keyring: new KeyRing([key]), label: `${this.creds.label}/relay`, clock: this.creds.clock, random: systemRandom, replayWindowMs: 0, maxSessions: 1 });
    this.sendSeal = sealWith(sendKey);
    this.openSeal = sealWith(recvKey);
    // Authenticated: batches may come now.
    this.splitter.setMaxFrameBytes(MAX_FRAME_BYTES);
    if (this.helloTimer !== null) this.creds.clock.clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.onHello(this.peerHello.id, this.peerHello.purpose);
    return true;
  }
}
