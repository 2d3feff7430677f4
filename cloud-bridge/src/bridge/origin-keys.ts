import type { KeyObject } from 'node:crypto';
import { originPublicKey } from '@fieldmesh/protocol';

/** Where the receiver finds a gateway's registered origin public key (base64), if any; throws when it cannot tell. */
export interface OriginKeySource {
  publicKey(gatewayId: string): string | undefined;
}

/** What the receiver does with a batch's origin signature. */
export type SignatureRule = { verify: KeyObject } | { verify: null; allowUnsigned: boolean };

/**
 * The signature policy (docs/SECURITY.md): a gateway with a registered public key must sign
 * every batch, direct or relayed, and the signature must verify; a relay or buddy therefore
 * carries batches but cannot make one. A gateway with no key registered (enrolled before keys,
 * or a lab without credentials) may send unsigned batches on its own login, but no one may relay
 * an unsigned batch for it when logins are checked: the relay's login proves only the relay.
 */
export class OriginKeys {
  private readonly cache = new Map<string, KeyObject>();

  constructor(
    private readonly source: OriginKeySource | null,
    /** `credentials`: logins are checked (relayed unsigned batches refused); `none`: a lab. */
    private readonly mode: 'credentials' | 'none',
  ) {}

  rule(gatewayId: string, relayed: boolean): SignatureRule {
    // A source that cannot tell (a damaged key file) throws: the batch waits, never passes unchecked.
    const b64 = this.source?.publicKey(gatewayId);
    if (b64 === undefined) return { verify: null, allowUnsigned: !relayed || this.mode === 'none' };
    let key = this.cache.get(b64);
    if (key === undefined) {
      try {
        key = originPublicKey(b64);
      } catch {
        // A broken entry in the file: nothing can verify against it, so nothing signed passes.
        return { verify: null, allowUnsigned: false };
      }
      this.cache.set(b64, key);
    }
    return { verify: key };
  }
}
