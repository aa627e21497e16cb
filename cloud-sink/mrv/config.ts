// The `report:` section of the sink config: the project, its methodology, the grid emission factor
// with its provenance (one per project, fixed for the crediting period), the project and leakage
// emissions as declared, how a meter past its calibration date is treated, and the operators whose
// signed notes on meter events count. All optional: without them the report states what is missing.
import { z } from 'zod';
import { isHex } from '../../protocol/hash.ts';
import { parsePlanDate } from '../../protocol/plan.ts';
import { isValidName } from '../../protocol/records.ts';

const date = z.string().refine((s) => parsePlanDate(s) !== null, 'must be a date YYYY-MM-DD');
const text = z.string().min(1).max(500);

const projectSchema = z.strictObject({
  /** the registry's project id, e.g. "CDM 1234" or "VCS 5678" */
  id: text,
  name: text.optional(),
  /** the approved methodology, e.g. ACM0002 or AMS-I.D, and its version */
  methodology: text,
  methodologyVersion: text,
  creditingPeriod: z.strictObject({ from: date, to: date }).refine((p) => parsePlanDate(p.from)! <= parsePlanDate(p.to)!, 'from must not be after to'),
});

const gridFactorSchema = z.strictObject({
  /** t CO2 per MWh */
  tco2PerMwh: z.number().positive().max(5),
  /** e.g. "combined margin" */
  method: text,
  /** e.g. TOOL07 "Tool to calculate the emission factor for an electricity system" */
  tool: text,
  toolVersion: text,
  /** the electricity system, e.g. "Southern African Power Pool" or a national grid */
  grid: text,
  /** the data vintage, e.g. "2021-2023" */
  vintage: text,
  /** where the value was published (a DNA publication, the PDD, a registry document) */
  source: text,
  /** fixed for the crediting period at validation (ex-ante), or monitored (ex-post) */
  determination: z.enum(['ex-ante', 'ex-post']).default('ex-ante'),
  operatingMarginWeight: z.number().min(0).max(1).optional(),
  buildMarginWeight: z.number().min(0).max(1).optional(),
});

/** Project or leakage emissions as the PDD declares them: a rate per MWh credited and why. */
const declaredSchema = z.strictObject({
  tco2ePerMwh: z.number().min(0).max(5),
  /** the declaration's basis, e.g. "PV plant: no fuel, no reservoir (ACM0002: PE = 0)" */
  basis: text,
});

const operatorSchema = z.strictObject({
  id: z.string().refine(isValidName, 'must be 1-128 letters, digits, dot, dash, colon or underscore'),
  /** the operator's Ed25519 public key (hex), from: fieldproof keys show --data-dir DIR --json */
  key: z.string().refine((k) => isHex(k, 32), 'must be a 64-digit hex Ed25519 public key'),
});

export const mrvReportSchema = z.strictObject({
  project: projectSchema.optional(),
  gridEmissionFactor: gridFactorSchema.optional(),
  projectEmissions: declaredSchema.optional(),
  leakage: declaredSchema.optional(),
  /** a meter past its calibration due date: reduce by its accuracy class's error, or credit nothing */
  calibrationOverdue: z.enum(['reduce', 'exclude']).default('reduce'),
  operators: z.array(operatorSchema).default([]),
  /** how often the sink brings the MRV index up to date in the background (0: only when a report asks) */
  indexIntervalMs: z.number().int().min(0).default(10_000),
});

export type MrvReportConfig = z.output<typeof mrvReportSchema>;
export type GridEmissionFactor = z.output<typeof gridFactorSchema>;
