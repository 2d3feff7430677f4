/**
 * Events of the live stream (LIVE.md). Values are as stored: JSON cannot carry NaN or ±Infinity,
 * so those travel as the strings "NaN", "Infinity", "-Infinity" (as in the HTTP API).
 */
export interface LiveReading {
  series: string;
  ts: number;
  value: number | boolean | string;
  unit?: string;
}

export interface ReadingsEvent {
  type: 'readings';
  gateway: string;
  readings: LiveReading[];
}

export interface StatusEvent {
  type: 'status';
  gateway: string;
  online: boolean;
  /** Cloud wall time (ms) of this update. */
  at: number;
  /** The gateway's status message (backlog, oldestUnsentAgeMs, members, drop counters…) when this update carried one. */
  status?: Record<string, unknown>;
}

/** An alert raised or cleared on a gateway: the gateway's alert payload v1 (gateway/src/alerts/event.ts). */
export interface AlertEventMessage {
  type: 'alert';
  gateway: string;
  alert: Record<string, unknown>;
}

/** Sent once a slow subscriber caught up after some of its readings were sampled away. */
export interface SampledEvent {
  type: 'sampled';
  /** Readings not delivered (an older value of a series replaced by a newer one, or dropped). */
  dropped: number;
}

export type LiveEvent = ReadingsEvent | StatusEvent | AlertEventMessage;
export type LiveMessage = LiveEvent | SampledEvent | { type: 'hello'; v: 1; filter: unknown };

export function jsonValue(v: number | boolean | string): number | boolean | string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
