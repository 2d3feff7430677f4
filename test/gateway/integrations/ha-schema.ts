/**
 * Home Assistant's documented MQTT device-based discovery payload, as a checker: the root keys
 * (`dev`, `o`, `cmps`, shared options), the device and origin mappings, and per platform the
 * options a sensor and a binary sensor take, with the device classes and state classes Home
 * Assistant lists and the units its sensor device classes accept. Returns the problems found.
 */
const SENSOR_CLASSES: Record<string, string[] | null> = {
  temperature: ['°C', '°F', 'K'],
  humidity: ['%'],
  pressure: ['Pa', 'hPa', 'kPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi'],
  power: ['W', 'kW', 'MW', 'GW', 'TW'],
  energy: ['Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'MJ', 'GJ'],
  voltage: ['V', 'mV', 'µV', 'kV', 'MV'],
  current: ['A', 'mA'],
  frequency: ['Hz', 'kHz', 'MHz', 'GHz'],
  apparent_power: ['VA'],
  reactive_power: ['var'],
  illuminance: ['lx'],
  carbon_dioxide: ['ppm'],
  sound_pressure: ['dB', 'dBA'],
  signal_strength: ['dB', 'dBm'],
  distance: ['km', 'm', 'cm', 'mm', 'mi', 'yd', 'in', 'ft'],
  speed: ['m/s', 'km/h', 'mph', 'mm/s', 'ft/s', 'mm/d', 'in/d', 'in/h', 'mm/h', 'kn', 'Beaufort'],
  irradiance: ['W/m²', 'BTU/(h⋅ft²)'],
  precipitation_intensity: ['in/d', 'in/h', 'mm/d', 'mm/h'],
  data_size: ['bit', 'kbit', 'Mbit', 'Gbit', 'B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'],
  duration: ['d', 'h', 'min', 's', 'ms'],
  volume: ['L', 'mL', 'gal', 'fl. oz.', 'm³', 'ft³', 'CCF'],
  pm1: ['µg/m³'],
  pm25: ['µg/m³'],
  pm10: ['µg/m³'],
  ph: null,
};
const BINARY_CLASSES = ['battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat', 'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window'];
const STATE_CLASSES = ['measurement', 'total', 'total_increasing', 'measurement_angle'];
const ROOT = new Set(['dev', 'device', 'o', 'origin', 'cmps', 'components', 'availability_topic', 'avty_t', 'payload_available', 'pl_avail', 'payload_not_available', 'pl_not_avail', 'qos', 'state_topic', 'stat_t', 'encoding']);
const DEVICE = new Set(['ids', 'identifiers', 'name', 'mf', 'manufacturer', 'mdl', 'model', 'sw', 'sw_version', 'hw', 'hw_version', 'via_device', 'sa', 'suggested_area', 'cns', 'connections', 'sn', 'serial_number']);
const ORIGIN = new Set(['name', 'sw', 'sw_version', 'url', 'support_url']);
const COMMON = new Set(['p', 'platform', 'name', 'unique_id', 'uniq_id', 'state_topic', 'stat_t', 'value_template', 'val_tpl', 'device_class', 'dev_cla', 'availability_topic', 'qos', 'object_id', 'icon', 'entity_category', 'enabled_by_default', 'expire_after', 'force_update']);
const SENSOR = new Set([...COMMON, 'unit_of_measurement', 'unit_of_meas', 'state_class', 'stat_cla', 'suggested_display_precision']);
const BINARY = new Set([...COMMON, 'payload_on', 'pl_on', 'payload_off', 'pl_off', 'off_delay']);
const ID = /^[A-Za-z0-9_-]+$/;

export function haDiscoveryProblems(payload: unknown): string[] {
  const p: string[] = [];
  if (typeof payload !== 'object' || payload === null) return ['payload is not a JSON object'];
  const o = payload as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!ROOT.has(k)) p.push(`unknown root option ${k}`);
  const dev = o.dev as Record<string, unknown> | undefined;
  if (!dev || typeof dev !== 'object') p.push('dev (device) is required');
  else {
    for (const k of Object.keys(dev)) if (!DEVICE.has(k)) p.push(`unknown device option ${k}`);
    const ids = dev.ids;
    if (!(typeof ids === 'string' || (Array.isArray(ids) && ids.length > 0 && ids.every((x) => typeof x === 'string')))) p.push('dev.ids must be a string or a non-empty list of strings');
  }
  const origin = o.o as Record<string, unknown> | undefined;
  if (!origin || typeof origin.name !== 'string') p.push('o (origin) with a name is required');
  else for (const k of Object.keys(origin)) if (!ORIGIN.has(k)) p.push(`unknown origin option ${k}`);
  const cmps = o.cmps as Record<string, Record<string, unknown>> | undefined;
  if (!cmps || typeof cmps !== 'object' || Object.keys(cmps).length === 0) p.push('cmps must name at least one component');
  else {
    for (const [id, c] of Object.entries(cmps)) {
      if (!ID.test(id)) p.push(`component id ${id} is not [a-zA-Z0-9_-]`);
      if (c.p === undefined) p.push(`${id}: p (platform) is required`);
      if (Object.keys(c).length === 1) continue; // `{"p": …}` alone removes a component
      if (typeof c.unique_id !== 'string' || !ID.test(c.unique_id)) p.push(`${id}: unique_id is required, [a-zA-Z0-9_-]`);
      if (typeof c.state_topic !== 'string' && typeof o.state_topic !== 'string') p.push(`${id}: state_topic is required`);
      if (c.p === 'sensor') {
        for (const k of Object.keys(c)) if (!SENSOR.has(k)) p.push(`${id}: unknown sensor option ${k}`);
        if (c.state_class !== undefined && !STATE_CLASSES.includes(String(c.state_class))) p.push(`${id}: state_class ${String(c.state_class)}`);
        if (c.device_class !== undefined) {
          const units = SENSOR_CLASSES[String(c.device_class)];
          if (units === undefined) p.push(`${id}: device_class ${String(c.device_class)} is no sensor class`);
          else if (units !== null && !units.includes(String(c.unit_of_measurement))) p.push(`${id}: unit ${String(c.unit_of_measurement)} is not one of ${String(c.device_class)}'s`);
        }
      } else if (c.p === 'binary_sensor') {
        for (const k of Object.keys(c)) if (!BINARY.has(k)) p.push(`${id}: unknown binary_sensor option ${k}`);
        if (c.device_class !== undefined && !BINARY_CLASSES.includes(String(c.device_class))) p.push(`${id}: device_class ${String(c.device_class)} is no binary_sensor class`);
      } else p.push(`${id}: platform ${String(c.p)} not expected`);
    }
  }
  return p;
}
