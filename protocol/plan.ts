// The monitoring plan record: which registers of a meter measure the energy exported to and
// imported from the grid, how those registers are encoded, and the meter's identity and
// calibration. The device journals it (signed like every record) when a driver starts, so the
// sink reports each reading under the plan that was in force when it was taken.
// docs/spec/monitoring-plan.md specifies the record for third-party verifiers.
import { isValidName } from './names.ts';

/** How a cumulative energy register is encoded: enough to tell a rollover from a reset. */
export interface CounterSpec {
  metric: string;
  /** the register's format on the wire (uint16, int16, uint32, int32, m10k, float32) */
  type: string;
  /** width in bits and signedness of the raw register */
  bits: number;
  signed: boolean;
  /** value = raw * scale, in `unit` */
  scale: number;
  unit: 'Wh' | 'kWh' | 'MWh';
  /** where the meter itself rolls the counter over to zero, when it does so below the register's range */
  rolloverKwh?: number;
}

/** The instantaneous active power register, positive when exporting: a cross-check only. */
export interface PowerSpec {
  metric: string;
  unit: 'W' | 'kW' | 'MW';
}

export interface PlanFields {
  /** the meter: the driver's sensor id */
  sensor: string;
  /** when the plan was journaled; it is in force from then until the next plan of the sensor */
  ts: number;
  export: CounterSpec;
  import: CounterSpec;
  power?: PowerSpec;
  serial: string;
  /** IEC 62053-21/22, EN 50470-3 or ANSI C12.20 class, e.g. "0.2S" */
  accuracyClass: string;
  /** YYYY-MM-DD */
  calibratedAt: string;
  calibrationDue: string;
  /** the most the plant can export (or import) at the connection, kW: the plausibility bound */
  ratedKw?: number;
  /** the polling interval the plan promises: completeness is counted against it */
  intervalMs: number;
  /**
   * how long before its timestamp a reading's value may have been sampled (the longest a read can
   * take): two readings' samples are at most their timestamps' difference plus this apart
   */
  readWindowMs?: number;
}

export interface PlanInput extends PlanFields {
  kind: 'plan';
}

export interface PlanRecord extends PlanFields {
  v: 1;
  kind: 'plan';
  device: string;
  seq: number;
}

export function planRecord(device: string, seq: number, p: PlanInput): PlanRecord {
  const { kind: _kind, ...fields } = p;
  return { ...fields, v: 1, kind: 'plan', device, seq };
}

/**
 * Maximum permissible error (percent) at reference conditions by accuracy class: the class index
 * of IEC 62053-21/22 and ANSI C12.20; EN 50470-3 (MID) classes A, B, C are 2, 1 and 0.5 %.
 */
export const ACCURACY_CLASS_MPE_PERCENT: Readonly<Record<string, number>> = {
  '0.1S': 0.1, '0.2S': 0.2, '0.5S': 0.5, '0.1': 0.1, '0.2': 0.2, '0.5': 0.5, '1': 1, '2': 2, A: 2, B: 1, C: 0.5,
};

const ENERGY_UNITS: Readonly<Record<string, number>> = { Wh: 0.001, kWh: 1, MWh: 1000 };
const POWER_UNITS: Readonly<Record<string, number>> = { W: 0.001, kW: 1, MW: 1000 };
const REGISTER_BITS: Readonly<Record<string, { bits: number; signed: boolean }>> = {
  uint16: { bits: 16, signed: false }, int16: { bits: 16, signed: true }, uint32: { bits: 32, signed: false },
  int32: { bits: 32, signed: true }, m10k: { bits: 32, signed: false }, float32: { bits: 32, signed: true },
};

/** kWh per unit of the value */
export function energyUnitKwh(unit: string): number | undefined {
  return ENERGY_UNITS[unit];
}

/** kW per unit of the value */
export function powerUnitKw(unit: string): number | undefined {
  return POWER_UNITS[unit];
}

/** The width and sign a register type implies. */
export function registerBits(type: string): { bits: number; signed: boolean } | undefined {
  return REGISTER_BITS[type];
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Midnight UTC of a YYYY-MM-DD date, or null when it is not a real date. */
export function parsePlanDate(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = DATE.exec(s);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().slice(0, 10) === s ? t : null;
}

function counterProblem(c: unknown, name: string): string | null {
  if (typeof c !== 'object' || c === null) return `${name} must describe a register`;
  const r = c as Record<string, unknown>;
  if (!isValidName(r.metric)) return `${name}.metric is not a valid name`;
  const bits = typeof r.type === 'string' ? registerBits(r.type) : undefined;
  if (!bits) return `${name}.type ${JSON.stringify(r.type)} is not a known register type`;
  if (r.bits !== bits.bits || r.signed !== bits.signed) return `${name}: bits and signed do not match type ${r.type as string}`;
  if (typeof r.scale !== 'number' || !(r.scale > 0) || !Number.isFinite(r.scale)) return `${name}.scale must be a positive number`;
  if (typeof r.unit !== 'string' || energyUnitKwh(r.unit) === undefined) return `${name}.unit must be Wh, kWh or MWh`;
  if (r.rolloverKwh !== undefined && (typeof r.rolloverKwh !== 'number' || !(r.rolloverKwh > 0) || !Number.isFinite(r.rolloverKwh))) return `${name}.rolloverKwh must be a positive number`;
  return null;
}

/**
 * What makes a plan unusable for crediting, or null. Only the structure is checked at ingest
 * (records.ts): a plan the report cannot use is reported as such, never a reason to refuse a
 * signed batch.
 */
export function planProblem(rec: unknown): string | null {
  const r = rec as Record<string, unknown>;
  if (!isValidName(r.sensor)) return 'plan.sensor is not a valid name';
  if (!Number.isSafeInteger(r.ts)) return 'plan.ts must be integer milliseconds';
  const e = counterProblem(r.export, 'export') ?? counterProblem(r.import, 'import');
  if (e) return e;
  if ((r.export as CounterSpec).metric === (r.import as CounterSpec).metric) return 'export and import name the same metric';
  if (r.power !== undefined) {
    const p = r.power as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || !isValidName(p.metric) || typeof p.unit !== 'string' || powerUnitKw(p.unit) === undefined) return 'power must be {metric, unit: W|kW|MW}';
  }
  if (typeof r.serial !== 'string' || r.serial.length === 0 || r.serial.length > 128) return 'serial must be 1-128 characters';
  if (typeof r.accuracyClass !== 'string' || ACCURACY_CLASS_MPE_PERCENT[r.accuracyClass] === undefined) {
    return `accuracyClass ${JSON.stringify(r.accuracyClass)} is not one of ${Object.keys(ACCURACY_CLASS_MPE_PERCENT).join(', ')}`;
  }
  const cal = parsePlanDate(r.calibratedAt);
  const due = parsePlanDate(r.calibrationDue);
  if (cal === null || due === null) return 'calibratedAt and calibrationDue must be YYYY-MM-DD dates';
  if (due < cal) return 'calibrationDue is before calibratedAt';
  if (r.ratedKw !== undefined && (typeof r.ratedKw !== 'number' || !(r.ratedKw > 0) || !Number.isFinite(r.ratedKw))) return 'ratedKw must be a positive number';
  if (!Number.isSafeInteger(r.intervalMs) || (r.intervalMs as number) <= 0) return 'intervalMs must be a positive integer';
  if (r.readWindowMs !== undefined && (!Number.isSafeInteger(r.readWindowMs) || (r.readWindowMs as number) < 0)) return 'readWindowMs must be a non-negative integer';
  return null;
}
