import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Frame, FrameInput, FrameRejectCode } from '#device-sdk/frame/index';

export interface FrameVectors {
  crc: { variant: string; input: string; check: string };
  valid: { name: string; input: FrameInput; body: string; wire: string; decoded: Frame }[];
  invalid: { name: string; wire: string; reject: FrameRejectCode }[];
}

export const vectorsPath = fileURLToPath(new URL('../../../device-sdk/vectors/fm-frame-v1.json', import.meta.url));
export const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as FrameVectors;
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
