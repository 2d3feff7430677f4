/**
 * Gateway ids and group tags (FORMAT.md §1.1), and epochs (§3.2): the one grammar of each that
 * every end checks them against.
 * A gateway id stands as an MQTT topic level (`fm/g/<id>/…`), an HTTP path segment and query
 * value, a file name and a command-line argument; a tag is matched against gateway ids' reported
 * tags and names a rollout's group. Hence ASCII letters, digits, `.`, `_`, `-`, at most 64, and a
 * letter or digit first: no MQTT wildcard or separator, no `.`/`..`, no hidden file, nothing a
 * CLI reads as a flag.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A gateway id: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`. */
export const GATEWAY_ID: RegExp = NAME;

/** A group tag: the gateway id's grammar, so a tag is as safe wherever it appears. */
export const GROUP_TAG: RegExp = NAME;

/** The grammar in words, for error messages. */
export const IDENTIFIER_RULE = '1-64 of letters, digits, . _ -, starting with a letter or digit';

// A string argument gets a plain boolean: a `v is string` guard would narrow a refused string to never.
export function isGatewayId(v: string): boolean;
export function isGatewayId(v: unknown): v is string;
export function isGatewayId(v: unknown): boolean {
  return typeof v === 'string' && GATEWAY_ID.test(v);
}

export function isGroupTag(v: string): boolean;
export function isGroupTag(v: unknown): v is string;
export function isGroupTag(v: unknown): boolean {
  return typeof v === 'string' && GROUP_TAG.test(v);
}

/**
 * A reading log's epoch (FORMAT.md §3.2): the id born with a gateway's database, carried in every
 * batch, ack and alerts message and keying `(gateway, epoch, seq)`. Gateways make 16 hex digits;
 * the grammar is the wider one the cloud has always stored, so no stored epoch becomes unreadable.
 * It stands in JSON, SQL keys, the cloud's `ts~gateway~epoch~seq` cursor and the relay's
 * `origin/epoch/seq` keys: no `~`, no `/`, nothing to escape.
 */
export const EPOCH: RegExp = /^[A-Za-z0-9._-]{1,64}$/;

/** The epoch grammar in words, for error messages. */
export const EPOCH_RULE = '1-64 of letters, digits, . _ -';

export function isEpoch(v: string): boolean;
export function isEpoch(v: unknown): v is string;
export function isEpoch(v: unknown): boolean {
  return typeof v === 'string' && EPOCH.test(v);
}
