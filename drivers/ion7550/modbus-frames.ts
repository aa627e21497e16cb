// Modbus framing for the server side (the simulator): CRC-16/MODBUS for RTU, the MBAP header for
// TCP, and FC 03 request/response PDUs. The driver side uses modbus-serial.

/** CRC-16/MODBUS: polynomial 0xA001 (reflected 0x8005), initial 0xFFFF; sent low byte first. */
export function crc16(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) {
    crc ^= bytes[i]!;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export const FC_READ_HOLDING = 0x03;

export function exceptionPdu(fc: number, code: number): Buffer {
  return Buffer.from([fc | 0x80, code]);
}

/** An RTU frame: unit, PDU, CRC (low byte first). */
export function rtuFrame(unit: number, pdu: Buffer): Buffer {
  const b = Buffer.alloc(pdu.length + 3);
  b[0] = unit;
  pdu.copy(b, 1);
  b.writeUInt16LE(crc16(b, b.length - 2), b.length - 2);
  return b;
}

/** A TCP ADU: transaction id, protocol 0, length, unit, PDU. */
export function tcpFrame(transaction: number, unit: number, pdu: Buffer): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(transaction, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(pdu.length + 1, 4);
  b[6] = unit;
  pdu.copy(b, 7);
  return b;
}

/** Length of the RTU request starting at buf[0], or 0 when more bytes are needed / unknown. */
export function rtuRequestLength(buf: Buffer): number {
  if (buf.length < 2) return 0;
  const fc = buf[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length >= 7 ? 9 + buf[6]! : 0;
  return 8; // unknown function: assume the common 8 bytes so that the CRC check can reject or answer it
}
