/**
 * The gossip messages (SWIM with the Lifeguard refinements, after hashicorp/memberlist). Their
 * byte layout is in FORMAT.md and codec.ts.
 */
export const MessageType = {
  ping: 1,
  indirectPing: 2,
  ack: 3,
  nack: 4,
  suspect: 5,
  alive: 6,
  dead: 7,
  pushPull: 8,
  compound: 9,
} as const;

/** Member states as they travel in push-pull entries. */
export const MemberState = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type MemberStateName = keyof typeof MemberState;
export const memberStateNames: MemberStateName[] = ['alive', 'suspect', 'dead', 'left'];

/** A direct probe. `target` lets a process now living at an old address refuse a probe for someone else. */
export interface Ping {
  type: 'ping';
  seq: number;
  target: string;
  source: string;
  sourceAddr: string;
}

/** Ask a member to probe `target` for us (SWIM's ping-req); `nack` asks for a nack if it hears nothing. */
export interface IndirectPing {
  type: 'indirect-ping';
  seq: number;
  target: string;
  targetAddr: string;
  nack: boolean;
  source: string;
  sourceAddr: string;
}

export interface Ack {
  type: 'ack';
  seq: number;
}

/** Lifeguard: "I tried your target and heard nothing", so the prober knows its own path works. */
export interface Nack {
  type: 'nack';
  seq: number;
}

export interface Suspect {
  type: 'suspect';
  incarnation: number;
  node: string;
  from: string;
}

export interface Alive {
  type: 'alive';
  incarnation: number;
  node: string;
  addr: string;
  /** Encoded MemberMeta (meta.ts), at most 512 bytes; kept encoded so relaying never re-encodes. */
  meta: Buffer;
}

/** `from === node` means the member left gracefully. */
export interface Dead {
  type: 'dead';
  incarnation: number;
  node: string;
  from: string;
}

export interface PushPullEntry {
  node: string;
  addr: string;
  incarnation: number;
  state: MemberStateName;
  meta: Buffer;
}

/**
 * Anti-entropy: a chunk of one member's state. A state larger than a datagram travels as several
 * independent chunks; each merges on its own, so a lost chunk loses only its entries.
 */
export interface PushPull {
  type: 'push-pull';
  /** A join or reconnect: the receiver answers with its full state, not a window. */
  join: boolean;
  /** An answer: the receiver must not answer again. */
  reply: boolean;
  entries: PushPullEntry[];
}

export type Message = Ping | IndirectPing | Ack | Nack | Suspect | Alive | Dead | PushPull;
