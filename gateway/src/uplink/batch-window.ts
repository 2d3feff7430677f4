import type { ReadingLog } from '../store/reading-log.js';

/** One batch between the log and the cloud's ack. */
export interface InFlightBatch {
  firstSeq: number;
  lastSeq: number;
  count: number;
  payload: Buffer | null;
  /** `sent`: waiting for the ack; `acked`: committed in the cloud; `poison`: to be quarantined. */
  state: 'sent' | 'acked' | 'poison';
  /** Refusals so far (of this batch and the larger batches it was split from). */
  attempts: number;
  /** The uplink's ack count at the first refusal of this lineage; -1 before any refusal. */
  firstRefusalAcks: number;
  reason: string;
  timer: unknown;
}

export interface WindowOutcome {
  acked: number;
  ackedReadings: number;
  quarantined: number;
  quarantinedReadings: number;
}

/**
 * The ordered window of batches in flight, and the rule that moves the AckWatermark
 * (FORMAT.md §6): only over the longest run of acked (or given-up) batches from the oldest one,
 * so the cursor never passes a reading the cloud has not durably committed, whatever order acks
 * arrive in.
 */
export class BatchWindow {
  private batches: InFlightBatch[] = [];

  constructor(private readonly log: ReadingLog) {}

  get size(): number {
    return this.batches.length;
  }

  all(): readonly InFlightBatch[] {
    return this.batches;
  }

  add(b: InFlightBatch): void {
    this.batches.push(b);
  }

  find(firstSeq: number, lastSeq: number): InFlightBatch | undefined {
    return this.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
  }

  /** Puts `parts` (covering the same seqs, in order) where `b` was. */
  replace(b: InFlightBatch, parts: InFlightBatch[]): void {
    const i = this.batches.indexOf(b);
    if (i >= 0) this.batches.splice(i, 1, ...parts);
  }

  /**
   * An ack names a committed seq range: every batch inside it is acked (acks of batches
   * already settled, e.g. a duplicate ack, touch nothing).
   */
  ackRange(firstSeq: number, lastSeq: number): void {
    for (const b of this.batches) if (b.firstSeq >= firstSeq && b.lastSeq <= lastSeq) b.state = 'acked';
  }

  /** Moves the watermark over the settled head of the window; returns what was settled. */
  settle(clear: (b: InFlightBatch) => void): WindowOutcome {
    const out: WindowOutcome = { acked: 0, ackedReadings: 0, quarantined: 0, quarantinedReadings: 0 };
    while (this.batches.length > 0 && this.batches[0]!.state !== 'sent') {
      const b = this.batches.shift()!;
      clear(b);
      if (b.state === 'acked') {
        this.log.advanceAckWatermark(b.lastSeq);
        out.acked++;
        out.ackedReadings += b.count;
      } else {
        this.log.quarantine(b.firstSeq, b.lastSeq, b.reason);
        out.quarantined++;
        out.quarantinedReadings += b.count;
      }
    }
    return out;
  }

  /** The link went down: everything unacked will be read again from the watermark. */
  reset(clear: (b: InFlightBatch) => void): void {
    for (const b of this.batches) clear(b);
    this.batches = [];
  }
}
