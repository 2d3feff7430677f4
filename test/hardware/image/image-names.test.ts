import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDeviceId } from '@fieldmesh/device-sdk';
import { isGatewayId } from '@fieldmesh/protocol';
import { isImageName } from '#hardware/image/identity';

/**
 * An image's gateway, device and site names are host names (identity.ts), a stricter rule than
 * the gateway id and device id grammar, kept apart because hardware does not import protocol:
 * every name an image accepts must still be an id the gateway and the cloud accept.
 */
describe('image names', () => {
  it('are gateway ids and device ids, always', () => {
    const unit = fc.constantFrom(...'az09-._AZ+/ #'.split(''));
    fc.assert(
      fc.property(fc.string({ unit, minLength: 0, maxLength: 70 }), (s) => {
        if (isImageName(s)) expect([isGatewayId(s), isDeviceId(s)], JSON.stringify(s)).toEqual([true, true]);
      }),
      { numRuns: 5000 },
    );
    // Long names too: strings of the host-name shape, up to the 63-character label.
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/), (s) => {
        expect([isImageName(s), isGatewayId(s), isDeviceId(s)], s).toEqual([true, true, true]);
      }),
      { numRuns: 2000 },
    );
  });

  it('take host names and refuse what a host name cannot be', () => {
    for (const ok of ['gw-a', 'pi4', '0', 'a'.repeat(63)]) expect(isImageName(ok), ok).toBe(true);
    // Gateway ids all, but not one DNS label of lower case letters, digits and '-'.
    for (const no of ['GW-A', 'gw.a', 'gw_a', 'a'.repeat(64), '-gw', '']) expect(isImageName(no), no).toBe(false);
  });
});
