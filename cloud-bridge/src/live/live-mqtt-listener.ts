import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { CloudError } from '../errors.js';

/** Where plain MQTT clients (`mosquitto_sub`, Node-RED, Telegraf) read `fm/live/…` (LIVE.md §MQTT). */
export interface LiveMqttListenerConfig {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind. Default: the HTTP server's host. */
  host: string;
  /** PEM server certificate and key: MQTT over TLS (mqtts) instead of plain TCP. */
  tls?: { cert: string; key: string };
}

/**
 * A TCP (or TLS) listener whose connections are handed, as they are, to the live MQTT component:
 * the same guard, token check and read-only ACL as `/mqtt` over WebSocket.
 */
export class LiveMqttListener {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(cfg: LiveMqttListenerConfig, handle: (stream: Socket, remote: string) => void): Promise<LiveMqttListener> {
    const accept = (socket: Socket) => {
      socket.on('error', () => {});
      handle(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    };
    let server: Server;
    if (cfg.tls) {
      const read = (key: 'cert' | 'key', file: string) => {
        try {
          return readFileSync(file);
        } catch (err) {
          throw new CloudError('FM_ERR_CLOUD_TLS', `liveMqtt.tls.${key}: cannot read ${file} (${(err as Error).message})`);
        }
      };
      // A handshake that never finishes is cut by the TLS layer's own timeout (120 s default is too long).
      server = createTlsServer({ cert: read('cert', cfg.tls.cert), key: read('key', cfg.tls.key), handshakeTimeout: 10_000 }, accept);
      server.on('tlsClientError', () => {});
    } else server = createServer(accept);
    const listener = new LiveMqttListener(server, 0);
    server.on('connection', (s: Socket) => {
      listener.sockets.add(s);
      s.once('close', () => listener.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new CloudError('FM_ERR_CLOUD_LISTEN', `liveMqtt: cannot listen on ${cfg.host}:${cfg.port}: ${err.message}`)));
      server.listen(cfg.port, cfg.host, () => resolve());
    });
    server.on('error', () => {});
    (listener as { port: number }).port = (server.address() as { port: number }).port;
    return listener;
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
