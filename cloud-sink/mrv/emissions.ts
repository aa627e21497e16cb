// Emission reductions from the credited net electricity: ER = BE - PE - LE, with BE = EG x EF_grid
// (the grid emission factor with its provenance from the sink's config, one per project) and PE
// and LE at the rates the project declares. Nothing is assumed: a factor or a declaration that is
// not configured leaves ER unstated, with what is missing. Only electricity credited inside the
// crediting period counts.
import { canonicalize } from '../../protocol/canonical.ts';
import { sha256 } from '../../protocol/hash.ts';
import { parsePlanDate } from '../../protocol/plan.ts';
import type { MrvReportConfig } from './config.ts';

const DAY = 86_400_000;

/** The crediting period as [from, to) in ms, or null when the project does not state one. */
export function creditingWindow(config: MrvReportConfig): { from: number; to: number } | null {
  const cp = config.project?.creditingPeriod;
  if (!cp) return null;
  return { from: parsePlanDate(cp.from)!, to: parsePlanDate(cp.to)! + DAY };
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * @param egKwh net electricity credited in the part of the period inside the crediting period
 *   (the whole period when the project states no crediting period)
 */
export function emissionsSection(config: MrvReportConfig, egKwh: number, from: number, to: number) {
  const ef = config.gridEmissionFactor;
  const cp = creditingWindow(config);
  const missing: string[] = [];
  if (!config.project) missing.push('report.project (id, methodology and version, crediting period)');
  if (!ef) missing.push('report.gridEmissionFactor');
  if (!config.projectEmissions) missing.push('report.projectEmissions (declare 0 with its basis where there are none)');
  if (!config.leakage) missing.push('report.leakage (declare 0 with its basis where there is none)');
  const egMwh = egKwh / 1000;
  const be = ef ? egMwh * ef.tco2PerMwh : null;
  const pe = config.projectEmissions ? egMwh * config.projectEmissions.tco2ePerMwh : null;
  const le = config.leakage ? egMwh * config.leakage.tco2ePerMwh : null;
  const er = be !== null && pe !== null && le !== null ? be - pe - le : null;
  return {
    formula: 'ER = BE - PE - LE; BE = EG x EF_grid; PE = EG x PE rate; LE = EG x LE rate (EG: net electricity credited, MWh)',
    project: config.project ? { id: config.project.id, name: config.project.name ?? null } : null,
    methodology: config.project ? { id: config.project.methodology, version: config.project.methodologyVersion } : null,
    monitoringPeriod: { from, to, fromIso: new Date(from).toISOString(), toIso: new Date(to).toISOString() },
    creditingPeriod: config.project ? { ...config.project.creditingPeriod, periodInside: cp !== null && from >= cp.from && to <= cp.to } : null,
    gridEmissionFactor: ef ? {
      ...ef,
      unit: 't CO2/MWh',
      // the same id in every report of the project shows the factor stayed fixed
      factorId: sha256(canonicalize(ef)).toString('hex').slice(0, 16),
    } : null,
    electricityCreditedMwh: round(egMwh, 9),
    baselineTco2e: be === null ? null : round(be),
    projectTco2e: pe === null ? null : round(pe),
    projectEmissionsBasis: config.projectEmissions?.basis ?? null,
    leakageTco2e: le === null ? null : round(le),
    leakageBasis: config.leakage?.basis ?? null,
    emissionReductionsTco2e: er === null ? null : round(er),
    missing,
  };
}

export type EmissionsSection = ReturnType<typeof emissionsSection>;
