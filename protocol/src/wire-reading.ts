import type { Reading } from '@fieldmesh/device-sdk';

/**
 * A reading as the uplink carries it: the device's reading plus the gateway-wide `seq` that
 * orders it and, with the gateway's epoch, names it upstream (FORMAT.md §4). The cloud stores it
 * once per (gateway, epoch, seq); the gateway's reading log extends it with store-only fields.
 */
export interface WireReading extends Reading {
  seq: number;
}
