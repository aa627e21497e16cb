// The ION7550's Modbus registers as data: which holding register holds what, in which format and
// scale. The ION map is user-reconfigurable (ION Setup -> Modbus Slave modules), so the map is part of
// the config; FACTORY_MAP is the ION7550/ION7650 factory map (modules Amp/freq/unbal, Volts,
// kW/kVAr/kVA, kWh/kVArh, PF/THD/Kfactor), 32-bit values high word first.
import { z } from 'zod';

export const REGISTER_TYPES = ['uint16', 'int16', 'uint32', 'int32', 'm10k', 'float32'] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];

/** Registers a value of each type occupies. M10K: two registers of 0..9999, value = hi*10000 + lo. */
export const WIDTH: Record<RegisterType, 1 | 2> = { uint16: 1, int16: 1, uint32: 2, int32: 2, m10k: 2, float32: 2 };

export const registerSchema = z.strictObject({
  /** the reading's metric name */
  metric: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, dot, dash, colon or underscore'),
  /** the 4xxxx holding register number as in the meter's documentation (40001 = PDU address 0) */
  register: z.number().int().min(40001).max(105536),
  type: z.enum(REGISTER_TYPES),
  /** value = raw * scale (an ION Modbus Slave module scaled x10 reads with scale 0.1) */
  scale: z.number().positive().default(1),
  unit: z.string().min(1),
  /** values outside are flagged out_of_range */
  min: z.number().optional(),
  max: z.number().optional(),
});

export type RegisterEntry = z.output<typeof registerSchema>;

const r = (metric: string, register: number, type: RegisterType, scale: number, unit: string, min?: number, max?: number): RegisterEntry => ({
  metric,
  register,
  type,
  scale,
  unit,
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
});

/**
 * The ION7550/ION7650 factory map. Currents, frequency and voltages are held x10; power in W and
 * energy in Wh as signed 32-bit (scale 0.001 gives kW and kWh); power factor x100.
 */
export const FACTORY_MAP: readonly RegisterEntry[] = [
  r('current_a_a', 40150, 'uint16', 0.1, 'A', 0, 6553),
  r('current_b_a', 40151, 'uint16', 0.1, 'A', 0, 6553),
  r('current_c_a', 40152, 'uint16', 0.1, 'A', 0, 6553),
  r('current_avg_a', 40155, 'uint16', 0.1, 'A', 0, 6553),
  r('frequency_hz', 40159, 'uint16', 0.1, 'Hz', 40, 70),
  r('voltage_an_v', 40166, 'uint32', 0.1, 'V', 0, 1_000_000),
  r('voltage_bn_v', 40168, 'uint32', 0.1, 'V', 0, 1_000_000),
  r('voltage_cn_v', 40170, 'uint32', 0.1, 'V', 0, 1_000_000),
  r('voltage_ln_avg_v', 40172, 'uint32', 0.1, 'V', 0, 1_000_000),
  r('voltage_ll_avg_v', 40184, 'uint32', 0.1, 'V', 0, 1_000_000),
  r('power_kw', 40204, 'int32', 0.001, 'kW'),
  r('reactive_power_kvar', 40214, 'int32', 0.001, 'kvar'),
  r('apparent_power_kva', 40224, 'int32', 0.001, 'kVA', 0),
  // no minimum: a signed counter reads negative once it wraps, an event the driver flags, not a bad value
  r('energy_delivered_kwh', 40230, 'int32', 0.001, 'kWh'),
  r('energy_received_kwh', 40232, 'int32', 0.001, 'kWh'),
  r('power_factor', 40265, 'int16', 0.01, 'PF', -1, 1),
];

/** A run of registers read with one request (FC 03), and the entries decoded from it. */
export interface RegisterBlock {
  /** PDU address of the first register (register - 40001) */
  address: number;
  count: number;
  entries: { entry: RegisterEntry; offset: number }[];
}

/** Most registers one FC 03 request may ask for (Modbus application protocol 1.1b3, 6.3). */
export const MAX_REGISTERS_PER_REQUEST = 125;

/**
 * Group the map into as few requests as possible: entries are sorted by register and merged while
 * the gap between them is at most `maxGap` registers and the block stays within 125 registers.
 * maxGap 0 reads only contiguous runs (for meters that refuse reads across unmapped registers).
 */
export function planBlocks(map: readonly RegisterEntry[], maxGap: number): RegisterBlock[] {
  const sorted = [...map].sort((a, b) => a.register - b.register);
  const blocks: RegisterBlock[] = [];
  let current: RegisterBlock | undefined;
  for (const entry of sorted) {
    const address = entry.register - 40001;
    const end = address + WIDTH[entry.type];
    if (current && address - (current.address + current.count) <= maxGap && end - current.address <= MAX_REGISTERS_PER_REQUEST) {
      current.count = Math.max(current.count, end - current.address);
      current.entries.push({ entry, offset: address - current.address });
    } else {
      current = { address, count: end - address, entries: [{ entry, offset: 0 }] };
      blocks.push(current);
    }
  }
  return blocks;
}

/** The raw value of one entry from a block's response bytes (big-endian registers, high word first). */
export function decodeRaw(bytes: Buffer, offset: number, type: RegisterType): number {
  const at = offset * 2;
  switch (type) {
    case 'uint16':
      return bytes.readUInt16BE(at);
    case 'int16':
      return bytes.readInt16BE(at);
    case 'uint32':
      return bytes.readUInt32BE(at);
    case 'int32':
      return bytes.readInt32BE(at);
    case 'm10k':
      return bytes.readUInt16BE(at) * 10_000 + bytes.readUInt16BE(at + 2);
    case 'float32':
      return bytes.readFloatBE(at);
  }
}

/** Raw value times scale, without binary floating-point noise in the last digits (0.1 * 2301 = 230.1). */
export function scaled(raw: number, scale: number): number {
  const v = raw * scale;
  return Number.isInteger(scale) ? v : Math.round(v * 1e9) / 1e9;
}

/** Check a map from the config: no two entries may overlap. Returns a one-line problem or null. */
export function mapProblem(map: readonly RegisterEntry[]): string | null {
  const sorted = [...map].sort((a, b) => a.register - b.register);
  const seen = new Set<string>();
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if (seen.has(e.metric)) return `metric ${e.metric} appears twice`;
    seen.add(e.metric);
    const next = sorted[i + 1];
    if (next && next.register < e.register + WIDTH[e.type]) return `register ${next.register} (${next.metric}) overlaps ${e.register} (${e.metric}, ${e.type})`;
  }
  return null;
}
