/**
 * What fieldmesh knows about a board: the facts it reports (device-tree model, UARTs, RAM,
 * storage) and the runtime defaults those facts imply. Profiles are plain data (catalog.ts) so a
 * new board is a new entry, not new code.
 */

/**
 * The memberlist-style gossip presets (after hashicorp/memberlist `config.go`). `wan` is slower and
 * more tolerant: it suits Wi-Fi-only boards with a weak CPU, where a LAN-tuned prober flaps
 * (a slow node accuses healthy ones). `local` is for one host / loopback test setups.
 */
export type GossipPreset = 'lan' | 'wan' | 'local';

/**
 * Where the data directory usually lives. `sd` wears out under small random writes and its
 * fsync costs milliseconds, so it gets bigger commit batches and a smaller share of the disk.
 */
export type StorageClass = 'sd' | 'emmc-or-sd' | 'sd-or-nvme' | 'unknown';

export interface UartProfile {
  /** The stable alias Raspberry Pi OS creates for the header UART (GPIO 14/15 or debug). */
  primary: string;
  /** The device `primary` points to by default on this board. */
  primaryTarget: string;
  /** Every UART device node this board may expose (with the overlays that enable extra ones). */
  devices: string[];
  /** Why the primary UART is what it is (Bluetooth owning the PL011, the Pi 5 debug header…). */
  note: string;
}

export interface BoardDefaults {
  /** Share (0..1] of the data file system's free space the reading log may use. */
  storageBudgetFraction: number;
  /** Readings per SQLite transaction on ingest. Larger on slow-fsync storage. */
  ingestBatchRows: number;
  /** Readings per uplink batch published to the cloud. */
  uplinkBatchReadings: number;
  gossipPreset: GossipPreset;
  /** Share (0..1] of physical RAM the gateway process should stay under. */
  memoryBudgetFraction: number;
  /** Hard ceiling in MiB for the memory budget, whatever the RAM (the heap never needs more). */
  memoryBudgetCapMb: number;
}

export interface BoardProfile {
  /** Stable key used in logs and config (`pi-zero-2w`, `pi-4b`…). */
  id: string;
  /** Human name. */
  name: string;
  /**
   * Matches the text in `/proc/device-tree/model` (NUL-terminated on the board; the reader
   * strips it). Anchored so that e.g. "Compute Module 4S" is not taken for a CM4.
   */
  modelPattern: RegExp;
  /** RAM sizes (MiB) this board ships with; the smallest is assumed when RAM is not measured. */
  ramMb: number[];
  storage: StorageClass;
  uart: UartProfile;
  defaults: BoardDefaults;
}

/** The result of board detection: which profile and why (the gateway logs both). */
export interface BoardDetection {
  profile: BoardProfile;
  /** The raw model string read, or undefined if it could not be read. */
  model: string | undefined;
  /** One sentence saying how the profile was chosen. */
  reason: string;
  /** True when the board was not recognised and generic defaults apply. */
  generic: boolean;
  /** The memory budget in MiB implied by the profile and the measured (or assumed) RAM. */
  memoryBudgetMb: number;
}
