import { type Clock, type Logger, isSeriesName } from '@fieldmesh/device-sdk';
import { checkBatchSignature, decodeBatch, decodeBatchHeader, type BatchHeader, ProtocolError, type AckMessage } from '@fieldmesh/protocol';
import { CloudError, type CloudErrorCode } from '../errors.js';
import type { OriginKeys } from './origin-keys.js';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { CloudStore } from '../store/cloud-store.js';

export interface ReceiverStats {
  batchesReceived: number;
  batchesCommitted: number;
  readingsStored: number;
  readingsDuplicate: number;
  batchesRefused: number;
  refusedByCode: Record<string, number>;
  /** Batches dropped unprocessed because the queue was full (not acked: the gateway resends). */
  batchesDropped: number;
  queued: number;
  /** Batches that came through a relay gateway (gateway/src/relay/RELAY.md). */
  batchesRelayed: number;
  /** Batches whose origin signature verified (origin-keys.ts). */
  signaturesVerified: number;
}

/**
 * Where acks go: the broker, or a test's recorder. `via` is the relay gateway a batch came
 * through (the ack then goes to the relay's ack topic for that origin), undefined when direct.
 */
export type AckSender = (gatewayId: string, ack: AckMessage, via?: string) => Promise<void>;

/** Failures of the bridge, not of the batch: no nack (a nack counts towards quarantine at the gateway); the unacked batch is resent. */
const NOT_THE_BATCH: ReadonlySet<string> = new Set<CloudErrorCode>(['FM_ERR_CLOUD_STORE', 'FM_ERR_CLOUD_CREDENTIALS']);

/**
 * Turns batches into durable rows and answers each with an ack or a nack (FORMAT.md §6):
 * decode, check, commit in one transaction, and only then ack. Batches are handled one at a time
 * in arrival order; a bad batch is refused, counted and logged rate-limited, and the loop goes on.
 */
export class BatchReceiver {
  readonly stats: ReceiverStats = {
    batchesReceived: 0,
    batchesCommitted: 0,
    readingsStored: 0,
    readingsDuplicate: 0,
    batchesRefused: 0,
    refusedByCode: {},
    batchesDropped: 0,
    queued: 0,
    batchesRelayed: 0,
    signaturesVerified: 0,
  };
  private readonly queue: Array<{ gatewayId: string; payload: Buffer; via?: string }> = [];
  private running = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: CloudStore,
    private readonly sendAck: AckSender,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly throttled: RateLimitedLog,
    /**
     * Queue bound: gateways keep a bounded window in flight, so a longer queue means a flood;
     * dropping is safe because an unacked batch is resent.
     */
    private readonly maxQueued = 1000,
    /** Origin signature policy (origin-keys.ts); null: signatures are not checked (tests of other parts). */
    private readonly origins: OriginKeys | null = null,
  ) {}

  /**
   * Called for every publish on `fm/g/<gatewayId>/batch`, or on `fm/g/<via>/relay/<gatewayId>/batch`
   * with `via` (the ACL has checked the publisher). Either way the batch is committed under
   * `gatewayId`, the origin, so it is stored once whichever path it took.
   */
  receive(gatewayId: string, payload: Buffer, via?: string): void {
    this.stats.batchesReceived++;
    if (via !== undefined) this.stats.batchesRelayed++;
    if (this.queue.length >= this.maxQueued) {
      this.stats.batchesDropped++;
      this.throttled.warn(`drop:${gatewayId}`, { gateway: gatewayId, queued: this.queue.length }, 'batch queue full, batch dropped (the gateway will resend)');
      return;
    }
    this.queue.push(via === undefined ? { gatewayId, payload } : { gatewayId, payload, via });
    this.stats.queued = this.queue.length;
    if (!this.running) void this.drain();
  }

  /** Resolves when every received batch has been handled (tests, clean shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        this.stats.queued = this.queue.length;
        await this.handle(item.gatewayId, item.payload, item.via);
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async handle(gatewayId: string, payload: Buffer, via?: string): Promise<void> {
    let header: Pick<BatchHeader, 'epoch' | 'firstSeq' | 'lastSeq'> | undefined;
    try {
      this.checkOrigin(gatewayId, payload, via);
      const batch = decodeBatch(payload);
      header = batch;
      if (batch.gatewayId !== gatewayId) {
        throw new CloudError('FM_ERR_CLOUD_BATCH_GATEWAY', `batch names gateway ${JSON.stringify(batch.gatewayId)} but came on fm/g/${gatewayId}/batch`);
      }
      for (const r of batch.readings) {
        if (!isSeriesName(r.series)) throw new CloudError('FM_ERR_CLOUD_BAD_BATCH_SERIES', `series ${JSON.stringify(r.series.slice(0, 80))} at seq ${r.seq}`);
      }
      const result = await this.store.commitBatch(gatewayId, batch.epoch, batch.readings, this.clock.now());
      this.stats.batchesCommitted++;
      this.stats.readingsStored += result.stored;
      this.stats.readingsDuplicate += result.duplicates;
      // The commit above is durable: only now may the gateway's watermark move (FORMAT.md §6).
      await this.send(gatewayId, via, { v: 1, ok: true, epoch: batch.epoch, firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, stored: result.stored, duplicates: result.duplicates });
    } catch (err) {
      const code = err instanceof ProtocolError || err instanceof CloudError ? err.code : ('FM_ERR_CLOUD_STORE' satisfies CloudErrorCode);
      if (header === undefined) {
        try {
          // Names the batch in the nack when only its body is bad (checksum and header fine).
          header = decodeBatchHeader(payload);
        } catch {
          header = undefined;
        }
      }
      const reason = (err as Error).message;
      this.stats.batchesRefused++;
      this.stats.refusedByCode[code] = (this.stats.refusedByCode[code] ?? 0) + 1;
      this.throttled.warn(`refuse:${gatewayId}:${code}`, { gateway: gatewayId, code, reason }, 'batch refused');
      const nack: AckMessage = { v: 1, ok: false, code, reason: reason.slice(0, 300) };
      if (header) Object.assign(nack, { epoch: header.epoch, firstSeq: header.firstSeq, lastSeq: header.lastSeq });
      // A store failure or a damaged gateways.json is not the batch's fault: stay silent and let
      // the gateway resend after its ack timeout instead of counting a refusal towards quarantine.
      if (!NOT_THE_BATCH.has(code)) await this.send(gatewayId, via, nack);
      else this.logger.error({ gateway: gatewayId, code, err: reason }, code === 'FM_ERR_CLOUD_STORE' ? 'store commit failed' : 'batch not checked: the gateway key file is damaged');
    }
  }

  /** Refuses a batch its origin did not sign (FM_ERR_CLOUD_BATCH_SIGNATURE) under the policy. */
  private checkOrigin(gatewayId: string, payload: Buffer, via: string | undefined): void {
    if (this.origins === null) return;
    const rule = this.origins.rule(gatewayId, via !== undefined);
    const check = rule.verify === null ? null : checkBatchSignature(payload, rule.verify);
    if (check === 'valid') {
      this.stats.signaturesVerified++;
      return;
    }
    if (rule.verify === null && rule.allowUnsigned) return;
    const path = via === undefined ? 'on its own uplink' : `relayed by ${via}`;
    const why = check === null ? `no origin key registered for ${gatewayId}, and a relay cannot vouch for it` : check === 'unsigned' ? `unsigned batch ${path}` : `signature does not verify with ${gatewayId}'s key (${path})`;
    throw new CloudError('FM_ERR_CLOUD_BATCH_SIGNATURE', why);
  }

  private async send(gatewayId: string, via: string | undefined, ack: AckMessage): Promise<void> {
    try {
      await this.sendAck(gatewayId, ack, via);
    } catch (err) {
      this.throttled.warn(`ack:${gatewayId}`, { gateway: gatewayId, err: (err as Error).message }, 'ack publish failed');
    }
  }
}

