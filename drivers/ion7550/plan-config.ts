// The `mrv:` section of an ION7550 driver entry, and the monitoring plan record it becomes: the
// registers the MRV report credits (export and import), the meter's serial, accuracy class and
// calibration, and the plant's rated power (the plausibility bound).
import { z } from 'zod';
import { ACCURACY_CLASS_MPE_PERCENT, energyUnitKwh, parsePlanDate, powerUnitKw, type PlanInput } from '../../protocol/plan.ts';
import { counterSpec } from './energy.ts';
import { planBlocks, type RegisterEntry } from './register-map.ts';

const metric = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, dot, dash, colon or underscore');
const date = z.string().refine((s) => parsePlanDate(s) !== null, 'must be a date YYYY-MM-DD');

export const meterPlanSchema = z.strictObject({
  /** the map entry holding the cumulative energy exported to the grid */
  export: metric,
  /** the map entry holding the cumulative energy imported from the grid */
  import: metric,
  /** the map entry holding active power (positive when exporting), for the report's cross-check */
  power: metric.optional(),
  /** the meter's serial number: a new one is a meter replacement */
  serial: z.string().min(1).max(128),
  accuracyClass: z.enum(Object.keys(ACCURACY_CLASS_MPE_PERCENT) as [string, ...string[]]),
  calibratedAt: date,
  calibrationDue: date,
  /** the most the plant can export or import at the meter, kW: steps beyond it are implausible */
  ratedKw: z.number().positive().optional(),
});

export type MeterPlanConfig = z.output<typeof meterPlanSchema>;

/** A one-line problem with the plan against the register map, or null. */
export function meterPlanProblem(plan: MeterPlanConfig, map: readonly RegisterEntry[]): { message: string; path: string[] } | null {
  for (const role of ['export', 'import'] as const) {
    const e = map.find((x) => x.metric === plan[role]);
    if (!e) return { message: `no register entry has metric ${plan[role]}`, path: [role] };
    if (energyUnitKwh(e.unit) === undefined) return { message: `${plan[role]} is in ${e.unit}, not an energy unit (Wh, kWh, MWh)`, path: [role] };
  }
  if (plan.export === plan.import) return { message: 'export and import name the same register', path: ['import'] };
  if (plan.power !== undefined) {
    const p = map.find((x) => x.metric === plan.power);
    if (!p) return { message: `no register entry has metric ${plan.power}`, path: ['power'] };
    if (powerUnitKw(p.unit) === undefined) return { message: `${plan.power} is in ${p.unit}, not a power unit (W, kW, MW)`, path: ['power'] };
  }
  if (parsePlanDate(plan.calibrationDue)! < parsePlanDate(plan.calibratedAt)!) return { message: 'calibrationDue is before calibratedAt', path: ['calibrationDue'] };
  return null;
}
