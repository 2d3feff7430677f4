/**
 * SenML units (RFC 8428 §12.1 and the secondary units of RFC 8798) as Home Assistant's unit and
 * sensor device class, where Home Assistant has a class that accepts that unit (its sensor
 * device-class table). A unit with no class is still shown with its unit; a class is never
 * guessed from a unit another class shares (`%` could be humidity, battery or moisture).
 */
export interface HaUnit {
  unit: string;
  deviceClass?: string;
}

const TABLE: Record<string, HaUnit> = {
  Cel: { unit: '°C', deviceClass: 'temperature' },
  K: { unit: 'K', deviceClass: 'temperature' },
  '%RH': { unit: '%', deviceClass: 'humidity' },
  Pa: { unit: 'Pa', deviceClass: 'pressure' },
  hPa: { unit: 'hPa', deviceClass: 'pressure' },
  bar: { unit: 'bar', deviceClass: 'pressure' },
  W: { unit: 'W', deviceClass: 'power' },
  kW: { unit: 'kW', deviceClass: 'power' },
  Wh: { unit: 'Wh', deviceClass: 'energy' },
  kWh: { unit: 'kWh', deviceClass: 'energy' },
  V: { unit: 'V', deviceClass: 'voltage' },
  mV: { unit: 'mV', deviceClass: 'voltage' },
  A: { unit: 'A', deviceClass: 'current' },
  mA: { unit: 'mA', deviceClass: 'current' },
  Hz: { unit: 'Hz', deviceClass: 'frequency' },
  MHz: { unit: 'MHz', deviceClass: 'frequency' },
  VA: { unit: 'VA', deviceClass: 'apparent_power' },
  var: { unit: 'var', deviceClass: 'reactive_power' },
  lx: { unit: 'lx', deviceClass: 'illuminance' },
  ppm: { unit: 'ppm', deviceClass: 'carbon_dioxide' },
  dB: { unit: 'dB', deviceClass: 'sound_pressure' },
  dBm: { unit: 'dBm', deviceClass: 'signal_strength' },
  m: { unit: 'm', deviceClass: 'distance' },
  cm: { unit: 'cm', deviceClass: 'distance' },
  mm: { unit: 'mm', deviceClass: 'distance' },
  km: { unit: 'km', deviceClass: 'distance' },
  'm/s': { unit: 'm/s', deviceClass: 'speed' },
  'km/h': { unit: 'km/h', deviceClass: 'speed' },
  'W/m2': { unit: 'W/m²', deviceClass: 'irradiance' },
  'mm/h': { unit: 'mm/h', deviceClass: 'precipitation_intensity' },
  B: { unit: 'B', deviceClass: 'data_size' },
  KiB: { unit: 'KiB', deviceClass: 'data_size' },
  GB: { unit: 'GB', deviceClass: 'data_size' },
  s: { unit: 's', deviceClass: 'duration' },
  ms: { unit: 'ms', deviceClass: 'duration' },
  min: { unit: 'min', deviceClass: 'duration' },
  h: { unit: 'h', deviceClass: 'duration' },
  m3: { unit: 'm³', deviceClass: 'volume' },
  l: { unit: 'L', deviceClass: 'volume' },
  '%': { unit: '%' },
  pH: { unit: '', deviceClass: 'ph' },
  lat: { unit: '°' },
  lon: { unit: '°' },
  deg: { unit: '°' },
};

/** Particulate matter: µg/m³ is PM1, PM2.5 or PM10 by the sensor's own name (PMS5003 names them so). */
function particulate(sensor: string): string | undefined {
  const s = sensor.toLowerCase();
  if (/pm2[._]?5/.test(s)) return 'pm25';
  if (/pm10/.test(s)) return 'pm10';
  if (/pm1(?![0-9])|pm1[._]0/.test(s)) return 'pm1';
  return undefined;
}

export function haUnit(senmlUnit: string | undefined, sensor: string): HaUnit | undefined {
  if (senmlUnit === undefined || senmlUnit === '') return undefined;
  if (senmlUnit === 'ug/m3') {
    const cls = particulate(sensor);
    return cls ? { unit: 'µg/m³', deviceClass: cls } : { unit: 'µg/m³' };
  }
  return TABLE[senmlUnit] ?? { unit: senmlUnit };
}
