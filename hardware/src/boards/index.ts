export type { BoardProfile, BoardDefaults, BoardDetection, GossipPreset, StorageClass, UartProfile } from './profile.js';
export { BOARD_PROFILES, GENERIC_BOARD, PI_ZERO_2W, PI_3B_PLUS, PI_4B, PI_5, PI_CM4 } from './catalog.js';
export { detectBoard, readDeviceTreeModel, normaliseModel, findProfile, memoryBudgetMb, DEVICE_TREE_MODEL_PATH } from './detect.js';
export type { ModelReader, DetectOptions } from './detect.js';
export { v8HeapFlags } from './v8-flags.js';
