import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { GatewayConfig } from './config/gateway-config.js';
import type { OriginKey } from './uplink/origin-key.js';
import { Uplink } from './uplink/uplink.js';
import type { UplinkOptions } from './uplink/uplink-options.js';
import { readUplinkTls } from './uplink/uplink-tls-files.js';

/**
 * The uplink as the gateway runs it, from `uplink:` in the config (null when none is
 * configured: readings are stored and forwarded once one is). `log` is the view of the log the
 * uplink may send (without what deadband rules held back), `alerts` the priority lane, `status`
 * the extra fields of the retained status message.
 */
export function createGatewayUplink(deps: {
  config: Readonly<GatewayConfig>;
  log: UplinkOptions['log'];
  alerts: UplinkOptions['alerts'];
  originKey: OriginKey | null;
  status: () => object;
  clock: Clock;
  logger: Logger;
}): Uplink | null {
  const up = deps.config.uplink;
  if (up === null) return null;
  return new Uplink({
    gatewayId: deps.config.id,
    log: deps.log,
    url: up.url,
    tls: readUplinkTls(up),
    ...(deps.alerts ? { alerts: deps.alerts } : {}),
    maxBytesPerSecond: up.maxBytesPerSecond,
    maxInFlight: up.maxInFlight,
    stateSeries: up.stateSeries,
    username: up.username ?? deps.config.id,
    ...(deps.originKey ? { sign: deps.originKey.sign } : {}),
    ...(up.password !== null ? { password: up.password } : {}),
    clock: deps.clock,
    logger: deps.logger,
    status: deps.status,
  });
}
