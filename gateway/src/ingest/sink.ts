import type { Reading } from '@fieldmesh/device-sdk';

/** Where a reading source (MQTT broker, serial port) hands readings to be stored. */
export interface IngestSink {
  /**
   * Validates and appends `readings` from `device` to the reading log with the next group commit.
   * Resolves once they are durable (the caller may then acknowledge them to the device); rejects
   * with a coded error (nothing stored) when they are refused.
   * `deviceSeq`, when the device numbers its messages, lets a resend be stored only once.
   */
  submit(device: string, readings: readonly Reading[], deviceSeq?: number): Promise<void>;
}
