// Cayenne Low Power Payload: a sequence of [channel, type, value] items, the value's size, sign and
// resolution fixed by the type (IPSO Smart Object ids minus 3200). The base types are those of the
// myDevices Cayenne LPP documentation; the extended ones (voltage .. switch) are the widely shipped
// additions of the ElectronicCats CayenneLPP library that The Things Stack also decodes.
import type { Codec, CodecOutcome, CodecReading, UplinkInput } from './codec.ts';

interface LppType {
  name: string;
  size: number;
  /** one field per axis/part: metric, unit, bytes, signed, divisor */
  fields: { metric: string; unit: string; bytes: number; signed: boolean; divisor: number }[];
}

function scalar(name: string, metric: string, unit: string, bytes: number, signed: boolean, divisor: number): LppType {
  return { name, size: bytes, fields: [{ metric, unit, bytes, signed, divisor }] };
}

/** Three signed axes, named `<prefix>_x_<suffix>` .. `<prefix>_z_<suffix>`. */
function triple(name: string, prefix: string, suffix: string, unit: string, bytes: number, divisor: number): LppType {
  return {
    name,
    size: bytes * 3,
    fields: ['x', 'y', 'z'].map((a) => ({ metric: `${prefix}_${a}_${suffix}`, unit, bytes, signed: true, divisor })),
  };
}

export const LPP_TYPES: ReadonlyMap<number, LppType> = new Map<number, LppType>([
  [0x00, scalar('digital input', 'digital_in', '', 1, false, 1)],
  [0x01, scalar('digital output', 'digital_out', '', 1, false, 1)],
  [0x02, scalar('analog input', 'analog_in', '', 2, true, 100)],
  [0x03, scalar('analog output', 'analog_out', '', 2, true, 100)],
  [0x65, scalar('illuminance', 'illuminance_lux', 'lx', 2, false, 1)],
  [0x66, scalar('presence', 'presence', '', 1, false, 1)],
  [0x67, scalar('temperature', 'temperature_c', 'degC', 2, true, 10)],
  [0x68, scalar('humidity', 'humidity_pct', '%', 1, false, 2)],
  [0x71, triple('accelerometer', 'accel', 'g', 'g', 2, 1000)],
  [0x73, scalar('barometer', 'pressure_hpa', 'hPa', 2, false, 10)],
  [0x74, scalar('voltage', 'voltage_v', 'V', 2, false, 100)],
  [0x75, scalar('current', 'current_a', 'A', 2, false, 1000)],
  [0x76, scalar('frequency', 'frequency_hz', 'Hz', 4, false, 1)],
  [0x78, scalar('percentage', 'percent', '%', 1, false, 1)],
  [0x79, scalar('altitude', 'altitude_m', 'm', 2, true, 1)],
  [0x7d, scalar('concentration', 'concentration_ppm', 'ppm', 2, false, 1)],
  [0x80, scalar('power', 'power_w', 'W', 2, false, 1)],
  [0x82, scalar('distance', 'distance_m', 'm', 4, false, 1000)],
  [0x83, scalar('energy', 'energy_kwh', 'kWh', 4, false, 1000)],
  [0x84, scalar('direction', 'direction_deg', 'deg', 2, false, 1)],
  [0x85, scalar('unix time', 'unix_time_s', 's', 4, false, 1)],
  [0x86, triple('gyrometer', 'gyro', 'dps', 'deg/s', 2, 100)],
  [0x87, {
    name: 'colour',
    size: 3,
    fields: ['r', 'g', 'b'].map((c) => ({ metric: `colour_${c}`, unit: '', bytes: 1, signed: false, divisor: 1 })),
  }],
  [0x88, {
    name: 'gps',
    size: 9,
    fields: [
      { metric: 'latitude_deg', unit: 'deg', bytes: 3, signed: true, divisor: 10000 },
      { metric: 'longitude_deg', unit: 'deg', bytes: 3, signed: true, divisor: 10000 },
      { metric: 'altitude_m', unit: 'm', bytes: 3, signed: true, divisor: 100 },
    ],
  }],
  [0x8e, scalar('switch', 'switch', '', 1, false, 1)],
]);

export class CayenneLppError extends Error {
  override name = 'CayenneLppError';
}

function readInt(bytes: Uint8Array, off: number, n: number, signed: boolean): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + bytes[off + i]!;
  if (signed && bytes[off]! & 0x80) v -= 2 ** (8 * n);
  return v;
}

/** Round away binary noise (27.2 rather than 27.200000000000003) at the type's own resolution. */
function scale(raw: number, divisor: number): number {
  if (divisor === 1) return raw;
  const decimals = Math.ceil(Math.log10(divisor));
  return Number((raw / divisor).toFixed(decimals));
}

/** Decode a whole payload; a truncated item or an unknown type makes the payload unusable (its items cannot be delimited). */
export function decodeCayenneLpp(bytes: Uint8Array): CodecReading[] {
  const out: CodecReading[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 2 > bytes.length) throw new CayenneLppError(`truncated item header at byte ${off}`);
    const channel = bytes[off]!;
    const typeId = bytes[off + 1]!;
    const type = LPP_TYPES.get(typeId);
    if (!type) throw new CayenneLppError(`unknown type 0x${typeId.toString(16).padStart(2, '0')} at byte ${off + 1}`);
    off += 2;
    if (off + type.size > bytes.length) throw new CayenneLppError(`${type.name} on channel ${channel} needs ${type.size} bytes, ${bytes.length - off} left`);
    for (const f of type.fields) {
      out.push({ channel, metric: f.metric, unit: f.unit, value: scale(readInt(bytes, off, f.bytes, f.signed), f.divisor) });
      off += f.bytes;
    }
  }
  return out;
}

export class CayenneLppCodec implements Codec {
  readonly name = 'cayenne-lpp';

  async decodeBatch(inputs: readonly UplinkInput[]): Promise<CodecOutcome[]> {
    return inputs.map((input): CodecOutcome => {
      try {
        return { ok: true, readings: decodeCayenneLpp(input.bytes), warnings: [], unmapped: [], unmappedCount: 0 };
      } catch (err) {
        return { ok: false, reason: 'bad_output', error: `Cayenne LPP: ${(err as Error).message}` };
      }
    });
  }
}
