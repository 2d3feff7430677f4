/**
 * The mesh's only network edge (as memberlist's transport.go: real UDP and an in-memory network behind one interface): a datagram
 * transport. The real one is UdpTransport (udp-transport.ts); MemoryNetwork (memory-network.ts)
 * gives whole clusters in one process with loss, delay, partitions and stalls. Push-pull
 * anti-entropy rides on the same datagrams in chunks (FORMAT.md), so there is no stream transport.
 */
export interface Transport {
  /** "IPv4:port" or "[IPv6]:port" peers should send to (the advertised address). */
  readonly address: string;
  /**
   * Sends one datagram of at most MAX_DATAGRAM bytes (larger throws: a programming error).
   * Network failures are never thrown: UDP may lose any datagram anyway.
   */
  send(to: string, packet: Buffer): void;
  /** The single receiver of incoming datagrams, with the sender's address. */
  onPacket(receiver: (packet: Buffer, from: string) => void): void;
  close(): Promise<void>;
}
