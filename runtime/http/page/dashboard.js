// The status page: one snapshot from the live feed, then small updates. Everything that came from
// the device is put in the page as text, never as HTML, since sensor names and alert messages come
// from the field.
(function () {
  'use strict';

  const MAX_CHARTS = 6;
  const SERIES_PER_CHART = 8;
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

  const $ = (id) => document.getElementById(id);
  const state = {
    snapshot: null,
    sensors: new Map(), // sensor -> SensorView
    rows: new Map(), // sensor -> <tr>
    board: {},
    charts: new Map(), // "metric unit" -> chart
    historyPoints: 300,
    clockSkew: 0, // device clock minus browser clock, ms
  };

  // ---------------------------------------------------------------- formatting

  function now() {
    return Date.now() + state.clockSkew;
  }

  function ago(ts) {
    if (typeof ts !== 'number' || !isFinite(ts)) return '–';
    const s = Math.max(0, Math.round((now() - ts) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h ago';
  }

  function bytes(n) {
    if (typeof n !== 'number') return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function num(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
  }

  /** Epoch milliseconds (or seconds) are shown as "time (x ago)"; keys say which. */
  function fact(key, value) {
    if (value === null || value === undefined) return '–';
    if (typeof value === 'number' && /(At|Ts|ts|time|Time|since|Since)$/.test(key) && value > 1e9) {
      const ms = value < 1e12 ? value * 1000 : value;
      return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') + ' (' + ago(ms) + ')';
    }
    if (typeof value === 'number' && /bytes|Bytes/.test(key)) return bytes(value);
    if (typeof value === 'number') return num(value);
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function setFacts(dl, obj, skip) {
    dl.replaceChildren();
    if (!obj || typeof obj !== 'object') return;
    for (const [k, v] of Object.entries(obj)) {
      if (skip && skip.includes(k)) continue;
      if (Array.isArray(v)) continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = fact(k, v);
      dl.append(dt, dd);
    }
  }

  function firstOf(obj, keys) {
    if (!obj || typeof obj !== 'object') return undefined;
    for (const k of keys) if (obj[k] !== undefined && obj[k] !== null) return obj[k];
    return undefined;
  }

  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  // ---------------------------------------------------------------- tiles

  function renderJournal(j) {
    if (!j) return;
    $('journal-unsent').textContent = num(j.unsentRecords);
    setFacts($('journal-facts'), {
      'last seq': j.lastSeq,
      'sealed batches': j.lastBatch,
      'unsent batches': j.unsentBatches,
      'acknowledged batch': j.ackedBatch,
      'disk used': bytes(j.bytes) + (j.maxBytes ? ' of ' + bytes(j.maxBytes) : ''),
      'pruned batches': j.prunedBatches,
    });
  }

  function renderUplink(u) {
    const last = firstOf(u, ['lastSyncAt', 'lastAckAt', 'lastSync', 'lastSuccessAt', 'at']);
    $('sync-last').textContent = last === undefined ? (u ? 'never' : 'no uplink') : fact('At', last).replace(/^.*\((.*)\)$/, '$1');
    setFacts($('sync-facts'), u);
  }

  function renderAnchors(a) {
    let latest = a;
    if (Array.isArray(a)) latest = a[a.length - 1];
    else if (a && Array.isArray(a.recent)) latest = a.recent[a.recent.length - 1] || a;
    const at = firstOf(latest, ['lastAnchoredAt', 'anchoredAt', 'lastAt', 'at', 'ts', 'time']);
    $('anchor-last').textContent = latest === undefined ? 'none yet' : at !== undefined ? fact('At', at).replace(/^.*\((.*)\)$/, '$1') : firstOf(latest, ['tx', 'version', 'root']) !== undefined ? 'anchored' : 'none yet';
    setFacts($('anchor-facts'), Array.isArray(a) ? Object.assign({ anchors: a.length }, latest) : a);
  }

  /** Alerts come as a list, or as {active: [...]}; each item named by whichever fields it has. */
  function renderAlerts(a) {
    const list = Array.isArray(a) ? a : a && Array.isArray(a.active) ? a.active : [];
    $('alert-count').textContent = String(list.length);
    $('tile-alerts').classList.toggle('sev-critical', list.length > 0);
    $('alerts').hidden = list.length === 0;
    $('alerts-empty').hidden = list.length > 0;
    const body = $('alerts').tBodies[0];
    body.replaceChildren();
    for (const item of list.slice(-50).reverse()) {
      const tr = document.createElement('tr');
      const sev = String(firstOf(item, ['severity', 'level']) || 'alert');
      const since = firstOf(item, ['since', 'raisedAt', 'at', 'ts', 'time']);
      tr.append(
        cell(since === undefined ? '–' : ago(typeof since === 'number' && since < 1e12 ? since * 1000 : since)),
        cell(sev, 'sev-' + sev.toLowerCase()),
        cell(String(firstOf(item, ['sensor', 'source', 'device']) || '–')),
        cell(String(firstOf(item, ['message', 'detail', 'rule', 'kind']) || JSON.stringify(item)), 'detail'),
      );
      body.append(tr);
    }
  }

  function renderBoard(key, value) {
    state.board[key] = value;
    if (key === 'uplink') renderUplink(value);
    else if (key === 'anchors') renderAnchors(value);
    else if (key === 'alerts') renderAlerts(value);
  }

  // ---------------------------------------------------------------- sources

  function renderSources(list) {
    const body = $('sources').tBodies[0];
    body.replaceChildren();
    for (const s of list || []) {
      const tr = document.createElement('tr');
      tr.dataset.source = s.id;
      const st = document.createElement('td');
      const badge = document.createElement('span');
      badge.className = 'badge ' + s.state;
      badge.textContent = s.state;
      st.append(badge);
      tr.append(cell(s.id), cell(s.kind), st, cell(num(s.readings), 'num'), cell(num(s.errors), 'num'), cell(ago(s.lastReadingAt)), cell(s.detail || '', 'detail'));
      body.append(tr);
    }
  }

  // ---------------------------------------------------------------- sensors

  function qualityClass(score) {
    return score >= 0.9 ? 'q-good' : score >= 0.5 ? 'q-fair' : 'q-bad';
  }

  /** one row and one chart series per sensor and metric (an MH-Z19 reports CO2 and temperature) */
  function seriesKey(view) {
    return view.sensor + '/' + view.metric;
  }

  function sensorRow(view) {
    const key = seriesKey(view);
    let tr = state.rows.get(key);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.sensor = view.sensor;
      tr.dataset.metric = view.metric;
      for (const cls of ['name', 'metric', 'value num', 'unit', 'quality', 'flags detail', 'age', 'seq num']) tr.append(cell('', cls));
      state.rows.set(key, tr);
      const body = $('sensors').tBodies[0];
      // Keep rows in name order as sensors appear.
      const after = [...state.rows.keys()].sort().find((k) => k > key);
      body.insertBefore(tr, after ? state.rows.get(after) : null);
    }
    const c = tr.cells;
    c[0].textContent = view.sensor;
    c[1].textContent = view.metric;
    // A state reading (a leak sensor's LEAK) shows its text; a number with a note shows both.
    c[2].textContent = view.state === undefined ? num(view.value) : view.value === null ? view.state : `${num(view.value)} (${view.state})`;
    c[3].textContent = view.unit;
    c[4].textContent = view.quality ? view.quality.score.toFixed(2) : '–';
    c[4].className = 'quality ' + (view.quality ? qualityClass(view.quality.score) : '');
    c[5].textContent = view.quality && view.quality.flags.length ? view.quality.flags.join(', ') : '';
    c[6].textContent = ago(view.ts);
    c[6].dataset.ts = String(view.ts);
    c[7].textContent = String(view.seq);
  }

  function noteSensor(view) {
    state.sensors.set(seriesKey(view), view);
    sensorRow(view);
    chartPoint(view);
  }

  function renderSensorCount(hidden) {
    $('sensor-count').textContent = '(' + state.sensors.size + ')';
    const p = $('sensors-hidden');
    p.hidden = !hidden;
    p.textContent = hidden ? hidden + ' more sensors report readings; raise http.maxSensors to list them.' : '';
  }

  function renderGap(gap) {
    $('gap').textContent = gap ? 'Data gap: ' + num(gap.dropped) + ' readings dropped (' + gap.reason + ') between ' + new Date(gap.from).toISOString() + ' and ' + new Date(gap.to).toISOString() + '.' : '';
  }

  // ---------------------------------------------------------------- charts

  function chartKey(view) {
    return view.metric + ' (' + view.unit + ')';
  }

  function makeChart(key) {
    const box = document.createElement('div');
    box.className = 'chart';
    const h = document.createElement('h3');
    h.textContent = key;
    const plot = document.createElement('div');
    box.append(h, plot);
    $('charts').append(box);
    $('charts-empty').hidden = true;
    return { key, box, plot, sensors: [], times: [], values: [], uplot: null, dirty: true };
  }

  function chartFor(view) {
    const key = chartKey(view);
    let ch = state.charts.get(key);
    if (!ch) {
      if (state.charts.size >= MAX_CHARTS) return null;
      ch = makeChart(key);
      state.charts.set(key, ch);
    }
    let i = ch.sensors.indexOf(view.sensor);
    if (i < 0) {
      if (ch.sensors.length >= SERIES_PER_CHART) return null;
      ch.sensors.push(view.sensor);
      ch.values.push(ch.times.map(() => null));
      i = ch.sensors.length - 1;
      if (ch.uplot) { ch.uplot.destroy(); ch.uplot = null; }
    }
    return { ch, i };
  }

  /** Put a value at second `sec`, keeping the chart's columns aligned and bounded. */
  function putPoint(ch, i, sec, value) {
    const n = ch.times.length;
    let at = n - 1;
    if (n === 0 || sec > ch.times[n - 1]) {
      ch.times.push(sec);
      for (const v of ch.values) v.push(null);
      at = n;
    } else if (sec !== ch.times[n - 1]) {
      at = ch.times.indexOf(sec);
      if (at < 0) {
        // An older second: insert it in order (rare, from history merging).
        at = ch.times.findIndex((t) => t > sec);
        ch.times.splice(at, 0, sec);
        for (const v of ch.values) v.splice(at, 0, null);
      }
    }
    ch.values[i][at] = value;
    if (ch.times.length > state.historyPoints) {
      const cut = ch.times.length - state.historyPoints;
      ch.times.splice(0, cut);
      for (const v of ch.values) v.splice(0, cut);
    }
    ch.dirty = true;
  }

  function chartPoint(view) {
    const slot = chartFor(view);
    if (!slot) return;
    putPoint(slot.ch, slot.i, Math.floor(view.ts / 1000), view.value);
  }

  function loadHistory(history) {
    for (const [key, h] of Object.entries(history || {})) {
      const view = state.sensors.get(key);
      if (!view) continue;
      const slot = chartFor(view);
      if (!slot) continue;
      for (let k = 0; k < h.t.length; k++) putPoint(slot.ch, slot.i, h.t[k], h.v[k]);
    }
  }

  function drawCharts() {
    if (typeof uPlot !== 'function') return;
    for (const ch of state.charts.values()) {
      if (!ch.dirty) continue;
      ch.dirty = false;
      const data = [ch.times.slice()].concat(ch.values.map((v) => v.slice()));
      if (!ch.uplot) {
        const width = Math.max(280, ch.box.clientWidth - 16);
        ch.uplot = new uPlot({
          width,
          height: 220,
          scales: { x: { time: true } },
          series: [{}].concat(ch.sensors.map((s, k) => ({ label: s, stroke: COLORS[k % COLORS.length], width: 1.5, spanGaps: true }))),
          axes: [{}, { size: 60 }],
          legend: { live: true },
        }, data, ch.plot);
      } else {
        ch.uplot.setData(data);
      }
    }
  }

  window.addEventListener('resize', () => {
    for (const ch of state.charts.values()) if (ch.uplot) ch.uplot.setSize({ width: Math.max(280, ch.box.clientWidth - 16), height: 220 });
  });

  // ---------------------------------------------------------------- feed

  function applySnapshot(s) {
    state.snapshot = s;
    state.clockSkew = s.now - Date.now();
    $('device').textContent = s.device;
    $('key').textContent = 'key ' + s.key.slice(0, 16) + '…';
    $('key').title = s.key;
    document.title = s.device + ' · fieldproof';
    renderJournal(s.journal);
    renderSources(s.sources);
    state.board = {};
    renderUplink(s.board.uplink);
    renderAnchors(s.board.anchors);
    renderAlerts(s.board.alerts);
    for (const [k, v] of Object.entries(s.board)) state.board[k] = v;
    for (const v of s.sensors) {
      state.sensors.set(seriesKey(v), v);
      sensorRow(v);
    }
    loadHistory(s.history);
    renderSensorCount(s.hiddenSensors);
    renderGap(s.lastGap);
    drawCharts();
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'snapshot':
        applySnapshot(msg.data);
        break;
      case 'readings':
        for (const v of msg.readings) noteSensor(v);
        renderSensorCount(msg.hiddenSensors);
        renderGap(msg.lastGap);
        break;
      case 'status':
        state.clockSkew = msg.now - Date.now();
        renderSources(msg.sources);
        renderJournal(msg.journal);
        break;
      case 'board':
        renderBoard(msg.key, msg.value);
        break;
    }
  }

  let retryMs = 500;
  function connect() {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live');
    ws.onopen = () => {
      retryMs = 500;
      const b = $('live');
      b.textContent = 'live';
      b.className = 'badge ok';
    };
    ws.onmessage = (ev) => {
      try {
        onMessage(JSON.parse(ev.data));
      } catch (err) {
        console.error('bad live message', err);
      }
    };
    ws.onclose = () => {
      const b = $('live');
      b.textContent = 'reconnecting';
      b.className = 'badge down';
      setTimeout(connect, retryMs);
      retryMs = Math.min(10000, retryMs * 2);
    };
  }

  // Ages tick without new data; charts redraw at most once a second.
  setInterval(() => {
    for (const tr of state.rows.values()) {
      const c = tr.cells[6];
      if (c.dataset.ts) c.textContent = ago(Number(c.dataset.ts));
    }
    drawCharts();
  }, 1000);

  connect();
})();
