import type { ConfigBody, ReleaseBody, ReportedState, RollbackBody, SignedArtifact } from '@fieldmesh/protocol';

/**
 * Who a desired entry is for: one gateway, every gateway carrying a tag (a group), or all.
 * Stored as a scope string: `gateway:gw-a`, `group:north`, `all`.
 */
export type DesiredTarget = { gateway: string } | { group: string } | { all: true };

/** What the fleet wants a gateway to run. A missing part means "keep what you run". */
export interface DesiredEntry {
  version?: string;
  configRevision?: number;
  rollback?: SignedArtifact<RollbackBody>;
}

/** An entry as history and views show it: a rollback by its order, not the whole signed order. */
export function entrySummary(e: DesiredEntry): { version?: string; configRevision?: number; rollbackOrder?: number } {
  return {
    ...(e.version !== undefined ? { version: e.version } : {}),
    ...(e.configRevision !== undefined ? { configRevision: e.configRevision } : {}),
    ...(e.rollback ? { rollbackOrder: e.rollback.body.order } : {}),
  };
}

export interface StoredDesired extends DesiredEntry {
  scope: string;
  /** Cloud wall time it was set (ms). */
  setAt: number;
  /** Increases with every write of any entry: "the newest group entry" is the highest. */
  rev: number;
  /** The admin token's name, or `rollout:<id>`. */
  by: string;
}

/** The fleet's view of one gateway: its tags and last report (from its reported state), and what was last published to it. */
export interface FleetGateway {
  id: string;
  tags: string[];
  reported: ReportedState | null;
  /** Cloud wall time of the last accepted report (ms). */
  reportedAt: number | null;
  /** The serial of the last desired message published to it (0: none yet). */
  serial: number;
  /** The last desired message published to it, without its serial (JSON), to tell a change from a repeat. */
  published: string | null;
}

/** A bundle file as uploaded (its hash and size measured while it was written). */
export interface StoredBundle {
  version: string;
  sha256: string;
  bytes: number;
  uploadedAt: number;
}

export interface StoredRelease {
  version: string;
  envelope: SignedArtifact<ReleaseBody>;
  addedAt: number;
}

export interface StoredConfig {
  revision: number;
  envelope: SignedArtifact<ConfigBody>;
  addedAt: number;
}

export type RolloutState = 'running' | 'paused' | 'stopped' | 'done';

export interface RolloutPlan {
  version?: string;
  configRevision?: number;
  group?: string;
  canaryPercent: number;
  /** Waves after the canary wave. */
  waves: number;
  maxFailurePercent: number;
  waveTimeoutSec: number;
}

export type MemberOutcome = 'pending' | 'adopted' | 'failed';

export interface RolloutMember {
  gateway: string;
  outcome: MemberOutcome;
  /** Why it failed: rolled-back / refused reason / timeout. */
  reason?: string;
}

export interface StoredRollout {
  id: number;
  plan: RolloutPlan;
  state: RolloutState;
  /** Every wave's members, the canary first; fixed when the rollout is created. */
  waves: RolloutMember[][];
  /** Index of the wave started last (-1: none yet). */
  wave: number;
  /** Cloud monotonic-independent wall time the current wave started (ms). */
  waveStartedAt: number | null;
  stopReason: string | null;
  createdAt: number;
  updatedAt: number;
  by: string;
}

export interface FleetEvent {
  id: number;
  at: number;
  gateway: string | null;
  kind: string;
  detail: Record<string, unknown>;
}

/**
 * The cloud's fleet state (`<dataDir>/fleet.sqlite`). Release bundles and signed envelopes live
 * as files (release-files.ts); this holds what refers to them. Synchronous: every call is a
 * small indexed read or a one-row write.
 */
export interface FleetStore {
  putBundle(b: StoredBundle): void;
  bundle(version: string): StoredBundle | null;
  putRelease(r: StoredRelease): void;
  release(version: string): StoredRelease | null;
  releases(): StoredRelease[];
  putConfig(c: StoredConfig): void;
  config(revision: number): StoredConfig | null;
  configs(): StoredConfig[];

  setDesired(scope: string, entry: DesiredEntry, at: number, by: string): StoredDesired;
  desired(scope: string): StoredDesired | null;
  /** Removes an entry; whether there was one. */
  deleteDesired(scope: string): boolean;
  allDesired(): StoredDesired[];

  gateway(id: string): FleetGateway | null;
  gateways(): FleetGateway[];
  /** Creates the record if missing; returns it. */
  touchGateway(id: string): FleetGateway;
  saveReported(id: string, reported: ReportedState, tags: string[], at: number): void;
  savePublished(id: string, serial: number, published: string): void;

  createRollout(r: Omit<StoredRollout, 'id'>): StoredRollout;
  saveRollout(r: StoredRollout): void;
  rollout(id: number): StoredRollout | null;
  rollouts(limit?: number): StoredRollout[];

  addEvent(e: Omit<FleetEvent, 'id'>): void;
  history(q: { gateway?: string; limit: number; before?: number }): FleetEvent[];

  close(): void;
}

export const scopeOf = (t: DesiredTarget): string => ('gateway' in t ? `gateway:${t.gateway}` : 'group' in t ? `group:${t.group}` : 'all');
