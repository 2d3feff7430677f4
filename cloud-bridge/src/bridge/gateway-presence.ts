import type { Clock } from '@fieldmesh/device-sdk';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { CloudStore } from '../store/cloud-store.js';

/** Status messages larger than this are refused: a status is a few hundred bytes of counters. */
const MAX_STATUS_BYTES = 16 * 1024;

/**
 * Online / last contact / reported backlog of each gateway, from its retained status messages
 * (and last will), and from connects and disconnects seen by the broker.
 */
/**
 * At most one stored status per gateway per this many ms, unless `online` flips: a gateway sends
 * one every 15 s; a faster stream is a bug or a flood and must not turn into a write per message.
 */
const MIN_STATUS_INTERVAL_MS = 1000;

export class GatewayPresence {
  statusRefused = 0;
  statusThrottled = 0;
  private readonly lastStored = new Map<string, { at: number; online: boolean }>();

  constructor(
    private readonly store: CloudStore,
    private readonly clock: Clock,
    private readonly throttled: RateLimitedLog,
  ) {}

  /**
   * `connectedNow`: whether the broker holds a live connection of this gateway. A last will
   * (online: false) from a connection that a newer one took over must not mark it offline.
   */
  async status(gatewayId: string, payload: Buffer, connectedNow: boolean): Promise<void> {
    let status: Record<string, unknown>;
    try {
      if (payload.length > MAX_STATUS_BYTES) throw new Error(`${payload.length} bytes`);
      const parsed = JSON.parse(payload.toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      status = parsed as Record<string, unknown>;
    } catch (err) {
      this.statusRefused++;
      this.throttled.warn(`status:${gatewayId}`, { gateway: gatewayId, err: (err as Error).message }, 'status message refused');
      return;
    }
    const backlog = status.backlog;
    const online = status.online === true || connectedNow;
    const now = this.clock.monotonic();
    const last = this.lastStored.get(gatewayId);
    if (last && last.online === online && now - last.at < MIN_STATUS_INTERVAL_MS) {
      this.statusThrottled++;
      return;
    }
    if (this.lastStored.size > 100_000) this.lastStored.clear();
    this.lastStored.set(gatewayId, { at: now, online });
    await this.store.recordStatus(gatewayId, {
      online,
      at: this.clock.now(),
      status,
      reportedBacklog: typeof backlog === 'number' && Number.isFinite(backlog) ? backlog : null,
    });
  }

  async connected(gatewayId: string): Promise<void> {
    await this.store.recordStatus(gatewayId, { online: true, at: this.clock.now() });
  }

  async disconnected(gatewayId: string): Promise<void> {
    await this.store.recordStatus(gatewayId, { online: false, at: this.clock.now() });
  }
}
