export { decodeSenml, encodeSenml, SENML_LIMITS, type DecodeOptions, type DecodedPack, type EncodeOptions } from './codec.js';
export { SenmlError, SENML_ERRORS, isSenmlError, type SenmlErrorCode } from './errors.js';
