// The status page's charts: one per metric and unit, each series a sensor, over the range chosen
// (1 h, 6 h, 24 h), loaded from /api/history in steps of the device's history buckets and extended
// by the live feed without a reload. A step with no reading is null, which uPlot draws as a break
// in the line: a sensor that went silent shows as a gap, not as a straight line across it. Gap
// records (readings the journal had to drop) are shaded spans with a note under the chart.
// Names come from the field: they go into the page as text only.
(function () {
  'use strict';

  const MAX_CHARTS = 6;
  const SERIES_PER_CHART = 8;
  const TARGET_POINTS = 1500;
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

  const $ = (id) => document.getElementById(id);
  const state = {
    rangeMs: 3600000,
    bucketMs: 60000,
    step: 60000,
    from: 0, // first step shown, ms
    charts: new Map(), // "metric (unit)" -> chart
    generation: 0, // a range change makes answers to older requests stale
    now: () => Date.now(),
    started: false,
  };

  const chartKey = (metric, unit) => metric + ' (' + unit + ')';

  function makeChart(key) {
    const box = document.createElement('div');
    box.className = 'chart';
    box.dataset.chart = key;
    const h = document.createElement('h3');
    h.textContent = key;
    const plot = document.createElement('div');
    const notes = document.createElement('ul');
    notes.className = 'gap-notes';
    box.append(h, plot, notes);
    $('charts').append(box);
    $('charts-empty').hidden = true;
    return { key, box, plot, notes, sensors: [], metrics: [], times: [], values: [], acc: [], gaps: new Map(), uplot: null, dirty: true };
  }

  /** The chart and series index for a sensor's metric, made on first sight; null beyond the bounds. */
  function slotFor(sensor, metric, unit) {
    const key = chartKey(metric, unit);
    let ch = state.charts.get(key);
    if (!ch) {
      if (state.charts.size >= MAX_CHARTS) return null;
      ch = makeChart(key);
      state.charts.set(key, ch);
    }
    let i = ch.sensors.indexOf(sensor);
    const isNew = i < 0;
    if (isNew) {
      if (ch.sensors.length >= SERIES_PER_CHART) return null;
      ch.sensors.push(sensor);
      ch.metrics.push(metric);
      ch.values.push(ch.times.map(() => null));
      ch.acc.push(null);
      i = ch.sensors.length - 1;
      if (ch.uplot) { ch.uplot.destroy(); ch.uplot = null; }
    }
    return { ch, i, isNew };
  }

  /** The grid of steps for the range ending now: seconds, as uPlot wants them. */
  function grid() {
    const step = state.step;
    const end = Math.floor(state.now() / step) * step + step;
    state.from = end - state.rangeMs;
    const times = [];
    for (let t = state.from; t < end; t += step) times.push(t / 1000);
    return times;
  }

  function resetChart(ch, times) {
    ch.times = times.slice();
    ch.values = ch.sensors.map(() => times.map(() => null));
    ch.acc = ch.sensors.map(() => null);
    ch.gaps.clear();
    ch.notes.replaceChildren();
    if (ch.uplot) { ch.uplot.destroy(); ch.uplot = null; }
    ch.dirty = true;
  }

  async function fetchSeries(ch, i, generation) {
    const q = new URLSearchParams({ sensor: ch.sensors[i], metric: ch.metrics[i], from: String(state.from), to: String(state.from + state.rangeMs), step: String(state.step) });
    let body;
    try {
      const res = await fetch('/api/history?' + q, { cache: 'no-store' });
      if (res.status === 404) return; // nothing kept for it (yet): the live feed fills it in
      if (!res.ok) throw new Error('HTTP ' + res.status);
      body = await res.json();
    } catch (err) {
      console.warn('history of ' + ch.sensors[i] + ' not loaded', err);
      return;
    }
    if (generation !== state.generation) return;
    const first = ch.times[0] * 1000;
    for (const p of body.points) {
      const k = (p.t - first) / state.step;
      if (k >= 0 && k < ch.times.length) ch.values[i][k] = p.avg;
    }
    const last = body.points[body.points.length - 1];
    if (last) ch.acc[i] = { t: last.t, sum: last.avg * last.n, n: last.n };
    for (const g of body.gaps) noteGap(ch, g);
    ch.dirty = true;
  }

  function noteGap(ch, g) {
    if (ch.gaps.has(g.seq)) return;
    ch.gaps.set(g.seq, g);
    const li = document.createElement('li');
    li.className = 'gap-record';
    li.dataset.seq = String(g.seq);
    li.textContent = 'gap: ' + g.dropped + ' readings dropped (' + g.reason + ') ' + new Date(g.from).toISOString() + ' – ' + new Date(g.to).toISOString();
    ch.notes.append(li);
  }

  /** (Re)load every chart for the range chosen. */
  async function loadAll(series) {
    const generation = ++state.generation;
    state.step = state.bucketMs * Math.max(1, Math.ceil(state.rangeMs / state.bucketMs / TARGET_POINTS));
    for (const s of series || []) slotFor(s.sensor, s.metric, s.unit);
    const times = grid();
    const loads = [];
    for (const ch of state.charts.values()) {
      resetChart(ch, times);
      for (let i = 0; i < ch.sensors.length; i++) loads.push(fetchSeries(ch, i, generation));
    }
    await Promise.all(loads);
    if (generation === state.generation) document.body.dataset.historyLoaded = String(generation);
  }

  /** Move the grid on to the step holding `t` (ms), dropping steps that leave the range. */
  function advance(ch, t) {
    let lastT = ch.times[ch.times.length - 1] * 1000;
    while (lastT < t) {
      lastT += state.step;
      ch.times.push(lastT / 1000);
      for (const v of ch.values) v.push(null);
    }
    const keep = Math.round(state.rangeMs / state.step);
    if (ch.times.length > keep) {
      const cut = ch.times.length - keep;
      ch.times.splice(0, cut);
      for (const v of ch.values) v.splice(0, cut);
    }
  }

  /**
   * A reading from the live feed. The feed sends a sensor's newest reading per live interval, not
   * every one, so the current step's average here is of those; a reload shows the exact one.
   */
  function live(view) {
    if (typeof view.value !== 'number' || !state.generation) return;
    const slot = slotFor(view.sensor, view.metric, view.unit);
    if (!slot) return;
    const { ch, i, isNew } = slot;
    if (ch.times.length === 0) resetChart(ch, grid());
    if (isNew && ch.values[i].every((v) => v === null)) void fetchSeries(ch, i, state.generation);
    const t = Math.floor(view.ts / state.step) * state.step;
    if (t < ch.times[0] * 1000) return;
    advance(ch, t);
    const k = (t - ch.times[0] * 1000) / state.step;
    let acc = ch.acc[i];
    if (!acc || acc.t !== t) acc = ch.acc[i] = { t, sum: 0, n: 0 };
    acc.sum += view.value;
    acc.n += 1;
    ch.values[i][k] = acc.sum / acc.n;
    ch.dirty = true;
  }

  /** Shade the spans of gap records over the plot. */
  function drawGaps(u, ch) {
    if (ch.gaps.size === 0) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = 'rgba(179, 38, 30, 0.15)';
    for (const g of ch.gaps.values()) {
      const x0 = u.valToPos(g.from / 1000, 'x', true);
      const x1 = Math.max(x0 + 2, u.valToPos(g.to / 1000, 'x', true));
      const left = Math.max(u.bbox.left, x0);
      const right = Math.min(u.bbox.left + u.bbox.width, x1);
      if (right > left) ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
    }
    ctx.restore();
  }

  function draw() {
    if (typeof uPlot !== 'function') return;
    for (const ch of state.charts.values()) {
      if (!ch.dirty || ch.times.length === 0) continue;
      ch.dirty = false;
      const data = [ch.times.slice()].concat(ch.values.map((v) => v.slice()));
      if (!ch.uplot) {
        ch.uplot = new uPlot({
          width: Math.max(280, ch.box.clientWidth - 16),
          height: 220,
          scales: { x: { time: true } },
          // spanGaps false: a null step breaks the line
          series: [{}].concat(ch.sensors.map((s, k) => ({ label: s, stroke: COLORS[k % COLORS.length], width: 1.5, spanGaps: false, points: { show: false } }))),
          axes: [{}, { size: 60 }],
          legend: { live: true },
          hooks: { draw: [(u) => drawGaps(u, ch)] },
        }, data, ch.plot);
      } else {
        ch.uplot.setData(data);
      }
    }
  }

  window.addEventListener('resize', () => {
    for (const ch of state.charts.values()) if (ch.uplot) ch.uplot.setSize({ width: Math.max(280, ch.box.clientWidth - 16), height: 220 });
  });

  /** Series values of every chart, for whoever looks (tests, the console): {key: {times, series: {sensor: values}}}. */
  function data() {
    const out = {};
    for (const ch of state.charts.values()) {
      const series = {};
      ch.sensors.forEach((s, i) => (series[s] = ch.values[i].slice()));
      out[ch.key] = { step: state.step, times: ch.times.slice(), series, gaps: [...ch.gaps.values()] };
    }
    return out;
  }

  /** Called once the history's shape is known, and on every range choice. */
  async function start(now) {
    state.now = now;
    let info = { bucketMs: 60000, series: [] };
    try {
      const res = await fetch('/api/history/series', { cache: 'no-store' });
      if (res.ok) info = await res.json();
    } catch (err) {
      console.warn('history series not loaded', err);
    }
    state.bucketMs = info.bucketMs;
    $('history-note').textContent = info.rebuilding ? 'The history is being rebuilt from the journal; reload in a moment for all of it.' : '';
    if (!state.started) listenToRange();
    state.started = true;
    await loadAll(info.series);
  }

  function listenToRange() {
    for (const b of document.querySelectorAll('#range button')) {
      b.addEventListener('click', () => {
        state.rangeMs = Number(b.dataset.range);
        for (const o of document.querySelectorAll('#range button')) o.setAttribute('aria-pressed', String(o === b));
        void loadAll([]);
      });
    }
  }

  window.fieldproofCharts = { start, live, draw, data };
})();
