/**
 * The `modbus:` section: RTU lines and TCP endpoints, the slaves on each and their register maps
 * (inline, or a device template from hardware/modbus/ by name). Validated here once at start,
 * so the poller never meets a map it cannot read. Keys and defaults are documented in
 * gateway/src/ingest/modbus/README.md.
 */
import { DEVICE_ID, SENSOR_NAME } from '@fieldmesh/device-sdk';
import { listModbusTemplates, readModbusTemplate } from '@fieldmesh/hardware/modbus';
import { parseDocument } from 'yaml';
import { bool, int, isMapping, listOf, oneOf, section, str, type Check } from './checks.js';
import { ConfigError } from './errors.js';

export type RegisterFunction = 'coil' | 'discrete' | 'holding' | 'input';
export type RegisterType = 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'int64' | 'uint64' | 'float64' | 'string';
/** Byte order of a multi-register value, A = most significant byte (README "Word order"). */
export type WordOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

export interface RegisterSpec {
  /** Sensor name: the reading's series is `<device>/<sensor>`. Required. */
  sensor: string;
  /** Table: coil (01), discrete (02), holding (03), input (04). Required. */
  function: RegisterFunction;
  /** 0-based PDU address (input register 30001 is address 0). Required. */
  address: number;
  /** Value type. Default `uint16` on registers, `bool` on coils and discrete inputs. */
  type: RegisterType;
  /** Registers a `string` spans (2 characters each); for other types it is the type's own size. */
  length: number;
  /** Default ABCD (big endian, the Modbus convention). */
  order: WordOrder;
  /** value = raw × scale + offset. Defaults 1 and 0. Not applied to bool and string. */
  scale: number;
  offset: number;
  /** SenML unit symbol (RFC 8428 §12.1, RFC 8798). Default none. */
  unit: string | null;
  /** May a rule or HTTP call write it (coil or holding only, and only with `modbus.writes`). Default false. */
  writable: boolean;
}

export interface SlaveConfig {
  /** Unit id (slave address): 1–247 on RTU (§2.2 of the serial line spec), 0–255 on TCP. Required. */
  unit: number;
  /** Device id its readings are stored under. Required. */
  device: string;
  /** Template name from hardware/modbus/ (its registers come first). Default none. */
  template: string | null;
  /** Register map (after the template's). A slave needs at least one register from either. */
  registers: RegisterSpec[];
  /** ms between polls. Default 1000. */
  pollMs: number;
  /** ms to wait for a response. Default 500 (RTU) / 1000 (TCP). */
  timeoutMs: number;
  /** Extra attempts after a failed transaction within one poll. Default 1. 0: none. */
  retries: number;
  /** Cap of the backoff between polls of a slave that stopped answering, ms. Default 30 000. */
  backoffMaxMs: number;
  /** Unwanted registers a read may span to join two wanted ones. Default 0 (only adjacent); a template may set it. */
  maxGap: number;
}

export interface DirectionConfig {
  /**
   * RS-485 driver-enable: `auto` (the adapter or the kernel's RS-485 mode does it), `rts` (the
   * gateway raises RTS around each request), `gpio` (the gateway drives a GPIO value file).
   * Default `auto`.
   */
  mode: 'auto' | 'rts' | 'gpio';
  /** For `gpio`: the sysfs value file, e.g. /sys/class/gpio/gpio17/value. */
  gpioPath: string | null;
  /** Level that enables the driver (true: high / RTS asserted). Default true. */
  activeHigh: boolean;
}

export interface RtuLineConfig {
  /** Serial device, e.g. /dev/ttyUSB0 (prefer /dev/serial/by-id/…). Required. */
  path: string;
  /** Default 9600. */
  baud: number;
  /** Default `none` (most sensors are sold 8N1; the Modbus spec's default is even). */
  parity: 'none' | 'even' | 'odd';
  /** Default 1. */
  stopBits: 1 | 2;
  direction: DirectionConfig;
  slaves: SlaveConfig[];
}

export interface TcpEndpointConfig {
  /** Host name or address, or `host:port`. Required. */
  host: string;
  /** Default 502. */
  port: number;
  slaves: SlaveConfig[];
}

/** A write done when a rule's alert is raised or cleared (needs `writes: true` and a writable register). */
export interface RuleActionConfig {
  /** Rule id (of the `rules:` section). Required. */
  rule: string;
  /** Which transition triggers it. Default `raised`. */
  on: 'raised' | 'cleared';
  /** Device and sensor of a writable register of this section. Required. */
  device: string;
  sensor: string;
  /** Value in the reading's unit (bool for a coil). Required. */
  value: number | boolean;
}

export interface ModbusConfig {
  /** Allow writes (rule actions, POST /api/modbus/write) to registers marked writable. Default false. */
  writes: boolean;
  rtu: RtuLineConfig[];
  tcp: TcpEndpointConfig[];
  /** Writes triggered by rule alerts. Default none. */
  actions: RuleActionConfig[];
}

export const modbusDefaults: ModbusConfig = { writes: false, rtu: [], tcp: [], actions: [] };

const checkAction = section<RuleActionConfig>(
  {
    rule: str({ max: 128 }),
    on: oneOf('raised', 'cleared'),
    device: str({ pattern: DEVICE_ID, hint: 'a device id of a Modbus slave' }),
    sensor: str({ pattern: SENSOR_NAME, hint: 'a sensor name of that slave' }),
    value: (v, p) => {
      if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
      throw new ConfigError('FM_ERR_CONFIG_TYPE', p, 'expected a number or true/false');
    },
  },
  { on: 'raised' },
);

const SIZE: Record<Exclude<RegisterType, 'string'>, number> = { bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 };
const TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'] as const;

const finite: Check<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, 'expected a finite number');
  return v;
};

type RawRegister = Omit<RegisterSpec, 'type' | 'length'> & { type: RegisterType | null; length: number | null };

const registerShape = section<RawRegister>(
  {
    sensor: str({ pattern: SENSOR_NAME, hint: 'a sensor name (letters, digits, _ . : -, levels split by /)' }),
    function: oneOf('coil', 'discrete', 'holding', 'input'),
    address: int(0, 65_535),
    type: (v, p) => (v === null ? null : oneOf(...TYPES)(v, p)),
    length: (v, p) => (v === null ? null : int(1, 125)(v, p)),
    order: oneOf('ABCD', 'CDAB', 'BADC', 'DCBA'),
    scale: finite,
    offset: finite,
    unit: (v, p) => (v === null ? null : str({ max: 16 })(v, p)),
    writable: bool,
  },
  { type: null, length: null, order: 'ABCD', scale: 1, offset: 0, unit: null, writable: false },
);

/** One register entry: fills the type's default and checks the type fits the table and its size. */
export const checkRegister: Check<RegisterSpec> = (v, path) => {
  const r = registerShape(v, path);
  const bits = r.function === 'coil' || r.function === 'discrete';
  const type: RegisterType = r.type ?? (bits ? 'bool' : 'uint16');
  if (bits && type !== 'bool') throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.type`, `a ${r.function} holds one bit: use type bool (or function holding/input for ${type})`);
  if (!bits && type === 'bool') throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.type`, `bool is for coils and discrete inputs; for a register use uint16 (0 = false)`);
  let length: number;
  if (type === 'string') {
    if (r.length === null) throw new ConfigError('FM_ERR_CONFIG_TYPE', `${path}.length`, 'a string needs `length` (registers, 2 characters each)');
    length = r.length;
  } else {
    length = SIZE[type];
    if (r.length !== null && r.length !== length) {
      throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.length`, `${type} takes ${length} register${length > 1 ? 's' : ''}, not ${r.length}: remove length, or use a ${r.length}-register type${r.length === 1 ? ' (int16, uint16)' : r.length === 2 ? ' (int32, uint32, float32)' : ''}`);
    }
  }
  if (r.address + length > 65_536) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.address`, `${type} at ${r.address} runs past the last address 65535`);
  if (r.writable && (r.function === 'input' || r.function === 'discrete')) {
    throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.writable`, `${r.function} registers are read-only in Modbus; only coil and holding can be writable`);
  }
  return { ...r, type, length };
};

/** Sensors unique, and no two registers of one table overlapping (each names who it overlaps). */
function checkMap(regs: RegisterSpec[], path: string, names: string[]): void {
  const seen = new Map<string, number>();
  regs.forEach((r, i) => {
    const j = seen.get(r.sensor);
    if (j !== undefined) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${names[i]}.sensor`, `sensor ${r.sensor} is also ${names[j]}; give each register its own sensor name`);
    seen.set(r.sensor, i);
  });
  const order = regs.map((r, i) => ({ r, i })).sort((a, b) => (a.r.function < b.r.function ? -1 : a.r.function > b.r.function ? 1 : a.r.address - b.r.address));
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1]!;
    const b = order[k]!;
    if (a.r.function === b.r.function && b.r.address < a.r.address + a.r.length) {
      throw new ConfigError(
        'FM_ERR_CONFIG_RANGE',
        `${names[b.i]}.address`,
        `${b.r.sensor} (${b.r.function} ${b.r.address}) overlaps ${a.r.sensor} (${a.r.function} ${a.r.address}..${a.r.address + a.r.length - 1}, ${a.r.type}); move one of them or fix its type`,
      );
    }
  }
  if (regs.length === 0) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, 'a slave needs registers: give `template:` or `registers:`');
}

interface Template {
  registers: RegisterSpec[];
  maxGap: number;
}

const templateShape = section<{ description: string; maxGap: number; registers: unknown[] }>(
  { description: str({ max: 400 }), maxGap: int(0, 124), registers: listOf((x) => x, 2000) },
  { description: '', maxGap: 0 },
);

const templates = new Map<string, Template>();

/** Loads and validates a template by name (cached); errors name the template file and key. */
function loadTemplate(name: string, path: string): Template {
  const cached = templates.get(name);
  if (cached) return cached;
  const found = readModbusTemplate(name);
  if (!found) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `no Modbus template ${JSON.stringify(name)}; known templates: ${listModbusTemplates().join(', ')} (files in hardware/modbus/)`);
  const doc = parseDocument(found.text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError('FM_ERR_CONFIG_YAML', path, `template ${found.file}: ${doc.errors[0]!.message.split('\n')[0]}`);
  const where = `${path}(${found.file})`;
  const raw = templateShape(doc.toJS({ maxAliasCount: 100 }), where);
  const registers = raw.registers.map((x, i) => checkRegister(x, `${where}.registers[${i}]`));
  checkMap(registers, where, registers.map((_, i) => `${where}.registers[${i}]`));
  const t = { registers, maxGap: raw.maxGap };
  templates.set(name, t);
  return t;
}

function checkSlave(transport: 'rtu' | 'tcp'): Check<SlaveConfig> {
  const shape = section<Omit<SlaveConfig, 'maxGap'> & { maxGap: number | null }>(
    {
      unit: transport === 'rtu' ? int(1, 247) : int(0, 255),
      device: str({ pattern: DEVICE_ID, hint: 'a device id (letters, digits, _ . -; up to 64)' }),
      template: (v, p) => (v === null ? null : str({ pattern: /^[a-z0-9][a-z0-9_-]{0,63}$/, hint: 'a template name (a file in hardware/modbus/ without .yaml)' })(v, p)),
      registers: listOf(checkRegister, 10_000),
      pollMs: int(10, 86_400_000),
      timeoutMs: int(5, 60_000),
      retries: int(0, 10),
      backoffMaxMs: int(100, 3_600_000),
      maxGap: (v, p) => (v === null ? null : int(0, 124)(v, p)),
    },
    { template: null, registers: [], pollMs: 1000, timeoutMs: transport === 'rtu' ? 500 : 1000, retries: 1, backoffMaxMs: 30_000, maxGap: null },
  );
  return (v, path) => {
    const s = shape(v, path);
    const t = s.template === null ? null : loadTemplate(s.template, `${path}.template`);
    const registers = [...(t?.registers ?? []), ...s.registers];
    const names = [...(t?.registers ?? []).map((r) => `${path}.template(${s.template}).${r.sensor}`), ...s.registers.map((_, i) => `${path}.registers[${i}]`)];
    checkMap(registers, path, names);
    return { ...s, registers, maxGap: s.maxGap ?? t?.maxGap ?? 0 };
  };
}

/** Units unique per bus, devices unique across the whole section (checked in checkModbus). */
function uniqueUnits(slaves: SlaveConfig[], path: string): void {
  const units = new Map<number, number>();
  slaves.forEach((s, i) => {
    const j = units.get(s.unit);
    if (j !== undefined) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.slaves[${i}].unit`, `unit ${s.unit} is also ${path}.slaves[${j}]; every slave on one bus needs its own unit id`);
    units.set(s.unit, i);
  });
}

const checkDirection = section<DirectionConfig>(
  { mode: oneOf('auto', 'rts', 'gpio'), gpioPath: (v, p) => (v === null ? null : str({ max: 4096 })(v, p)), activeHigh: bool },
  { mode: 'auto', gpioPath: null, activeHigh: true },
);

const checkRtuLine: Check<RtuLineConfig> = (v, path) => {
  const line = section<RtuLineConfig>(
    {
      path: str({ max: 4096 }),
      baud: int(300, 4_000_000),
      parity: oneOf('none', 'even', 'odd'),
      stopBits: (x, p) => int(1, 2)(x, p) as 1 | 2,
      direction: checkDirection,
      slaves: listOf(checkSlave('rtu'), 247),
    },
    { baud: 9600, parity: 'none', stopBits: 1, direction: { mode: 'auto', gpioPath: null, activeHigh: true }, slaves: [] },
  )(v, path);
  if (line.direction.mode === 'gpio' && line.direction.gpioPath === null) {
    throw new ConfigError('FM_ERR_CONFIG_TYPE', `${path}.direction.gpioPath`, 'mode gpio needs gpioPath, e.g. /sys/class/gpio/gpio17/value (README "RS-485 direction")');
  }
  uniqueUnits(line.slaves, path);
  return line;
};

const checkTcpEndpoint: Check<TcpEndpointConfig> = (v, path) => {
  // `host: "10.0.0.5:502"` (or `"[fd00::5]:502"`) is the same as host and port given apart.
  if (isMapping(v) && typeof v.host === 'string' && v.port === undefined) {
    const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(v.host) ?? /^([^:[\]]+):(\d{1,5})$/.exec(v.host);
    if (m) v = { ...v, host: m[1], port: Number(m[2]) };
  }
  const ep = section<TcpEndpointConfig>(
    { host: str({ max: 253 }), port: int(1, 65_535), slaves: listOf(checkSlave('tcp'), 256) },
    { port: 502, slaves: [] },
  )(v, path);
  uniqueUnits(ep.slaves, path);
  return ep;
};

export const checkModbus: Check<ModbusConfig> = (v, path) => {
  if (v !== undefined && v !== null && !isMapping(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, 'expected a mapping with rtu:, tcp: and writes:');
  const cfg = section<ModbusConfig>({ writes: bool, rtu: listOf(checkRtuLine, 64), tcp: listOf(checkTcpEndpoint, 1024), actions: listOf(checkAction, 1000) }, modbusDefaults)(v, path);
  const devices = new Map<string, string>();
  const paths = new Set<string>();
  const note = (slaves: SlaveConfig[], at: string) =>
    slaves.forEach((s, i) => {
      const other = devices.get(s.device);
      if (other) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${at}.slaves[${i}].device`, `device ${s.device} is also ${other}; give each slave its own device id`);
      devices.set(s.device, `${at}.slaves[${i}]`);
    });
  cfg.rtu.forEach((l, i) => {
    if (paths.has(l.path)) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.rtu[${i}].path`, `${l.path} is listed twice; put all slaves of one bus under one entry`);
    paths.add(l.path);
    note(l.slaves, `${path}.rtu[${i}]`);
  });
  cfg.tcp.forEach((e, i) => note(e.slaves, `${path}.tcp[${i}]`));
  const slaves = [...cfg.rtu, ...cfg.tcp].flatMap((b) => b.slaves);
  cfg.actions.forEach((a, i) => {
    const at = `${path}.actions[${i}]`;
    const slave = slaves.find((s) => s.device === a.device);
    if (!slave) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${at}.device`, `no Modbus slave has device ${a.device}; use one of ${[...devices.keys()].join(', ') || '(none configured)'}`);
    const reg = slave.registers.find((r) => r.sensor === a.sensor);
    if (!reg) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${at}.sensor`, `${a.device} has no register ${a.sensor}`);
    if (!reg.writable) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${at}.sensor`, `${a.device}/${a.sensor} is not writable: add writable: true to its register`);
    if (!cfg.writes) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.writes`, 'actions write to registers: set writes: true (writes are off by default)');
  });
  return cfg;
};
