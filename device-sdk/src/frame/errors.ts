import { CodedError } from '../coded-error.js';

/**
 * Error catalog of the fm-frame codec. Code branches on `code`, never on text.
 * Decoding never throws: it returns one of the `FM_ERR_FRAME_*` rejection codes, which the
 * streaming decoder counts. Only the encoder throws (a programmer error on the device side).
 */
export const frameErrors = {
  FM_ERR_FRAME_CRC: {
    meaning: 'The CRC-16/CCITT-FALSE at the end of the frame does not match its contents.',
    howToSolve: 'line noise or a baud-rate mismatch; check wiring, ground and that both ends use the same baud rate',
  },
  FM_ERR_FRAME_COBS: {
    meaning: 'The bytes between two 0x00 delimiters are not valid COBS.',
    howToSolve: 'noise on the line, or the sender does not COBS-encode; use fm_encode_frame() from device-sdk/c/fieldmesh.h',
  },
  FM_ERR_FRAME_OVERSIZED: {
    meaning: 'More bytes arrived before the next 0x00 delimiter than the largest frame can have (FRAME_MAX_BYTES).',
    howToSolve: 'the sender lost its framing or sends too many readings per frame; split readings over several frames',
  },
  FM_ERR_FRAME_VERSION: {
    meaning: 'The version byte names a frame format this decoder does not know.',
    howToSolve: 'update the gateway, or build the firmware against the fieldmesh.h matching the gateway',
  },
  FM_ERR_FRAME_TRUNCATED: {
    meaning: 'The frame ends before the fields its header announces.',
    howToSolve: 'the encoder and the spec disagree; compare the firmware output with device-sdk/vectors',
  },
  FM_ERR_FRAME_FIELD: {
    meaning: 'A field holds a value the spec forbids (device id or sensor name alphabet, value type, UTF-8, non-finite number, trailing bytes, reserved flag).',
    howToSolve: 'compare the firmware output with device-sdk/FORMAT.md and the vectors',
  },
  FM_ERR_FRAME_ENCODE: {
    meaning: 'The encoder was given a frame it cannot represent (bad name, value out of range for its type, too large).',
    howToSolve: 'the message names the field; pick a wider value type or fewer readings per frame',
  },
} as const;

export type FrameErrorCode = keyof typeof frameErrors;
/** The codes a decoder may reject a frame with. */
export type FrameRejectCode = Exclude<FrameErrorCode, 'FM_ERR_FRAME_ENCODE'>;

export class FrameEncodeError extends CodedError<'FM_ERR_FRAME_ENCODE'> {
  constructor(message: string) {
    super('FM_ERR_FRAME_ENCODE', frameErrors, message);
    this.name = 'FrameEncodeError';
  }
}
