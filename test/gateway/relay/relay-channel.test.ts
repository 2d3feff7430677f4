import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayChannel, type RelayCredentials } from '#gateway/relay/relay-channel';
import { FRAME_BATCH, FrameSplitter, MAX_FRAME_BYTES, lengthPrefixed } from '#gateway/relay/relay-frame';
import { waitFor } from '../../cloud-bridge/cloud-fixture.js';
import { CLUSTER_KEY, credentials } from './relay-fixture.js';

/** Real TCP on loopback: a listening relay-side channel and an origin-side one. */
describe('relay channel (sealed TCP)', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.length = 0;
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    servers.length = 0;
  });

  async function pair(originCreds: RelayCredentials, relayCreds: RelayCredentials) {
    const got: { relayFrames: Buffer[]; originHello: string | null; relayHello: string | null; relayClosed: string | null; originClosed: string | null } = {
      relayFrames: [],
      originHello: null,
      relayHello: null,
      relayClosed: null,
      originClosed: null,
    };
    const server = createServer((socket) => {
      sockets.push(socket);
      const ch = new RelayChannel(socket, 'gw-b', relayCreds, 'relay');
      ch.open({ hello: (id) => (got.relayHello = id), frame: (f) => got.relayFrames.push(f.body), close: (r) => (got.relayClosed = r) });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    sockets.push(socket);
    const origin = new RelayChannel(socket, 'gw-a', originCreds, 'origin');
    origin.open({ hello: (id) => (got.originHello = id), frame: () => {}, close: (r) => (got.originClosed = r) });
    return { origin, got };
  }

  it('both ends learn who the other is and frames flow after the handshake', async () => {
    const { origin, got } = await pair(credentials(), credentials());
    await waitFor(() => got.originHello !== null && got.relayHello !== null, 'hellos');
    expect(got.originHello).toBe('gw-b');
    expect(got.relayHello).toBe('gw-a');
    origin.send(FRAME_BATCH, Buffer.from('payload one'));
    origin.send(FRAME_BATCH, Buffer.alloc(200_000, 3));
    await waitFor(() => got.relayFrames.length === 2, 'two frames');
    expect(got.relayFrames[0]!.toString()).toBe('payload one');
    expect(got.relayFrames[1]!.length).toBe(200_000);
  });

  it('a peer with another cluster key is refused at the hello', async () => {
    const other = credentials(Buffer.alloc(32, 9).toString('base64'));
    const { got } = await pair(other, credentials());
    await waitFor(() => got.relayClosed !== null, 'relay closes');
    expect(got.relayClosed).toMatch(/FM_ERR_RELAY_AUTH/);
    expect(got.relayHello).toBeNull();
  });

  it('a peer with the same key but another cluster label is refused (label is in the AAD)', async () => {
    const { got } = await pair(credentials(CLUSTER_KEY, 'site-2'), credentials(CLUSTER_KEY, 'site-1'));
    await waitFor(() => got.relayClosed !== null, 'relay closes');
    expect(got.relayClosed).toMatch(/FM_ERR_RELAY_AUTH/);
  });

  it('a recorded origin stream replayed on a new connection opens nothing past the hello', async () => {
    // Record what an origin writes, then replay those bytes to a fresh relay.
    const recorded: Buffer[] = [];
    const first = await pair(credentials(), credentials());
    const write = first.origin.socket.write.bind(first.origin.socket);
    await waitFor(() => first.got.originHello !== null, 'hello');
    first.origin.socket.write = ((chunk: Buffer) => (recorded.push(Buffer.from(chunk)), write(chunk))) as typeof first.origin.socket.write;
    first.origin.send(FRAME_BATCH, Buffer.from('once'));
    await waitFor(() => first.got.relayFrames.length === 1, 'frame');
    // The hello of the recorded connection is needed too; a fresh origin hello is not ours to forge,
    // so replay: new connection, a (valid, fresh) hello, then the recorded session frame.
    const second = await pair(credentials(), credentials());
    await waitFor(() => second.got.relayHello !== null, 'second hello');
    second.origin.socket.write(recorded[0]!);
    await waitFor(() => second.got.relayClosed !== null, 'replayed frame refused');
    expect(second.got.relayClosed).toMatch(/FM_ERR_RELAY_AUTH/);
    expect(second.got.relayFrames).toHaveLength(0);
  });

  it('garbage and oversized length prefixes close the connection, whatever way TCP splits them', async () => {
    const splitter = new FrameSplitter();
    const frame = lengthPrefixed(Buffer.from('abcdef'));
    const out: Buffer[] = [];
    for (const b of frame) out.push(...splitter.push(Buffer.from([b])));
    expect(out.map((f) => f.toString())).toEqual(['abcdef']);
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(() => new FrameSplitter().push(big)).toThrow(/FM_ERR_RELAY_FRAME/);

    const { got, origin } = await pair(credentials(), credentials());
    await waitFor(() => got.relayHello !== null, 'hello');
    origin.socket.write(Buffer.from([0, 0, 0, 40, ...Buffer.alloc(40, 0xee)]));
    await waitFor(() => got.relayClosed !== null, 'garbage frame refused');
    expect(got.relayClosed).toMatch(/FM_ERR_RELAY_(AUTH|FRAME)/);
  });
});
