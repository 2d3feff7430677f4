import type { Logger, Reading } from '@fieldmesh/device-sdk';
import type { CommittedBatch } from './ingest/ingest.js';

/**
 * What the gateway does with a batch once it is durable in the reading log, as one pipeline in
 * one order (the ingest calls it after each group commit, synchronously):
 *
 * 1. `rules` — rules, alerts and rollups see the readings (LocalProcessing.onCommitted) and
 *    decide, per reading, whether it goes upstream (deadband, report-on-change); `hold` records
 *    the held ones. First, because the uplink's view of the log leaves held readings out: were
 *    the uplink woken before the decisions are recorded, it could send a reading it must hold.
 * 2. `budget` — the storage budget's check after a commit (it rate-limits itself). Before the
 *    outputs, so a log over budget is trimmed before the uplink reads the next range.
 * 3. `uplink` — state-series compaction learns the committed readings, then the drain wakes.
 * 4. `relay` — the relay route and the replicator learn of the commit. After the uplink: the
 *    route carries through a peer only while the uplink itself cannot deliver.
 * 5. `apps` — local apps subscribed to `fm/r/<series>` get the readings. Last: a local consumer
 *    is the least important reader, and the broker cuts one that does not keep up.
 *
 * A stage that throws is logged and the later stages still run (the readings are committed
 * whatever a consumer does with them; each consumer also catches up from the log on its own).
 */
export interface CommitStages {
  /** Per-reading decisions: false = held back from the uplink; undefined = no local processing. */
  rules(readings: readonly Reading[]): readonly boolean[] | undefined;
  hold(firstSeq: number, forward: readonly boolean[]): void;
  budget(): void;
  uplink(batch: CommittedBatch): void;
  relay(batch: CommittedBatch): void;
  apps(batch: CommittedBatch): void;
}

export const COMMIT_STAGE_ORDER = ['rules', 'budget', 'uplink', 'relay', 'apps'] as const;
export type CommitStage = (typeof COMMIT_STAGE_ORDER)[number];

/** The pipeline as one commit listener (Ingest.onCommitted). */
export function commitPipeline(stages: CommitStages, logger: Logger): (batch: CommittedBatch) => void {
  const run: Record<CommitStage, (batch: CommittedBatch) => void> = {
    rules: (batch) => {
      const forward = stages.rules(batch.readings);
      if (forward) stages.hold(batch.firstSeq, forward);
    },
    budget: () => stages.budget(),
    uplink: (batch) => stages.uplink(batch),
    relay: (batch) => stages.relay(batch),
    apps: (batch) => stages.apps(batch),
  };
  return (batch) => {
    for (const stage of COMMIT_STAGE_ORDER) {
      try {
        run[stage](batch);
      } catch (err) {
        logger.error({ err, stage }, 'commit pipeline stage threw');
      }
    }
  };
}
