// The report as CSV that describes itself: every row names its section, what it is, the meter,
// the time, the value and its unit, so that a spreadsheet of it needs no other document. The first
// rows state the device, the period, the plans and the emission factor with its provenance.
import type { MrvReport } from '../report.ts';

const HEAD = ['section', 'name', 'sensor', 'ts', 'time_utc', 'value', 'unit', 'detail'];

/** a number as String() writes it: the only text that may start with a minus sign unquoted */
const NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/;

function field(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // A leading =, +, -, @, tab or carriage return makes a spreadsheet run the cell as a formula
  // ("-2+3+cmd|..." too, though it starts like a number): anything but a plain number is quoted
  // as text. Serials and reasons come from the device's records, which the reader need not trust.
  const safe = /^[=+\-@\t\r]/.test(s) && !NUMBER.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const iso = (ts: number | null | undefined) => (typeof ts === 'number' && Number.isFinite(ts) ? new Date(ts).toISOString() : '');

export function reportCsv(r: MrvReport): string {
  const rows: unknown[][] = [HEAD];
  const row = (section: string, name: string, sensor: string | null, ts: number | null, value: unknown, unit: string | null, detail: unknown = null) =>
    rows.push([section, name, sensor, ts, iso(ts), value, unit, detail]);
  row('report', 'format', null, null, 'fieldproof MRV report v1', null, 'energy from the monitoring plans\' export and import registers; see the sink\'s MRV README');
  row('report', 'device', null, null, r.device, null);
  row('report', 'period_from', null, r.period.from, r.period.fromIso, 'UTC', 'inclusive');
  row('report', 'period_to', null, r.period.to, r.period.toIso, 'UTC', 'exclusive');
  row('report', 'generated_at', null, r.generatedAt, iso(r.generatedAt), 'UTC');
  row('report', 'provisional', null, null, r.provisional, null, r.provisional ? 'a meter has no reading after the period yet' : null);
  const e = r.emissions;
  if (e.project) row('project', 'id', null, null, e.project.id, null, e.project.name);
  if (e.methodology) row('project', 'methodology', null, null, e.methodology.id, null, `version ${e.methodology.version}`);
  if (e.creditingPeriod) row('project', 'crediting_period', null, null, `${e.creditingPeriod.from}..${e.creditingPeriod.to}`, null, e.creditingPeriod.periodInside ? 'period inside' : 'period not wholly inside');
  const f = e.gridEmissionFactor;
  if (f) row('factor', 'grid_emission_factor', null, null, f.tco2PerMwh, 't CO2/MWh', `${f.method}; ${f.tool} version ${f.toolVersion}; grid ${f.grid}; vintage ${f.vintage}; ${f.determination}; source ${f.source}; id ${f.factorId}`);
  else row('factor', 'grid_emission_factor', null, null, null, 't CO2/MWh', 'not configured');
  for (const m of r.meters) {
    for (const p of m.plans) {
      row('plan', 'meter', m.sensor, p.inForceFrom, p.serial, null,
        `class ${p.accuracyClass} (MPE ${p.maxPermissibleErrorPercent} %); calibrated ${p.calibratedAt}; due ${p.calibrationDue}; rated ${p.ratedKw ?? 'not given'} kW; interval ${p.intervalMs} ms; export ${p.export.metric} ${p.export.type} x${p.export.scale} ${p.export.unit}; import ${p.import.metric} ${p.import.type} x${p.import.scale} ${p.import.unit}${p.problem ? `; unusable: ${p.problem}` : ''}`);
    }
    for (const k of ['exportedKwh', 'importedKwh', 'netKwh', 'creditedKwh'] as const) row('energy', k.replace('Kwh', ''), m.sensor, null, m.energy[k], 'kWh');
    if (m.sameMeterAs) row('energy', 'same_meter_as', m.sensor, null, m.sameMeterAs, null, 'the same meter read under two sensors: counted once in the device totals, under that sensor');
    row('energy', 'calibration_reduction', m.sensor, null, m.calibrationReductionKwh, 'kWh');
    if (m.crossCheck) row('cross_check', 'power_integral', m.sensor, null, m.crossCheck.powerIntegralKwh, 'kWh', `${m.crossCheck.metric}; covers ${m.crossCheck.coveredFraction} of the period; not credited`);
    row('completeness', 'present_of_expected', m.sensor, null, `${m.completeness.present}/${m.completeness.expected}`, 'readings', `ratio ${m.completeness.ratio}; failed reads ${m.completeness.failedReads}`);
    for (const [name, reading] of Object.entries(m.readings)) {
      if (reading) row('reading', name, m.sensor, reading.ts, `${reading.exportKwh}/${reading.importKwh}`, 'kWh export/import', `seq ${reading.seqExport}/${reading.seqImport}; epoch ${reading.epochExport}/${reading.epochImport}`);
    }
    for (const c of m.carriedReadings) {
      row('carried', 'duplicates', m.sensor, c.to, c.duplicates, 'readings', `${c.metric}; epoch ${c.epoch} copies of epoch ${c.keptEpoch} readings from ${iso(c.from)}: epoch ${c.keptEpoch}'s used; ${c.conflicts} conflicting`);
    }
    for (const o of m.outOfOrderReadings) {
      row('carried', 'out_of_order', m.sensor, o.to, o.count, 'readings', `${o.metric}; epoch ${o.epoch} readings from ${iso(o.from)}, stamped before the register's last reading: left out`);
    }
  }
  for (const k of ['exportedKwh', 'importedKwh', 'netKwh', 'creditedKwh'] as const) row('energy', k.replace('Kwh', ''), 'all', null, r.energy[k], 'kWh', 'device total');
  for (const ev of r.energy.events) {
    row('event', ev.kind, ev.sensor, ev.ts, ev.uncreditedKwh, 'kWh uncredited', `${ev.register} register; detected by ${ev.detectedBy}; ${ev.registerBefore ?? ''} -> ${ev.registerAfter ?? ''}; credited by note ${ev.creditedByNoteKwh} kWh; ${ev.notes.length} note(s)`);
  }
  for (const g of r.energy.gaps) row('gap', g.bridged ? 'bridged' : 'not_bridged', g.sensor, g.to, g.uncreditedKwh, 'kWh uncredited', `from ${iso(g.from)}; ${g.reason}`);
  row('data_loss', 'dropped_on_device', null, null, r.dataLoss.droppedOnDevice, 'records', 'from the device\'s signed gap records');
  row('data_loss', 'pruned_records', null, null, r.dataLoss.prunedRecords, 'records', `${r.dataLoss.prunedBatches.length} batch(es) dropped before sending`);
  row('time', 'unsynced_readings', null, null, r.time.unsyncedReadings, 'readings', `in ${r.time.unsyncedBatches} batch(es) sealed while the device clock was not synchronised`);
  row('time', 'unstated_batches', null, null, r.time.unstatedBatches, 'batches', 'headers that do not state the clock\'s sync state');
  row('time', 'future_batches', null, null, r.time.futureBatches, 'batches', 'created after the sink received them, beyond its tolerance');
  row('time', 'backwards_batches', null, null, r.time.backwardsBatches, 'batches', 'created before the batch preceding them');
  for (const ep of r.epochs) {
    row('epoch', 'used', null, ep.readingsFrom, ep.epoch, null, `${ep.batches} batch(es) with readings to ${iso(ep.readingsTo)}${ep.restart ? `; opened by a restart (${ep.restart.reason}) joining epoch ${ep.restart.from.epoch} batch ${ep.restart.from.batch}, ${ep.restart.rejournaled} record(s) carried, accepted ${iso(ep.restart.acceptedAt)}` : ''}`);
  }
  for (const p of r.pendingEpochs) row('epoch', 'pending', null, p.mayCoverFrom, p.epoch, null, `${p.reason}; waits for an admin's acceptance; not in this report`);
  row('completeness', 'device', null, null, `${r.completeness.present}/${r.completeness.expected}`, 'readings', `ratio ${r.completeness.ratio}`);
  row('emissions', 'electricity_credited', null, null, e.electricityCreditedMwh, 'MWh', 'EG: inside the crediting period');
  row('emissions', 'baseline', null, null, e.baselineTco2e, 't CO2e', 'BE = EG x EF_grid');
  row('emissions', 'project', null, null, e.projectTco2e, 't CO2e', e.projectEmissionsBasis);
  row('emissions', 'leakage', null, null, e.leakageTco2e, 't CO2e', e.leakageBasis);
  row('emissions', 'emission_reductions', null, null, e.emissionReductionsTco2e, 't CO2e', e.missing.length ? `not stated: missing ${e.missing.join('; ')}` : 'ER = BE - PE - LE');
  for (const a of r.anchors) row('anchor', a.state, null, null, a.root, null, `${a.chain ?? ''} tx ${a.tx ?? ''}; ${a.batches} batch(es)`);
  for (const w of r.warnings) row('warning', 'warning', null, null, null, null, w);
  return rows.map((x) => x.map(field).join(',')).join('\n') + '\n';
}
