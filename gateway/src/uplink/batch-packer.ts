import type { LoggedReading } from '../store/reading-log.js';
import { encodeBatch, ProtocolError, type BatchSign } from '@fieldmesh/protocol';
import type { InFlightBatch } from './batch-window.js';

/**
 * Encodes consecutive log readings into batches no larger than `maxBatchBytes`, halving until
 * they fit. A reading the codec cannot carry (the ingest should have refused it) ends up alone in
 * a `poison` batch, quarantined in its turn, so it costs only itself and never blocks the queue.
 */
export function packBatches(
  readings: LoggedReading[],
  opts: { gatewayId: string; epoch: string; maxBatchBytes: number; sign?: BatchSign },
  onUnencodable: (seq: number, err: ProtocolError) => void,
): InFlightBatch[] {
  const make = (rs: LoggedReading[], payload: Buffer | null, reason = ''): InFlightBatch => ({
    firstSeq: rs[0]!.seq,
    lastSeq: rs.at(-1)!.seq,
    count: rs.length,
    payload,
    state: payload ? 'sent' : 'poison',
    attempts: 0,
    firstRefusalAcks: -1,
    reason,
    timer: null,
  });
  const halves = () => {
    const half = Math.ceil(readings.length / 2);
    return [...packBatches(readings.slice(0, half), opts, onUnencodable), ...packBatches(readings.slice(half), opts, onUnencodable)];
  };
  try {
    const payload = encodeBatch({ gatewayId: opts.gatewayId, epoch: opts.epoch, readings }, opts.sign);
    // One reading over the cap still goes: the codec bounds a reading far below the cloud's packet cap.
    if (payload.length <= opts.maxBatchBytes || readings.length === 1) return [make(readings, payload)];
    return halves();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    if (readings.length > 1) return halves();
    onUnencodable(readings[0]!.seq, err);
    return [make(readings, null, err.code)];
  }
}
