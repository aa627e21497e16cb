// One device's page: what the sink holds of it (from the fleet view), its sensors' latest
// readings and charts over a chosen range (the readings API, GET /v1/readings/latest and
// GET /v1/readings), and its MRV report for a chosen period with the CSV. A step the readings API
// has no bucket for is drawn as a gap, never bridged by a line.
import { $, ago, deviceFromPath, el, getJson, isoTime, number } from './dom.js';
import { chooseStep, columns } from './series.js';

const device = deviceFromPath();
const MAX_CHARTS = 24;
const REFRESH_MS = 15_000;
const charts = [];
let sensors = [];

const q = (params) => new URLSearchParams({ device, ...params }).toString();

function fact(dl, name, value, title) {
  dl.append(el('dt', { text: name }), el('dd', { text: value, title }));
}

async function loadFacts() {
  const dl = $('facts');
  const { status, body } = await getJson('/v1/fleet');
  dl.replaceChildren();
  const d = status === 200 ? body.devices.find((x) => x.device === device) : null;
  if (!d) {
    fact(dl, 'state', status === 200 ? 'not registered with this sink' : `the sink answered ${status}: ${body.error ?? ''}`);
    return;
  }
  fact(dl, 'needs a look', d.attention.length ? d.attention.join(', ') : 'no');
  fact(dl, 'last batch', d.lastBatch ? `${d.lastBatch}, ${ago(d.lastBatchAt)}` : 'none yet', isoTime(d.lastBatchAt));
  fact(dl, 'backlog reported', d.backlog === null ? 'not reported' : `${number(d.backlog, 0)} records`);
  fact(dl, 'last anchor', d.lastAnchor ? `#${d.lastAnchor.id} ${d.lastAnchor.state}, batch ${d.lastAnchor.batch}` : 'not anchored yet');
  fact(dl, 'clock', d.clock.state === 'unknown' ? 'unknown (the device does not say)' : `${d.clock.state} (${d.clock.source})`);
  fact(dl, 'equivocations', String(d.equivocations));
  fact(dl, 'refused batches', Object.entries(d.refusals).map(([k, n]) => `${k} ${n}`).join(', ') || 'none');
}

/** A readings API answer other than 200: the sink's one-line error, or that it has no such API. */
function readingsProblem(status, body) {
  if (status === 404 && body.code === 'no_route') return 'this sink does not serve the readings API (GET /v1/readings): no sensors or charts to show';
  return `the sink answered ${status}: ${body.error ?? ''}`;
}

/** The latest readings again, into the table, where the sink has given them before. */
async function refreshLatest() {
  if ($('sensors').dataset.state !== 'loaded') return;
  const { status, body } = await getJson(`/v1/readings/latest?${q({})}`);
  if (status === 200) showLatest(body.sensors);
}

function showLatest(list) {
  sensors = list;
  $('sensors').tBodies[0].replaceChildren(...sensors.map((s) => el('tr', { 'data-sensor': s.sensor, 'data-metric': s.metric },
    el('td', { text: s.sensor }), el('td', { text: s.metric }), el('td', { class: 'num', text: s.value === null ? 'no value' : number(s.value, 3) }),
    el('td', { text: s.unit }), el('td', { title: isoTime(s.ts), text: ago(s.ts) }), el('td', { class: 'num', text: number(s.quality?.score, 2) }),
    el('td', { class: 'wrap', text: (s.quality?.flags ?? []).join(', ') }))));
}

async function loadSensors() {
  const { status, body } = await getJson(`/v1/readings/latest?${q({})}`);
  const note = $('sensors-note');
  if (status !== 200) {
    note.hidden = false;
    note.textContent = readingsProblem(status, body);
    $('charts-note').hidden = false;
    $('charts-note').textContent = note.textContent;
    $('sensors').dataset.state = status === 404 ? 'no-api' : 'error';
    $('sensors').hidden = true;
    return;
  }
  showLatest(body.sensors);
  $('sensors').dataset.state = 'loaded';
  if (sensors.length === 0) {
    note.hidden = false;
    note.textContent = 'the sink holds no reading of this device yet';
  }
  await drawCharts();
}

function rangeEnd() {
  const v = $('range-end').value;
  return v ? Date.parse(v + 'Z') : Date.now();
}

/** Bumped by every drawing: one that a newer one overtook stops adding charts. */
let drawing = 0;

async function drawCharts() {
  const mine = ++drawing;
  for (const c of charts.splice(0)) c.destroy();
  const box = $('charts');
  box.replaceChildren();
  const to = rangeEnd();
  const span = Number($('range').value);
  const from = to - span;
  const step = chooseStep(span);
  const shown = sensors.slice(0, MAX_CHARTS);
  if (sensors.length > MAX_CHARTS) {
    $('charts-note').hidden = false;
    $('charts-note').textContent = `the first ${MAX_CHARTS} of ${sensors.length} sensors are drawn`;
  }
  for (const s of shown) {
    const { status, body } = await getJson(`/v1/readings?${q({ sensor: s.sensor, metric: s.metric, from, to, step })}`);
    if (mine !== drawing) return;
    const chart = el('div', { class: 'chart', 'data-sensor': s.sensor, 'data-metric': s.metric });
    chart.append(el('h3', { text: `${s.sensor} ${s.metric} (${s.unit})` }));
    box.append(chart);
    if (status !== 200) {
      chart.append(el('p', { class: 'error', text: readingsProblem(status, body) }));
      continue;
    }
    const { data, gaps } = columns(body.points, body.step ?? step);
    chart.dataset.points = String(body.points.length);
    chart.dataset.gaps = String(gaps);
    if (body.points.length === 0) {
      chart.append(el('p', { class: 'muted', text: 'no reading in this range' }));
      continue;
    }
    const plot = el('div');
    chart.append(plot);
    charts.push(new uPlot({
      width: Math.max(280, chart.clientWidth - 16), height: 200,
      scales: { x: { time: true } },
      series: [{}, { label: 'min', stroke: '#9fb8d6' }, { label: 'avg', stroke: '#1f5fa8', width: 1.5 }, { label: 'max', stroke: '#d69f9f' }],
      axes: [{}, { size: 60 }],
    }, data, plot));
  }
}

function utcDate(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

async function loadReport() {
  const from = Date.parse($('report-from').value + 'T00:00:00Z');
  const to = Date.parse($('report-to').value + 'T00:00:00Z');
  const note = $('report-note');
  const dl = $('report');
  dl.replaceChildren();
  $('report-warnings').replaceChildren();
  if (!(from < to)) {
    note.textContent = 'give a period whose start is before its end';
    return;
  }
  const base = `/v1/reports/${encodeURIComponent(device)}?from=${from}&to=${to}`;
  $('report-csv').href = `${base}&format=csv`;
  $('report-csv').setAttribute('download', `${device}-${utcDate(from)}-${utcDate(to)}.csv`);
  $('report-html').href = `${base}&format=html`;
  note.textContent = 'building the report…';
  const { status, body } = await getJson(`${base}&format=json`);
  if (status !== 200) {
    note.textContent = `the sink answered ${status}: ${body.error ?? ''}`;
    return;
  }
  $('report-csv').hidden = false;
  $('report-html').hidden = false;
  note.textContent = `${body.period.fromIso} to ${body.period.toIso}${body.provisional ? ' (provisional)' : ''}`;
  const e = body.energy;
  fact(dl, 'exported', `${number(e.exportedKwh, 3)} kWh`);
  fact(dl, 'imported', `${number(e.importedKwh, 3)} kWh`);
  fact(dl, 'net', `${number(e.netKwh, 3)} kWh`);
  fact(dl, 'credited', `${number(e.creditedKwh, 3)} kWh`);
  fact(dl, 'meter events', String(e.events.length));
  fact(dl, 'completeness', `${body.completeness.present} of ${body.completeness.expected} readings`);
  fact(dl, 'anchors', `${body.anchors.length} (${body.unanchoredBatches} batches not anchored yet)`);
  // older sinks answer without epochs
  const used = (body.epochs ?? []).map((ep) => String(ep.epoch));
  const pending = (body.pendingEpochs ?? []).map((p) => `${p.epoch} pending, not counted`);
  if (used.length > 1 || pending.length > 0) fact(dl, 'recovery epochs', [...used, ...pending].join(', '));
  $('report-warnings').replaceChildren(...body.warnings.map((w) => el('li', { text: w })));
}

function start() {
  $('device').textContent = device;
  document.title = `fieldproof sink: ${device}`;
  $('proof-link').href = `/proof?device=${encodeURIComponent(device)}`;
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  $('report-from').value = utcDate(today - 7 * 86_400_000);
  $('report-to').value = utcDate(today + 86_400_000);
  $('range-go').addEventListener('click', () => void drawCharts());
  $('range').addEventListener('change', () => void drawCharts());
  $('report-go').addEventListener('click', () => void loadReport());
  void loadFacts();
  void loadSensors();
  // What the sink holds and the latest readings move on; the charts stay as drawn until asked.
  setInterval(() => {
    void loadFacts();
    void refreshLatest();
  }, REFRESH_MS);
}

start();
