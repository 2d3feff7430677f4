import type { BoardProfile } from './profile.js';

/*
 * Model strings are the ones the boards' firmware puts in /proc/device-tree/model, e.g.
 * "Raspberry Pi 4 Model B Rev 1.5". Revisions vary, so patterns stop before "Rev".
 *
 * UARTs: on boards with Bluetooth (Zero 2 W, 3B+, 4B, CM4 with wireless) the full PL011
 * (/dev/ttyAMA0) is given to Bluetooth and GPIO 14/15 get the mini UART (/dev/ttyS0), whose
 * baud rate follows the core clock; `enable_uart=1` in config.txt pins the core clock so the mini
 * UART is usable. Pi 4/CM4 add PL011s ttyAMA1..4 via `dtoverlay=uart2..5`. On the Pi 5 the
 * serial0 alias points at the dedicated debug header (/dev/ttyAMA10); GPIO 14/15 are ttyAMA0
 * after `dtparam=uart0=on`.
 *
 * Defaults: batch sizes grow with CPU and fsync cost; the Zero 2 W (512 MiB, Wi-Fi only, four
 * slow cores) gets the WAN gossip preset to avoid false suspicions under load.
 */

const BLUETOOTH_UART_NOTE =
  'GPIO 14/15 use the mini UART (ttyS0) because Bluetooth owns the PL011 (ttyAMA0); ' +
  'enable_uart=1 pins the core clock, or dtoverlay=disable-bt gives the PL011 back to serial0';

export const PI_ZERO_2W: BoardProfile = {
  id: 'pi-zero-2w',
  name: 'Raspberry Pi Zero 2 W',
  modelPattern: /^Raspberry Pi Zero 2 W\b/,
  ramMb: [512],
  storage: 'sd',
  uart: {
    primary: '/dev/serial0',
    primaryTarget: '/dev/ttyS0',
    devices: ['/dev/serial0', '/dev/ttyS0', '/dev/ttyAMA0'],
    note: BLUETOOTH_UART_NOTE,
  },
  defaults: {
    storageBudgetFraction: 0.25,
    ingestBatchRows: 200,
    uplinkBatchReadings: 500,
    gossipPreset: 'wan',
    memoryBudgetFraction: 0.25,
    memoryBudgetCapMb: 128,
  },
};

export const PI_3B_PLUS: BoardProfile = {
  id: 'pi-3b-plus',
  name: 'Raspberry Pi 3 Model B+',
  modelPattern: /^Raspberry Pi 3 Model B Plus\b/,
  ramMb: [1024],
  storage: 'sd',
  uart: {
    primary: '/dev/serial0',
    primaryTarget: '/dev/ttyS0',
    devices: ['/dev/serial0', '/dev/ttyS0', '/dev/ttyAMA0'],
    note: BLUETOOTH_UART_NOTE,
  },
  defaults: {
    storageBudgetFraction: 0.3,
    ingestBatchRows: 500,
    uplinkBatchReadings: 1000,
    gossipPreset: 'lan',
    memoryBudgetFraction: 0.25,
    memoryBudgetCapMb: 256,
  },
};

export const PI_4B: BoardProfile = {
  id: 'pi-4b',
  name: 'Raspberry Pi 4 Model B',
  modelPattern: /^Raspberry Pi 4 Model B\b/,
  ramMb: [1024, 2048, 4096, 8192],
  storage: 'sd',
  uart: {
    primary: '/dev/serial0',
    primaryTarget: '/dev/ttyS0',
    devices: ['/dev/serial0', '/dev/ttyS0', '/dev/ttyAMA0', '/dev/ttyAMA1', '/dev/ttyAMA2', '/dev/ttyAMA3', '/dev/ttyAMA4'],
    note: `${BLUETOOTH_UART_NOTE}; dtoverlay=uart2..uart5 add ttyAMA1..4`,
  },
  defaults: {
    storageBudgetFraction: 0.4,
    ingestBatchRows: 1000,
    uplinkBatchReadings: 2000,
    gossipPreset: 'lan',
    memoryBudgetFraction: 0.25,
    memoryBudgetCapMb: 512,
  },
};

export const PI_5: BoardProfile = {
  id: 'pi-5',
  name: 'Raspberry Pi 5',
  modelPattern: /^Raspberry Pi 5 Model B\b/,
  ramMb: [2048, 4096, 8192, 16384],
  storage: 'sd-or-nvme',
  uart: {
    primary: '/dev/serial0',
    primaryTarget: '/dev/ttyAMA10',
    devices: ['/dev/serial0', '/dev/ttyAMA10', '/dev/ttyAMA0', '/dev/ttyAMA1', '/dev/ttyAMA2', '/dev/ttyAMA3', '/dev/ttyAMA4'],
    note: 'serial0 is the debug header UART (ttyAMA10); dtparam=uart0=on puts ttyAMA0 on GPIO 14/15',
  },
  defaults: {
    storageBudgetFraction: 0.5,
    ingestBatchRows: 2000,
    uplinkBatchReadings: 4000,
    gossipPreset: 'lan',
    memoryBudgetFraction: 0.25,
    memoryBudgetCapMb: 1024,
  },
};

export const PI_CM4: BoardProfile = {
  id: 'pi-cm4',
  name: 'Raspberry Pi Compute Module 4',
  modelPattern: /^Raspberry Pi Compute Module 4 (?!S)/,
  ramMb: [1024, 2048, 4096, 8192],
  // eMMC (8-32 GB) on most variants, SD on CM4 Lite carriers; eMMC is small, so keep a modest share.
  storage: 'emmc-or-sd',
  uart: {
    primary: '/dev/serial0',
    primaryTarget: '/dev/ttyS0',
    devices: ['/dev/serial0', '/dev/ttyS0', '/dev/ttyAMA0', '/dev/ttyAMA1', '/dev/ttyAMA2', '/dev/ttyAMA3', '/dev/ttyAMA4'],
    note: `${BLUETOOTH_UART_NOTE} (on wireless variants); dtoverlay=uart2..uart5 add ttyAMA1..4`,
  },
  defaults: {
    storageBudgetFraction: 0.3,
    ingestBatchRows: 1000,
    uplinkBatchReadings: 2000,
    gossipPreset: 'lan',
    memoryBudgetFraction: 0.25,
    memoryBudgetCapMb: 512,
  },
};

/**
 * Used for any board not in the catalog (other SBCs, a laptop, a container): conservative
 * enough for a 512 MiB board, tolerant gossip, and the generic Linux serial names.
 */
export const GENERIC_BOARD: BoardProfile = {
  id: 'generic',
  name: 'Generic Linux board',
  modelPattern: /(?!)/,
  ramMb: [512],
  storage: 'unknown',
  uart: {
    primary: '/dev/ttyS0',
    primaryTarget: '/dev/ttyS0',
    devices: ['/dev/ttyS0', '/dev/ttyUSB0', '/dev/ttyACM0'],
    note: 'unknown board: configure serial paths explicitly',
  },
  defaults: {
    storageBudgetFraction: 0.25,
    ingestBatchRows: 200,
    uplinkBatchReadings: 500,
    gossipPreset: 'wan',
    memoryBudgetFraction: 0.25,
    memoryBudgetCapMb: 128,
  },
};

/** Every known board, most specific pattern first. */
export const BOARD_PROFILES: readonly BoardProfile[] = Object.freeze([PI_ZERO_2W, PI_3B_PLUS, PI_4B, PI_5, PI_CM4]);
