// The status page: one snapshot from the live feed, then small updates. Everything that came from
// the device is put in the page as text, never as HTML, since sensor names and alert messages come
// from the field.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const state = {
    snapshot: null,
    sensors: new Map(), // sensor -> SensorView
    rows: new Map(), // sensor -> <tr>
    board: {},
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
    window.fieldproofCharts.live(view);
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

  // ---------------------------------------------------------------- alert history

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  const stamp = (ts) => new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

  function renderAlertHistory(body) {
    const list = body.alerts || [];
    $('alert-history').hidden = list.length === 0;
    $('alert-history-empty').hidden = list.length > 0;
    $('alert-history-empty').textContent = body.enabled ? 'No alert raised yet.' : 'Alerts are off on this device (no alerts: section in its config).';
    const tbody = $('alert-history').tBodies[0];
    tbody.replaceChildren();
    for (const a of list) {
      const tr = document.createElement('tr');
      tr.dataset.alert = a.id;
      tr.dataset.state = a.clearedAt === null ? 'active' : 'cleared';
      const cleared = a.clearedAt === null ? 'active' : stamp(a.clearedAt) + (a.clearedBy === 'restart' ? ' (daemon stopped)' : '');
      tr.append(
        cell(stamp(a.raisedAt), 'raised'),
        cell(cleared, 'cleared' + (a.clearedAt === null ? ' sev-critical' : '')),
        cell(duration((a.clearedAt === null ? now() : a.clearedAt) - a.raisedAt), 'duration'),
        cell(a.severity, 'sev-' + String(a.severity).toLowerCase()),
        cell(a.sensor + ' ' + a.metric),
        cell(a.kind, 'rule'),
        cell(a.detail || '', 'detail'),
      );
      tbody.append(tr);
    }
  }

  async function loadAlertHistory() {
    try {
      const res = await fetch('/api/alerts/history', { cache: 'no-store' });
      if (res.ok) renderAlertHistory(await res.json());
    } catch (err) {
      console.warn('alert history not loaded', err);
    }
  }

  let alertHistoryTimer = null;
  /** raises and clears come in bursts: one reload for a burst */
  function scheduleAlertHistory() {
    if (alertHistoryTimer) return;
    alertHistoryTimer = setTimeout(() => {
      alertHistoryTimer = null;
      void loadAlertHistory();
    }, 300);
  }

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
    renderSensorCount(s.hiddenSensors);
    renderGap(s.lastGap);
    void window.fieldproofCharts.start(now).then(() => window.fieldproofCharts.draw());
    void loadAlertHistory();
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
        if (msg.key === 'alertEvent') scheduleAlertHistory();
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
    window.fieldproofCharts.draw();
  }, 1000);

  connect();
})();
