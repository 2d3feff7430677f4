import type { Client, PublishPacket } from 'aedes';

type Done = (error?: Error | null) => void;

/** aedes' persistence API (aedes-persistence): resolves when the id is stored, awaiting PUBREL. */
export interface IncomingPackets {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>;
}

/**
 * QoS 2 is exactly once [MQTT-4.3.3]: a PUBLISH resent (DUP) with the same packet id before
 * its PUBREL is the same message. aedes spots the resend only after its authorizePublish hook (it
 * finds the packet in its incoming store), so without this check the readings were committed
 * twice. Ids being committed, just committed (aedes stores the packet a moment later) or stored
 * and awaiting PUBREL are acknowledged again without storing when DUP is set (a new message
 * reusing a freed id has DUP 0, MQTT-3.3.1-1).
 */
export class Qos2PacketIds {
  /** Per client: ids being committed now, and committed (until aedes holds them or a new message reuses the id). At most 65535 each. */
  private readonly ids = new WeakMap<Client, { committing: Set<number>; committed: Set<number> }>();

  /** `resent` counts a resend acknowledged without storing. */
  constructor(private readonly resent: () => void) {}

  /** Commits `packet` through `commit` unless it is a resend of one already committed or stored. */
  publish(store: () => IncomingPackets, client: Client, packet: PublishPacket, commit: (done: Done) => void, done: Done): void {
    const id = packet.messageId!;
    let ids = this.ids.get(client);
    if (ids?.committing.has(id)) return this.again(done);
    if (ids?.committed.has(id)) {
      if (packet.dup) return this.again(done);
      ids.committed.delete(id);
    }
    store().incomingGetPacket(client, packet).then(
      () => {
        ids?.committed.delete(id);
        this.again(done);
      },
      () => {
        if (!ids) this.ids.set(client, (ids = { committing: new Set(), committed: new Set() }));
        if (ids.committing.has(id) || (packet.dup && ids.committed.has(id))) return this.again(done);
        ids.committing.add(id);
        commit((err) => {
          ids!.committing.delete(id);
          if (!err) ids!.committed.add(id);
          done(err);
        });
      },
    );
  }

  private again(done: Done): void {
    this.resent();
    done();
  }
}
