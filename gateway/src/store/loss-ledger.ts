/**
 * Nothing is lost silently: every reading the gateway gives up on, or replaces, is
 * counted here per series and reason, persistently (table `loss`, schema v3), and shown in
 * `/api/status`, `/metrics`, the uplink's retained status and `fieldmesh status`.
 */
export const LOSS_REASONS = [
  /** Raw reading replaced by its 1-minute rollup (`<series>:min1:{min,max,avg,count}`) before it was sent. */
  'downsampled',
  /** Deleted unsent to stay within the storage budget (drop-oldest, or rollups going last under downsample). */
  'evicted',
  /** Deleted unsent by a time-based retention (none yet decides on time alone: reserved). */
  'expired',
  /**
   * Refused at the door (reject-new while over budget, or the disk full): the device got no
   * PUBACK and may resend, so this counts refusals, not distinct readings.
   */
  'refused',
  /** In a batch the cloud kept refusing (ReadingLog.quarantine). */
  'quarantined',
  /** On damaged pages of a corrupt database, not salvaged (salvage.ts; series `*`: unknown). */
  'unreadable',
] as const;

export type LossReason = (typeof LOSS_REASONS)[number];

export interface LossCount {
  series: string;
  reason: LossReason;
  count: number;
}

/** Totals per reason, for one-line views (status, uplink status). */
export function lossTotals(losses: readonly LossCount[]): Record<LossReason, number> {
  const out = Object.fromEntries(LOSS_REASONS.map((r) => [r, 0])) as Record<LossReason, number>;
  for (const l of losses) out[l.reason] += l.count;
  return out;
}

/** Adds `n` to `series`/`reason` in a pending map (key: reason NUL series). */
export function addLoss(into: Map<string, number>, series: string, reason: LossReason, n: number): void {
  if (n <= 0) return;
  const k = `${reason}\u0000${series}`;
  into.set(k, (into.get(k) ?? 0) + n);
}

export function splitLossKey(k: string): { series: string; reason: LossReason } {
  const i = k.indexOf('\u0000');
  return { reason: k.slice(0, i) as LossReason, series: k.slice(i + 1) };
}

/** Suffix of the series a downsampled raw series' rollups go upstream in. */
export const DOWNSAMPLE_SUFFIX = ':min1';
export const DOWNSAMPLE_STATS = ['min', 'max', 'avg', 'count'] as const;

export function isDownsampledSeries(series: string): boolean {
  return series.includes(`${DOWNSAMPLE_SUFFIX}:`);
}
