/**
 * Modbus TCP framing (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3): the MBAP
 * header `transaction id (2) | protocol id = 0 (2) | length (2) = unit + PDU | unit (1)`, big
 * endian, then the PDU. Unlike RTU the length is in the header, so a stream splits itself.
 */

export const MBAP_HEADER = 7;
/** A PDU is at most 253 bytes; the length field counts the unit byte too. */
export const MAX_MBAP_LENGTH = 254;

export function encodeTcpFrame(transaction: number, unit: number, pdu: Uint8Array): Uint8Array {
  const out = new Uint8Array(MBAP_HEADER + pdu.length);
  out[0] = (transaction >>> 8) & 0xff;
  out[1] = transaction & 0xff;
  out[2] = 0;
  out[3] = 0;
  out[4] = ((pdu.length + 1) >>> 8) & 0xff;
  out[5] = (pdu.length + 1) & 0xff;
  out[6] = unit;
  out.set(pdu, MBAP_HEADER);
  return out;
}

export interface TcpFrame {
  transaction: number;
  unit: number;
  pdu: Uint8Array;
}

/**
 * Splits a TCP byte stream into MBAP frames. A header with a protocol id other than 0 or a length
 * outside 2..254 means the stream is not Modbus (or lost sync, which TCP cannot regain): `push`
 * then returns an error and the caller drops the connection.
 */
export class TcpFrameSplitter {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): { frames: TcpFrame[]; error?: string } {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const frames: TcpFrame[] = [];
    let at = 0;
    while (joined.length - at >= MBAP_HEADER) {
      const protocol = (joined[at + 2]! << 8) | joined[at + 3]!;
      const length = (joined[at + 4]! << 8) | joined[at + 5]!;
      if (protocol !== 0 || length < 2 || length > MAX_MBAP_LENGTH) {
        this.buf = new Uint8Array(0);
        return { frames, error: `MBAP header with protocol ${protocol} and length ${length}` };
      }
      if (joined.length - at < 6 + length) break;
      frames.push({ transaction: (joined[at]! << 8) | joined[at + 1]!, unit: joined[at + 6]!, pdu: joined.slice(at + MBAP_HEADER, at + 6 + length) });
      at += 6 + length;
    }
    this.buf = joined.slice(at);
    return { frames };
  }

  reset(): void {
    this.buf = new Uint8Array(0);
  }
}
