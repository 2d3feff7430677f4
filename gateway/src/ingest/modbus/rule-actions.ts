/**
 * Rule actions: a Modbus write when a rule's alert is raised or cleared (`modbus.actions`), e.g.
 * switch a pump's coil off when the tank is too hot. The config check has already made sure the
 * register is writable and writes are on. A failed write is counted and logged (rate-limited),
 * not retried: the next transition of the rule writes again.
 */
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { AlertEvent } from '../../alerts/event.js';
import type { RuleActionConfig } from '../../config/modbus.js';
import type { ModbusIngest } from './modbus-ingest.js';

export function modbusRuleActions(modbus: ModbusIngest, actions: readonly RuleActionConfig[], clock: Clock, logger: Logger): (e: AlertEvent) => void {
  const log = logger.child({ component: 'modbus' });
  const limited = new RateLimitedLog(log, clock, { intervalMs: 60_000, countZero: false });
  return (e) => {
    for (const a of actions) {
      if (a.rule !== e.ruleId || a.on !== e.type) continue;
      modbus.write(a.device, a.sensor, a.value).then(
        () => log.info({ rule: a.rule, on: a.on, device: a.device, sensor: a.sensor, value: a.value }, `rule ${a.rule} ${a.on}: wrote ${a.value} to ${a.device}/${a.sensor}`),
        (err: Error & { code?: string }) => limited.error(`${a.rule}:${a.device}/${a.sensor}`, { code: err.code, rule: a.rule }, `rule ${a.rule} ${a.on}: write to ${a.device}/${a.sensor} failed: ${err.message}`),
      );
    }
  };
}
