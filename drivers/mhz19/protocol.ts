// MH-Z19 / MH-Z19B / MH-Z19C UART frames: 9 bytes, start byte 0xFF, checksum = two's complement of
// the 8-bit sum of bytes 1..7. Requests are FF 01 CMD d3..d7 CS, responses FF CMD r2..r7 CS.

export const FRAME_LENGTH = 9;
export const START = 0xff;

export const CMD = {
  readCo2: 0x86,
  calibrateZero: 0x87,
  calibrateSpan: 0x88,
  setAbc: 0x79,
  getAbc: 0x7d,
  setRange: 0x99,
  getRange: 0x9b,
} as const;

/** Ranges the sensors accept for command 0x99 (MH-Z19B/C); other values are refused before sending. */
export const RANGES = [2000, 5000, 10000] as const;

export function checksum(frame: Uint8Array): number {
  let sum = 0;
  for (let i = 1; i < 8; i++) sum += frame[i]!;
  return -sum & 0xff;
}

export function checksumValid(frame: Uint8Array): boolean {
  return frame.length >= FRAME_LENGTH && frame[8] === checksum(frame);
}

/** A request frame: the payload bytes go to d3..d7 (positions 3..7). */
export function requestFrame(cmd: number, payload: readonly number[] = []): Buffer {
  const b = Buffer.alloc(FRAME_LENGTH);
  b[0] = START;
  b[1] = 0x01;
  b[2] = cmd;
  for (let i = 0; i < 5 && i < payload.length; i++) b[3 + i] = payload[i]! & 0xff;
  b[8] = checksum(b);
  return b;
}

/** Fill `out` (9 bytes, reused) with a response frame: FF CMD r2..r7 CS. */
export function writeResponse(out: Buffer, cmd: number, r: readonly number[]): Buffer {
  out[0] = START;
  out[1] = cmd;
  for (let i = 0; i < 6; i++) out[2 + i] = (r[i] ?? 0) & 0xff;
  out[8] = checksum(out);
  return out;
}

export interface Co2Response {
  co2Ppm: number;
  temperatureC: number;
  status: number;
}

/** Decode a checked 0x86 response. Temperature is byte 4 minus 40 (whole degrees). */
export function decodeCo2(frame: Uint8Array): Co2Response {
  return { co2Ppm: frame[2]! * 256 + frame[3]!, temperatureC: frame[4]! - 40, status: frame[5]! };
}

/** Requests that never change, built once and reused for every poll. */
export const READ_CO2 = requestFrame(CMD.readCo2);
export const GET_RANGE = requestFrame(CMD.getRange);
export const GET_ABC = requestFrame(CMD.getAbc);

export function zeroCalibrationFrame(): Buffer {
  return requestFrame(CMD.calibrateZero);
}

export function spanCalibrationFrame(ppm: number): Buffer {
  return requestFrame(CMD.calibrateSpan, [ppm >> 8, ppm & 0xff]);
}

/** ABC on uses the default 24 h period byte 0xA0; off is all zeros. */
export function abcFrame(on: boolean): Buffer {
  return requestFrame(CMD.setAbc, [on ? 0xa0 : 0x00]);
}

/** Detection range: high byte at d6, low byte at d7. */
export function rangeFrame(ppm: number): Buffer {
  return requestFrame(CMD.setRange, [0, 0, 0, ppm >> 8, ppm & 0xff]);
}
