import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of one of the cloud's ports, for one gateway: counts the bytes each way
 * (what an update moves), and can slow what flows to the gateway to a given rate so a download
 * lasts long enough to be cut at a chosen point.
 */
export interface TcpProxy {
  port: number;
  /** Bytes gateway → cloud, cloud → gateway, over all connections so far. */
  bytes: { up: number; down: number };
  /** Bytes per second towards the gateway; 0 = unlimited. */
  rate: number;
  /** Connections accepted so far. */
  connections: number;
  /** Drops every open connection (a link cut); the proxy keeps listening for the reconnect. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, opts: { rate?: number } = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const proxy: TcpProxy = {
    port: 0,
    bytes: { up: 0, down: 0 },
    rate: opts.rate ?? 0,
    connections: 0,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {},
  };
  const server: Server = createServer((client) => {
    proxy.connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      proxy.bytes.up += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      proxy.bytes.down += d.length;
      client.write(d);
      if (proxy.rate > 0) {
        upstream.pause();
        setTimeout(() => upstream.resume(), (d.length / proxy.rate) * 1000);
      }
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.port = (server.address() as { port: number }).port;
  proxy.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return proxy;
}
