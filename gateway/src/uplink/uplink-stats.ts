import type { GatewayStatus } from '@fieldmesh/protocol';

export type UplinkState = 'stopped' | 'connecting' | 'online' | 'waiting';
export const STATE_CODE: Record<UplinkState, number> = { stopped: 0, connecting: 1, online: 2, waiting: 3 };

export interface UplinkStats {
  state: UplinkState;
  /** 0 stopped, 1 connecting, 2 online, 3 waiting to reconnect (for a Prometheus gauge). */
  stateCode: number;
  batchesSent: number;
  batchesAcked: number;
  batchesRefused: number;
  batchesTimedOut: number;
  batchesQuarantined: number;
  readingsAcked: number;
  readingsQuarantined: number;
  bytesSent: number;
  inFlight: number;
  connects: number;
  backlog: number;
  backlogBytes: number;
  oldestUnsentAgeMs: number | null;
  ackedSeq: number;
  /** Current adaptive send window (batches) and how often it was halved. */
  sendWindow: number;
  windowDecreases: number;
  /** Readings acked per second over the last 30 s. */
  drainRate: number;
  /** Seconds to drain the backlog at `drainRate`; null when nothing drains. */
  etaSeconds: number | null;
  /** Older values of state series not sent (compaction). */
  readingsCompacted: number;
  alertsSent: number;
  alertsAcked: number;
  alertsPending: number;
  /** Alert events given up after repeated refusals. */
  alertsSkipped: number;
}

/**
 * The retained status message (@fieldmesh/protocol `GatewayStatus`): the caller's extra fields
 * (members, dropped counts…) first, so the uplink's own figures win a name clash.
 */
export function statusMessage(online: boolean, s: UplinkStats, extra: object, ts: number, epoch: string): GatewayStatus {
  return {
    ...extra,
    v: 1,
    online,
    ts,
    epoch,
    backlog: s.backlog,
    oldestUnsentAgeMs: s.oldestUnsentAgeMs,
    ackedSeq: s.ackedSeq,
    batchesSent: s.batchesSent,
    batchesAcked: s.batchesAcked,
    batchesRefused: s.batchesRefused,
    quarantined: s.readingsQuarantined,
    drainRate: s.drainRate,
    etaSeconds: s.etaSeconds,
    alertsPending: s.alertsPending,
  };
}
