import { MeshError } from './errors.js';
import { MEMBER_ID } from './codec.js';

/**
 * Membership tuning, after memberlist's config.go. Three presets: `lan` (a site network, the
 * default), `wan` (gateways across sites or cellular links), `local` (one host, tests, demos).
 * Every field: unit, LAN default, and the trade-off. Time fields are milliseconds.
 */
export interface MeshTuning {
  /**
   * ms between probes of one member (LAN 1000). Lower detects failures sooner and costs one
   * ping+ack more per member per second. Lifeguard multiplies it by the local health score + 1.
   */
  probeIntervalMs: number;
  /** ms to wait for a direct ack before asking others (LAN 500). Must exceed the network's round trip; must be < probeIntervalMs. */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly after a missed ack (LAN 3). More: fewer false suspicions, more traffic. 0 disables indirect probes. */
  indirectChecks: number;
  /** ms between gossip rounds (LAN 200). Lower spreads updates faster for more packets. */
  gossipIntervalMs: number;
  /** Members gossiped to per round (LAN 3). Higher spreads faster, costs more packets per round. */
  gossipNodes: number;
  /** ms after death during which a dead member is still gossiped to, so it can learn it was declared dead and refute (LAN 30000). */
  gossipToTheDeadMs: number;
  /** Each update is retransmitted retransmitMult × ⌈log10(N+1)⌉ times (LAN 4). Higher is more robust to loss, costs bandwidth. */
  retransmitMult: number;
  /**
   * Suspicion timeout minimum = suspicionMult × max(1, log10 N) × probeIntervalMs (LAN 4: 8 s at
   * N=100). Higher tolerates slow members longer, detects real failures later.
   */
  suspicionMult: number;
  /** Lifeguard: the timeout starts at suspicionMaxTimeoutMult × minimum and shrinks with independent confirmations (LAN 6). */
  suspicionMaxTimeoutMult: number;
  /** ms between anti-entropy exchanges with one random member (LAN 30000). 0 disables periodic push-pull (joins still use it). */
  pushPullIntervalMs: number;
  /**
   * Members per periodic push-pull (LAN 16): a rotating window of the state, so the cost per
   * member does not grow with the mesh; joins and reconnects exchange the full state.
   */
  pushPullWindow: number;
  /** Lifeguard's local health score range: multiplier 1..awarenessMaxMultiplier (LAN 8: scores 0-7). */
  awarenessMaxMultiplier: number;
  /** ms between attempts to reach a dead member's last address or the seeds when alone (LAN 10000); partitions heal through it. */
  reconnectIntervalMs: number;
  /** ms after which a dead member is forgotten (LAN 0 = never: a partition of any length heals). */
  deadReapMs: number;
  /** ms a packet's sent-at may differ from our clock before it is dropped as a replay (LAN 60000; 0 = off, for clocks that cannot be trusted). */
  replayWindowMs: number;
  /** Lifeguard (health multiplier, nacks, shrinking suspicion timeouts, suspect told directly). Off only to measure its effect. */
  lifeguard: boolean;
  /**
   * Stall guard, a fieldmesh extension beyond Lifeguard. Deaths and failed probes are decided one
   * event-loop turn after their timer, so datagrams that queued while the loop was busy (a
   * refutation, a late ack) are read first; a timer that fires more than this many ms late means
   * our own loop froze, and the decision waits one more probe timeout (LAN 1000; 0 = guard off).
   */
  stallThresholdMs: number;
}

export type PresetName = 'lan' | 'wan' | 'local';

export const presets: Record<PresetName, Readonly<MeshTuning>> = Object.freeze({
  lan: Object.freeze({
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadMs: 30_000,
    retransmitMult: 4,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    pushPullIntervalMs: 30_000,
    pushPullWindow: 16,
    awarenessMaxMultiplier: 8,
    reconnectIntervalMs: 10_000,
    deadReapMs: 0,
    replayWindowMs: 60_000,
    lifeguard: true,
    stallThresholdMs: 1000,
  }),
  wan: Object.freeze({
    probeIntervalMs: 5000,
    probeTimeoutMs: 3000,
    indirectChecks: 3,
    gossipIntervalMs: 500,
    gossipNodes: 4,
    gossipToTheDeadMs: 60_000,
    retransmitMult: 4,
    suspicionMult: 6,
    suspicionMaxTimeoutMult: 6,
    pushPullIntervalMs: 60_000,
    pushPullWindow: 16,
    awarenessMaxMultiplier: 8,
    reconnectIntervalMs: 30_000,
    deadReapMs: 0,
    replayWindowMs: 300_000,
    lifeguard: true,
    stallThresholdMs: 3000,
  }),
  local: Object.freeze({
    probeIntervalMs: 1000,
    probeTimeoutMs: 200,
    indirectChecks: 1,
    gossipIntervalMs: 100,
    gossipNodes: 3,
    gossipToTheDeadMs: 15_000,
    retransmitMult: 2,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 6,
    pushPullIntervalMs: 15_000,
    pushPullWindow: 16,
    awarenessMaxMultiplier: 8,
    reconnectIntervalMs: 5000,
    deadReapMs: 0,
    replayWindowMs: 60_000,
    lifeguard: true,
    stallThresholdMs: 1000,
  }),
});

/** Integer bounds per field: [min, max]. */
const bounds: Record<Exclude<keyof MeshTuning, 'lifeguard'>, [number, number]> = {
  probeIntervalMs: [10, 600_000],
  probeTimeoutMs: [1, 600_000],
  indirectChecks: [0, 16],
  gossipIntervalMs: [1, 600_000],
  gossipNodes: [1, 64],
  gossipToTheDeadMs: [0, 86_400_000],
  retransmitMult: [1, 64],
  suspicionMult: [1, 64],
  suspicionMaxTimeoutMult: [1, 64],
  pushPullIntervalMs: [0, 86_400_000],
  pushPullWindow: [1, 255],
  awarenessMaxMultiplier: [1, 64],
  reconnectIntervalMs: [100, 86_400_000],
  deadReapMs: [0, 2 ** 40],
  replayWindowMs: [0, 86_400_000],
  stallThresholdMs: [0, 600_000],
};

/**
 * Builds tuning from a preset plus overrides; rejects unknown keys and out-of-range values with
 * the key and the fix. The result is frozen.
 */
export function meshTuning(preset: PresetName = 'lan', overrides: Record<string, unknown> = {}): Readonly<MeshTuning> {
  const base = presets[preset];
  if (!base) throw new MeshError('FM_ERR_MESH_CONFIG', `unknown mesh preset "${String(preset)}"; use lan, wan or local`);
  const out: MeshTuning = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'lifeguard') {
      if (typeof value !== 'boolean') throw new MeshError('FM_ERR_MESH_CONFIG', `mesh.lifeguard must be true or false, not ${JSON.stringify(value)}`);
      out.lifeguard = value;
      continue;
    }
    const range = bounds[key as keyof typeof bounds];
    if (!range) {
      throw new MeshError('FM_ERR_MESH_CONFIG', `unknown mesh tuning key "${key}"; known keys: ${Object.keys(base).join(', ')}`);
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new MeshError('FM_ERR_MESH_CONFIG', `mesh.${key} must be an integer from ${range[0]} to ${range[1]}, not ${JSON.stringify(value)}`);
    }
    (out as unknown as Record<string, number>)[key] = value;
  }
  if (out.probeTimeoutMs >= out.probeIntervalMs) {
    throw new MeshError('FM_ERR_MESH_CONFIG', `mesh.probeTimeoutMs (${out.probeTimeoutMs}) must be less than mesh.probeIntervalMs (${out.probeIntervalMs})`);
  }
  return Object.freeze(out);
}

export function checkMemberId(id: string): string {
  if (!MEMBER_ID.test(id)) {
    throw new MeshError('FM_ERR_MESH_ID', `member id ${JSON.stringify(id)} is not 1-64 letters, digits, ".", "_" or "-"`);
  }
  return id;
}

/** Cluster labels travel only in the AAD, but are limited so a typo'd megabyte never reaches crypto. */
export function checkLabel(label: string): string {
  if (label.length === 0 || Buffer.byteLength(label) > 128) {
    throw new MeshError('FM_ERR_MESH_CONFIG', `mesh label must be 1-128 bytes, not ${JSON.stringify(label.slice(0, 40))}`);
  }
  return label;
}
