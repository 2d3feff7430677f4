/**
 * What a poller needs of a bus: one transaction at a time, answered or failed within its
 * timeout. RTU lines (rtu-transport.ts) and TCP endpoints (tcp-transport.ts) implement it over a
 * SerialLink, so the in-memory links of serial ingest drive both in deterministic tests.
 */
import type { ModbusRequest, ReadResult } from './pdu.js';
import type { ModbusFault } from './errors.js';

export interface ModbusTransport {
  /** `rtu:/dev/ttyUSB0` or `tcp:host:port`: the `bus` label of metrics and logs. */
  readonly name: string;
  /**
   * Queues one transaction behind those already waiting (FIFO: a retry queued now goes after
   * every other slave's request). Rejects with ModbusFaultError: timeout, a frame fault, an
   * exception response, or link_down at once while the link is down.
   */
  transact(unit: number, req: ModbusRequest, timeoutMs: number): Promise<ReadResult>;
  /** Whether the link is open now (a poll finding it down waits for onUp instead of failing). */
  readonly up: boolean;
  start(): void;
  stop(): Promise<void>;
  /** Faults not tied to a transaction (late frames), by unit; drained by the ingest's stats. */
  onStrayFault(listener: (unit: number, fault: ModbusFault) => void): void;
  /** Called each time the link comes up (a poll that found it down runs again at once). */
  onUp(listener: () => void): void;
  stats(): TransportStats;
}

export interface TransportStats {
  name: string;
  state: 'down' | 'opening' | 'up' | 'stopped';
  opens: number;
  lost: number;
  openFailures: number;
  transactions: number;
  /** Transactions waiting for the bus now. */
  queued: number;
  lastError?: { message: string; at: number };
}
