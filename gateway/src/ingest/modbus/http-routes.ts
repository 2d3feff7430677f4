/**
 * `POST /api/modbus/write?device=&sensor=&value=` (HTTP.md): writes one coil or holding register
 * marked writable, when `modbus.writes` is on. `value` is a number, `true` or `false`, or, for a
 * string register, text. Replies 200 `{ ok: true }`, 403 when writes are off or the register is
 * not writable, 400 for an unknown register or a value that does not fit, 502 when the slave did
 * not take it (timeout, exception).
 */
import type { HttpApi } from '../../http/server.js';
import { HttpError } from '../../http/errors.js';
import { ModbusError } from './errors.js';
import type { ModbusIngest } from './modbus-ingest.js';

export function registerModbusRoutes(http: HttpApi, modbus: () => ModbusIngest | null): void {
  http.route('POST', '/api/modbus/write', async (req) => {
    const m = modbus();
    const q = req.url.searchParams;
    const device = q.get('device');
    const sensor = q.get('sensor');
    const raw = q.get('value');
    if (!device || !sensor || raw === null) throw new HttpError(400, 'FM_ERR_HTTP_BAD_REQUEST', 'give device, sensor and value');
    if (!m) throw new HttpError(403, 'FM_ERR_HTTP_BAD_REQUEST', 'no Modbus slaves are configured');
    const value = raw === 'true' ? true : raw === 'false' ? false : raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    try {
      await m.write(device, sensor, value);
    } catch (err) {
      if (!(err instanceof ModbusError)) throw err;
      const status = err.code === 'FM_ERR_MODBUS_WRITE_DENIED' ? 403 : err.code === 'FM_ERR_MODBUS_WRITE_FAILED' ? 502 : 400;
      return { status, json: { error: err.code, reason: err.message } };
    }
    return { json: { ok: true, device, sensor, value } };
  });
}
