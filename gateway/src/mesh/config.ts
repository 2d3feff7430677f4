import { MeshError } from './errors.js';
import { IDENTIFIER_RULE, isGatewayId } from '@fieldmesh/protocol';

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

/** What is wrong with tuning overrides for a preset: the offending key (under `mesh.tuning`), or null. */
export interface TuningProblem {
  /** The override key at fault (a cross-field rule names the key to change). */
  key: string;
  /** The key is not a tuning field at all (a typo): otherwise its value is out of range. */
  unknown: boolean;
  detail: string;
}

/**
 * The rules of tuning overrides, in one place: the gateway config's `mesh.tuning` is checked
 * against them at start (gateway/src/config/mesh.ts, with its key path) and `meshTuning` builds
 * from them. Returns the first problem, or null.
 */
export function tuningProblem(preset: PresetName, overrides: Record<string, unknown>): TuningProblem | null {
  const base = presets[preset];
  if (!base) return { key: 'preset', unknown: false, detail: `unknown mesh preset "${String(preset)}"; use lan, wan or local` };
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'lifeguard') {
      if (typeof value !== 'boolean') return { key, unknown: false, detail: `must be true or false, not ${JSON.stringify(value)}` };
      continue;
    }
    const range = bounds[key as keyof typeof bounds];
    if (!range) return { key, unknown: true, detail: `unknown mesh tuning key "${key}"; known keys: ${Object.keys(base).join(', ')}` };
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      return { key, unknown: false, detail: `must be an integer from ${range[0]} to ${range[1]}, not ${JSON.stringify(value)}` };
    }
  }
  const probeTimeoutMs = (overrides.probeTimeoutMs as number | undefined) ?? base.probeTimeoutMs;
  const probeIntervalMs = (overrides.probeIntervalMs as number | undefined) ?? base.probeIntervalMs;
  if (probeTimeoutMs >= probeIntervalMs) {
    return {
      key: 'probeTimeoutMs' in overrides ? 'probeTimeoutMs' : 'probeIntervalMs',
      unknown: false,
      detail: `probeTimeoutMs (${probeTimeoutMs}) must be less than probeIntervalMs (${probeIntervalMs}) (preset ${preset})`,
    };
  }
  return null;
}

/**
 * Builds tuning from a preset plus overrides; rejects unknown keys and out-of-range values
 * (`tuningProblem`) with the key and the fix. The result is frozen.
 */
export function meshTuning(preset: PresetName = 'lan', overrides: Record<string, unknown> = {}): Readonly<MeshTuning> {
  const problem = tuningProblem(preset, overrides);
  if (problem) throw new MeshError('FM_ERR_MESH_CONFIG', problem.key === 'preset' ? problem.detail : `mesh.tuning.${problem.key}: ${problem.detail}`);
  return Object.freeze({ ...presets[preset], ...overrides } as MeshTuning);
}

/**
 * The `mesh:` section as Mesh runs on it: validated once, by the gateway config
 * (gateway/src/config/mesh.ts, `checkMesh`), then built here with the tuning resolved.
 */
export interface MeshSection {
  /** UDP port (0 picks a free one). */
  readonly port: number;
  /** Publish and browse `_fieldmesh._udp`. */
  readonly mdns: boolean;
  /** Static seed addresses "host:port" / "[IPv6]:port". */
  readonly seeds: readonly string[];
  /** Cluster key, base64 of 32 bytes: the primary. */
  readonly key: string;
  /** Other keys still accepted while a rotation is under way. */
  readonly keys: readonly string[];
  /** Cluster label; meshes with different labels ignore each other. */
  readonly label: string;
  readonly preset: PresetName;
  /** Address to bind. */
  readonly bind: string;
  /** Address peers should use, when the bound one is not it (NAT, several interfaces). */
  readonly advertise?: string;
  /** The preset with the config's `mesh.tuning` overrides applied. */
  readonly tuning: Readonly<MeshTuning>;
}

/** The validated config section (structurally: gateway/src/config/mesh.ts `MeshConfig`). */
export interface MeshSectionInput {
  port: number;
  mdns: boolean;
  seeds: string[];
  key: string | null;
  keys?: string[];
  label?: string;
  preset?: PresetName;
  bind?: string;
  advertise?: string | null;
  tuning?: Record<string, unknown>;
}

/** Builds the section Mesh runs on; a mesh needs its key (a null key means the mesh is off). */
export function meshSection(c: MeshSectionInput): MeshSection {
  if (c.key === null) throw new MeshError('FM_ERR_MESH_KEY', 'mesh.key is required: a base64 32-byte key shared by the mesh (openssl rand -base64 32)');
  const preset = c.preset ?? 'lan';
  return Object.freeze({
    port: c.port,
    mdns: c.mdns,
    seeds: Object.freeze([...c.seeds]),
    key: c.key,
    keys: Object.freeze([...(c.keys ?? [])]),
    label: checkLabel(c.label ?? 'fieldmesh'),
    preset,
    bind: c.bind ?? '0.0.0.0',
    ...(c.advertise ? { advertise: c.advertise } : {}),
    tuning: meshTuning(preset, c.tuning ?? {}),
  });
}

export function checkMemberId(id: string): string {
  if (!isGatewayId(id)) {
    throw new MeshError('FM_ERR_MESH_ID', `member id ${JSON.stringify(id)} is not a gateway id (${IDENTIFIER_RULE})`);
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
