// The report as one printable HTML page (A4, no scripts, nothing fetched): what a verifier reads
// and signs off, with every number the JSON has and the rules it was made by in plain words.
import type { MrvReport } from '../report.ts';

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const iso = (ts: number | null | undefined) => (typeof ts === 'number' && Number.isFinite(ts) ? new Date(ts).toISOString().replace('.000Z', 'Z') : '');
const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

function table(head: string[], rows: unknown[][]): string {
  if (rows.length === 0) return '<p class="none">None.</p>';
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const STYLE = `
  @page { size: A4; margin: 16mm 14mm; }
  body { font: 10pt/1.4 system-ui, sans-serif; color: #111; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
  h1 { font-size: 16pt; margin: 0 0 .2rem; } h2 { font-size: 12pt; margin: 1.4rem 0 .4rem; border-bottom: 1px solid #999; }
  table { border-collapse: collapse; width: 100%; margin: .3rem 0; } th, td { border: 1px solid #bbb; padding: 2px 5px; text-align: left; vertical-align: top; }
  td.n, th.n { text-align: right; } .total td { font-weight: 600; } .none { color: #555; font-style: italic; }
  .warn { background: #fff4d6; border: 1px solid #d9a400; padding: .4rem .6rem; } .sign { margin-top: 2rem; display: flex; gap: 3rem; }
  .sign div { flex: 1; border-top: 1px solid #111; padding-top: .2rem; } dl { display: grid; grid-template-columns: 14rem 1fr; gap: 0 1rem; } dt { color: #444; }
  @media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }`;

export function reportHtml(r: MrvReport): string {
  const e = r.emissions;
  const f = e.gridEmissionFactor;
  const meterRows = r.meters.map((m) => [m.sameMeterAs ? `${m.sensor} (the meter of ${m.sameMeterAs}: not in the totals)` : m.sensor, m.plans.map((p) => p.serial).join(', '), num(m.energy.exportedKwh), num(m.energy.importedKwh), num(m.energy.netKwh), num(m.calibrationReductionKwh), num(m.energy.creditedKwh), `${m.completeness.present}/${m.completeness.expected}`]);
  meterRows.push(['All meters', '', num(r.energy.exportedKwh), num(r.energy.importedKwh), num(r.energy.netKwh), num(r.energy.calibrationReductionKwh), num(r.energy.creditedKwh), `${r.completeness.present}/${r.completeness.expected}`]);
  const planRows = r.meters.flatMap((m) => m.plans.map((p) => [m.sensor, p.serial, `${p.accuracyClass} (±${p.maxPermissibleErrorPercent} %)`, p.calibratedAt, p.calibrationDue, p.ratedKw ?? 'not given', `${p.intervalMs} ms`,
    `${p.export.metric} (${p.export.type} ×${p.export.scale} ${p.export.unit})`, `${p.import.metric} (${p.import.type} ×${p.import.scale} ${p.import.unit})`, `${p.epoch > 1 ? `epoch ${p.epoch} ` : ''}seq ${p.seq}${p.problem ? ` — unusable: ${p.problem}` : ''}`]));
  const readingRows = r.meters.flatMap((m) => Object.entries(m.readings).filter(([, x]) => x).map(([name, x]) => [m.sensor, name, iso(x!.ts), num(x!.exportKwh), num(x!.importKwh), `${x!.seqExport} / ${x!.seqImport}`, `${x!.epochExport} / ${x!.epochImport}`]));
  const eventRows = r.energy.events.map((ev) => [iso(ev.ts), ev.sensor, ev.kind, ev.register, ev.detectedBy, `${ev.registerBefore ?? ''} → ${ev.registerAfter ?? ''}`, num(ev.estimateKwh), num(ev.uncreditedKwh), num(ev.creditedByNoteKwh),
    ev.notes.map((n) => `${n.operator} (${iso(n.at)}${n.counts ? '' : `, does not count: ${n.standing}`}): ${n.text}`).join(' | ') || 'no note']);
  const gapRows = r.energy.gaps.map((g) => [g.sensor, iso(g.from), iso(g.to), g.bridged ? 'bridged' : 'not bridged', num(g.exportRegisterKwh), num(g.uncreditedKwh), g.reason]);
  const calRows = r.meters.flatMap((m) => m.calibration.map((c) => [m.sensor, c.serial, c.calibrationDue, c.overdueHours, c.mode === 'reduce' ? `reduced by ${c.maxPermissibleErrorPercent} %` : 'not credited']));
  const lossRows = [
    ...r.dataLoss.gapRecords.map((g) => ['gap record', `${g.epoch > 1 ? `epoch ${g.epoch} ` : ''}seq ${g.seq}`, iso(g.from), iso(g.to), g.reason, g.droppedInPeriod]),
    ...r.dataLoss.prunedBatches.map((p) => ['dropped batch', `${p.epoch > 1 ? `epoch ${p.epoch} ` : ''}batch ${p.batch} (seq ${p.first}..${p.last})`, iso(p.from), iso(p.to), 'dropped before sending', p.recordsInPeriod]),
  ];
  const epochRows = [
    ...r.epochs.map((ep) => [ep.epoch, 'used', iso(ep.readingsFrom), iso(ep.readingsTo), ep.batches,
      ep.restart ? `restart (${ep.restart.reason}) joining epoch ${ep.restart.from.epoch} batch ${ep.restart.from.batch}; ${ep.restart.rejournaled} record(s) carried; accepted ${iso(ep.restart.acceptedAt)}` : 'the first chain']),
    ...r.pendingEpochs.map((p) => [p.epoch, 'pending: not in this report', iso(p.mayCoverFrom), '', '', `restart (${p.reason}) waits for an admin's acceptance`]),
  ];
  const carriedRows = [
    ...r.meters.flatMap((m) => m.carriedReadings.map((c) => [m.sensor, c.metric, c.epoch, c.keptEpoch, c.duplicates, c.conflicts, iso(c.from), iso(c.to)])),
    ...r.meters.flatMap((m) => m.outOfOrderReadings.map((o) => [m.sensor, o.metric, o.epoch, 'none: stamped before the register\'s last reading', o.count, 0, iso(o.from), iso(o.to)])),
  ];
  const crossRows = r.meters.filter((m) => m.crossCheck).map((m) => [m.sensor, m.crossCheck!.metric, num(m.crossCheck!.powerIntegralKwh), num(m.crossCheck!.registerNetKwh), m.crossCheck!.differencePercent ?? '—', `${num(m.crossCheck!.coveredFraction * 100, 1)} %`]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MRV report ${esc(r.device)} ${esc(r.period.fromIso)} – ${esc(r.period.toIso)}</title><style>${STYLE}</style></head>
<body>
<h1>Monitoring report: ${esc(e.project?.name ?? e.project?.id ?? r.device)}</h1>
<dl>
<dt>Device</dt><dd>${esc(r.device)}</dd>
<dt>Monitoring period (UTC)</dt><dd>${esc(r.period.fromIso)} to ${esc(r.period.toIso)} (end exclusive)${r.provisional ? ' — <b>provisional</b>' : ''}</dd>
<dt>Project</dt><dd>${e.project ? `${esc(e.project.id)}${e.project.name ? ` — ${esc(e.project.name)}` : ''}` : 'not configured'}</dd>
<dt>Methodology</dt><dd>${e.methodology ? `${esc(e.methodology.id)}, version ${esc(e.methodology.version)}` : 'not configured'}</dd>
<dt>Crediting period</dt><dd>${e.creditingPeriod ? `${esc(e.creditingPeriod.from)} to ${esc(e.creditingPeriod.to)}${e.creditingPeriod.periodInside ? '' : ' (this period is not wholly inside it; only the part inside is credited)'}` : 'not configured'}</dd>
<dt>Generated</dt><dd>${esc(iso(r.generatedAt))}</dd>
</dl>
${r.warnings.length ? `<div class="warn"><b>Findings</b><ul>${r.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></div>` : ''}
<h2>1. Net electricity (EG)</h2>
<p>Exported minus imported energy from each meter's plan registers between good readings, interpolated at the period's edges. Credited = net, less export across gaps the plan cannot bound and across meter events without an accepting operator note, less the import charged across events, less the calibration reduction.</p>
${table(['Meter', 'Serial', 'Exported kWh', 'Imported kWh', 'Net kWh', 'Calibration reduction kWh', 'Credited kWh', 'Readings present'], meterRows)}
<h2>2. Emission reductions</h2>
<dl>
<dt>Grid emission factor</dt><dd>${f ? `${esc(f.tco2PerMwh)} t CO2/MWh — ${esc(f.method)}, ${esc(f.tool)} version ${esc(f.toolVersion)}, ${esc(f.grid)}, vintage ${esc(f.vintage)}, ${esc(f.determination)}; source: ${esc(f.source)}${f.operatingMarginWeight !== undefined ? `; weights OM ${esc(f.operatingMarginWeight)} / BM ${esc(f.buildMarginWeight ?? '')}` : ''} (id ${esc(f.factorId)})` : 'not configured'}</dd>
<dt>EG credited (MWh)</dt><dd>${num(e.electricityCreditedMwh, 6)}</dd>
<dt>BE = EG × EF (t CO2e)</dt><dd>${num(e.baselineTco2e, 6)}</dd>
<dt>PE (t CO2e)</dt><dd>${num(e.projectTco2e, 6)} ${esc(e.projectEmissionsBasis ?? 'not declared')}</dd>
<dt>LE (t CO2e)</dt><dd>${num(e.leakageTco2e, 6)} ${esc(e.leakageBasis ?? 'not declared')}</dd>
<dt>ER = BE − PE − LE (t CO2e)</dt><dd><b>${num(e.emissionReductionsTco2e, 6)}</b>${e.missing.length ? ` — not stated: missing ${esc(e.missing.join('; '))}` : ''}</dd>
</dl>
<h2>3. Monitoring plan in force</h2>
${table(['Meter', 'Serial', 'Accuracy class', 'Calibrated', 'Calibration due', 'Rated kW', 'Interval', 'Export register', 'Import register', 'Plan record'], planRows)}
<h2>4. Register readings at the period's edges</h2>
${table(['Meter', 'Reading', 'Time (UTC)', 'Export kWh', 'Import kWh', 'Record seq (export / import)', 'Epoch (export / import)'], readingRows)}
<h2>5. Meter events</h2>
${table(['Time (UTC)', 'Meter', 'Kind', 'Register', 'Detected by', 'Register before → after', 'Estimate kWh', 'Uncredited kWh', 'Credited by note kWh', 'Operator notes'], eventRows)}
<h2>6. Gaps between readings</h2>
${table(['Meter', 'From', 'To', 'Bridged', 'Export register kWh', 'Uncredited kWh', 'Why'], gapRows)}
<h2>7. Calibration</h2>
${table(['Meter', 'Serial', 'Due', 'Overdue hours in period', 'Treatment'], calRows)}
<h2>8. Data completeness and loss</h2>
<p>${r.completeness.present} of ${r.completeness.expected} readings the plans call for are present and usable (${num(r.completeness.ratio * 100, 2)} %). The device reports ${r.dataLoss.droppedOnDevice} record(s) dropped and ${r.dataLoss.prunedRecords} record(s) in batches dropped before sending.</p>
${table(['Kind', 'Record', 'From', 'To', 'Reason', 'Records in period'], lossRows)}
<p>Device clock: ${r.time.unsyncedReadings} reading(s) in ${r.time.unsyncedBatches} batch(es) sealed while the device clock was not synchronised; ${r.time.unstatedBatches} batch(es) do not state the clock's state; the sink flagged ${r.time.futureBatches} batch(es) created in the future and ${r.time.backwardsBatches} created before the batch preceding them.</p>
<p>Recovery epochs: a device that lost or restored its journal signs a new chain, whose seqs count from 1 again. The readings of every accepted epoch are used; a reading a later epoch carried that an earlier one holds is counted once, the earlier copy used.</p>
${table(['Epoch', 'Status', 'Readings from', 'Readings to', 'Batches', 'Opened by'], epochRows)}
${carriedRows.length ? table(['Meter', 'Register', 'Epoch carrying copies', 'Epoch used', 'Copies left out', 'Conflicting values', 'From', 'To'], carriedRows) : ''}
<h2>9. Cross-check: active power integrated</h2>
${table(['Meter', 'Power register', 'Power integral kWh', 'Register net kWh', 'Difference %', 'Coverage'], crossRows)}
<h2>10. Anchors</h2>
${table(['Anchor', 'State', 'Chain', 'Transaction', 'Root', 'Batches'], r.anchors.map((a) => [a.id, a.state, a.chain ?? '', a.tx ?? '', a.root, a.batches]))}
<p>${r.unanchoredBatches} batch(es) of the period are not anchored yet. Any reading can be proven with GET /v1/proofs/${esc(r.device)}/SEQ?epoch=EPOCH.</p>
<div class="sign"><div>Project participant</div><div>Verifier</div></div>
</body></html>
`;
}
