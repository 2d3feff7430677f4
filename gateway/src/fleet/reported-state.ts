import { encodeReported, MAX_REPORTED_REFUSALS, type ReportedRefusal, type ReportedState, type ReportedUpdate } from '@fieldmesh/protocol';

/**
 * The reported state this gateway keeps retained at the cloud (`fm/g/<gw>/fleet/reported`):
 * what it runs, the update under way or its outcome, and the newest refusals. Free text is cut
 * to fit the 16 KiB message whatever the refusals say.
 */
export class ReportedStateBook {
  update: ReportedUpdate | undefined;
  desiredSerial: number | null = null;

  constructor(
    private readonly o: { gatewayId: string; tags: readonly string[]; running: { version: string; configRevision: number | null }; refused: () => readonly ReportedRefusal[]; now: () => number },
  ) {}

  set(update: Omit<ReportedUpdate, 'at'>): void {
    this.update = { ...update, ...(update.reason !== undefined ? { reason: update.reason.slice(0, 500) } : {}), at: new Date(this.o.now()).toISOString() };
  }

  encode(): string {
    const state: ReportedState = {
      format: 1,
      gateway: this.o.gatewayId,
      at: new Date(this.o.now()).toISOString(),
      tags: [...this.o.tags],
      running: { ...this.o.running },
      desiredSerial: this.desiredSerial,
      ...(this.update ? { update: this.update } : {}),
      refused: this.o.refused().slice(-MAX_REPORTED_REFUSALS).map((r) => ({ ...r, target: r.target.slice(0, 64), why: r.why.slice(0, 400) })),
    };
    return encodeReported(state).toString('utf8');
  }
}
