import { describe, expect, it } from 'vitest';
import {
  createSensorParser,
  MHZ19_READ_COMMAND,
  mhz19Reply,
  nmeaSentence,
  parseLinePairs,
  pms5003Frame,
  SensorProfileError,
} from '#hardware/sensors/index';
import { bytes, feedCut, NOW } from './feed.js';

const values = (rs: { series: string; value: unknown; unit?: string }[]) => Object.fromEntries(rs.map((r) => [r.series.split('/').slice(1).join('/'), r.value]));

describe('line profile', () => {
  it('parses key=value pairs, rejects a line with any bad pair whole', () => {
    expect(parseLinePairs('t=21.5 h=40,ok=true')).toEqual(new Map<string, unknown>([['t', 21.5], ['h', 40], ['ok', true]]));
    for (const bad of ['t=abc', 't=', '=3', 't=1 t=2', 'bad key=1', 't=1e999', 'just text']) expect(parseLinePairs(bad), bad).toBeUndefined();
    const p = createSensorParser('line', { device: 'room' });
    const out = feedCut(p, bytes('t=21.5 h=40\nt=oops h=41\n\n  \nboot v1.2\n\x01\x02=3\n'));
    expect(out).toEqual([
      { series: 'room/t', ts: NOW, value: 21.5 },
      { series: 'room/h', ts: NOW, value: 40 },
    ]);
    expect(p.stats().rejects).toEqual({ checksum: 0, noise: 1, oversized: 0, malformed: 2 });
  });
});

describe('senml-line profile', () => {
  it('stores every series under the port device, whatever bn says, and rejects bad packs', () => {
    const p = createSensorParser('senml-line', { device: 'bridge1' });
    const out = feedCut(p, bytes(Buffer.from('[{"bn":"other/","n":"t","v":1,"u":"Cel"}]\n[{"n":"t"}]\nnot json\n{"n":"x","v":2,"t":-1}\n', 'utf8')));
    expect(out).toEqual([
      { series: 'bridge1/other/t', ts: NOW, value: 1, unit: 'Cel' },
      { series: 'bridge1/x', ts: NOW - 1000, value: 2 },
    ]);
    expect(p.stats().rejects).toMatchObject({ malformed: 1, noise: 1 });
  });
});

describe('nmea0183 profile', () => {
  it('reads GGA, RMC, VTG and GSA with the classic examples, checksums verified', () => {
    const p = createSensorParser('nmea0183', { device: 'gps1' });
    const out = feedCut(
      p,
      bytes(
        '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n',
        '$GNRMC,123519,A,4807.038,S,01131.000,W,022.4,084.4,230394,003.1,W*7A\r\n',
        '$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n',
        '$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39\r\n',
      ),
    );
    expect(p.stats()).toMatchObject({ frames: 3, rejected: 1 });
    expect(p.stats().rejects.checksum).toBe(1); // the RMC above was edited without fixing its checksum
    expect(values(out)).toEqual({ fix: 1, satellites: 8, hdop: 1.3, lat: 48.1173, lon: 11.5166667, alt: 545.4, course: 54.7, speed: 2.833, fix_type: 3, pdop: 2.5, vdop: 2.1 });
    expect(out.find((r) => r.series === 'gps1/alt')!.unit).toBe('m');
  });

  it('accepts the talkers GP GN GL GA BD, ignores other sentences and talkers, reads southern and western positions', () => {
    const p = createSensorParser('nmea0183', { device: 'gps1' });
    const rmc = (talker: string) => nmeaSentence(`${talker}RMC,123519,A,4807.038,S,01131.000,W,022.4,084.4,230394,003.1,W,A`);
    const out = feedCut(p, bytes(...['GP', 'GN', 'GL', 'GA', 'BD', 'QZ'].map(rmc), nmeaSentence('GPGSV,3,1,11,03,03,111,00'), nmeaSentence('GPTXT,01,01,02,ANTSTATUS=OK')));
    expect(out.filter((r) => r.series === 'gps1/lat').map((r) => r.value)).toEqual([-48.1173, -48.1173, -48.1173, -48.1173, -48.1173]);
    expect(values(out).lon).toBe(-11.5166667);
    expect(values(out).speed).toBe(11.524);
    expect(p.stats()).toMatchObject({ frames: 5, ignored: 3, rejected: 0 });
  });

  it('gives no position without a fix and rejects nonsense fields with a good checksum', () => {
    const p = createSensorParser('nmea0183', { device: 'gps1' });
    const out = feedCut(
      p,
      bytes(
        nmeaSentence('GPGGA,123519,,,,,0,00,,,M,,M,,'),
        nmeaSentence('GPRMC,123519,V,,,,,,,230394,,,N'),
        nmeaSentence('GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,'),
        nmeaSentence('GPGGA,123519,9907.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'),
        nmeaSentence('GPRMC,123519,A,4807.038,N,01131.000,X,022.4,084.4,230394,003.1,W'),
        '$GPGGA,no checksum\r\n',
      ),
    );
    expect(values(out)).toEqual({ fix: 0, satellites: 0 });
    expect(p.stats()).toMatchObject({ frames: 2, rejected: 4, rejects: { malformed: 3, noise: 1 } });
  });
});

describe('pms5003 profile', () => {
  it('reads PM and particle counts, counts bad checksums and noise runs exactly', () => {
    const p = createSensorParser('pms5003', { device: 'air' });
    const good = pms5003Frame([10, 25, 30, 11, 26, 31, 3000, 900, 200, 20, 5, 1, 0]);
    const bad = good.slice();
    bad[12] ^= 0x10;
    const out = feedCut(p, bytes('garbage', good, bad, good, [0x42, 0x4d, 0x00, 0x99], 'x', good), [3, 40, 70]);
    expect(out.filter((r) => r.series === 'air/pm2.5').map((r) => r.value)).toEqual([26, 26, 26]);
    expect(values(out.slice(0, 9))).toEqual({ 'pm1.0': 11, 'pm2.5': 26, pm10: 31, 'n0.3': 3000, 'n0.5': 900, 'n1.0': 200, 'n2.5': 20, 'n5.0': 5, n10: 1 });
    expect(out[1]!.unit).toBe('ug/m3');
    expect(p.stats().rejects).toEqual({ checksum: 1, noise: 2, oversized: 0, malformed: 0 });
  });

  it('finds a good frame that starts inside a truncated one (a byte lost on the UART)', () => {
    const p = createSensorParser('pms5003', { device: 'air' });
    const good = pms5003Frame([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0]);
    const out = feedCut(p, bytes(good.subarray(0, 20), good.subarray(21), good));
    expect(out).toHaveLength(9);
    expect(p.stats()).toMatchObject({ frames: 1, rejected: 1, rejects: { checksum: 1 } });
  });
});

describe('mhz19 profile', () => {
  it('polls with the read command and reads CO2 and temperature', () => {
    const p = createSensorParser('mhz19', { device: 'co2' });
    expect(Buffer.from(p.poll!.bytes).toString('hex')).toBe('ff0186000000000079');
    expect(p.poll!.bytes).toBe(MHZ19_READ_COMMAND);
    expect(p.poll!.intervalMs).toBe(5000);
    // A reply from the datasheet: FF 86 02 60 47 00 00 00 D1 = 608 ppm.
    const out = feedCut(p, bytes([0xff, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xd1], mhz19Reply(1200, 30)));
    expect(out.map((r) => [r.series, r.value, r.unit])).toEqual([
      ['co2/co2', 608, 'ppm'],
      ['co2/temp', 31, 'Cel'],
      ['co2/co2', 1200, 'ppm'],
      ['co2/temp', 30, 'Cel'],
    ]);
  });
});

describe('profile lookup', () => {
  it('names the bad profile and device', () => {
    expect(() => createSensorParser('nmea', { device: 'x' })).toThrow(SensorProfileError);
    expect(() => createSensorParser('nmea', { device: 'x' })).toThrow(/unknown sensor profile "nmea".*FM_ERR_SENSOR_PROFILE/);
    expect(() => createSensorParser('line', { device: 'bad/dev' })).toThrow(/FM_ERR_SENSOR_DEVICE/);
  });
});
