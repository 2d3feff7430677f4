import type { Clock } from '@fieldmesh/device-sdk';
import type { LinkSession } from './uplink-link.js';

/**
 * One publish at QoS 1 outside the lanes (the offline status at stop, a one-off message):
 * resolves true on its PUBACK, or false after `timeoutMs` without one, so a caller never waits on
 * a link that went quiet. Nothing is kept for a later session.
 */
export function publishAcked(client: LinkSession, clock: Clock, topic: string, payload: Buffer | string, retain: boolean, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const t = clock.setTimeout(() => resolve(false), timeoutMs);
    t.unref?.();
    client.publish(topic, payload, { qos: 1, retain }, () => {
      clock.clearTimeout(t);
      resolve(true);
    });
  });
}
