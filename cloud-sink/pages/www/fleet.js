// The fleet page: the sink's GET /v1/fleet, drawn as a table in the order the sink gives (the
// devices that need a look first), then kept current from the live feed (/v1/fleet/events).
import { $, ago, el, getJson, isoTime, number } from './dom.js';

const WHY = {
  equivocation: 'equivocates', refused: 'batches refused', silent: 'silent', behind: 'behind', clock: 'clock not synced',
};

let latest = null;

function anchorCell(a, now) {
  if (!a) return el('span', { class: 'muted', text: 'not anchored yet' });
  const when = a.committedAt ?? a.createdAt;
  return el('span', { title: `anchor ${a.id}, batch ${a.batch}, ${isoTime(when)}`, text: `#${a.id} ${a.state}, ${ago(when, now)}` });
}

function clockCell(c) {
  if (c.state === 'unknown') return el('span', { class: 'muted', text: 'unknown' });
  const offset = typeof c.offsetMs === 'number' ? `, ${number(c.offsetMs, 0)} ms` : '';
  return el('span', { class: c.state === 'synced' ? '' : 'error', text: `${c.state} (${c.source}${offset})` });
}

function row(d, now) {
  const refusals = Object.entries(d.refusals).map(([why, n]) => `${why} ${n}`).join(', ');
  const attention = el('td', { class: 'attention' });
  if (d.attention.length === 0) attention.append(el('span', { class: 'badge ok', text: 'ok' }));
  for (const a of d.attention) attention.append(el('span', { class: `badge ${a}`, text: WHY[a] ?? a }));
  return el('tr', { 'data-device': d.device, class: d.attention.length ? 'needs-look' : '' },
    el('td', {}, el('a', { href: `/devices/${encodeURIComponent(d.device)}`, text: d.device })),
    attention,
    el('td', { class: 'last-batch', title: isoTime(d.lastBatchAt), text: ago(d.lastBatchAt, now) }),
    el('td', { class: 'num batch', text: d.lastBatch }),
    el('td', { class: 'num backlog', title: d.backlogAt ? `reported ${ago(d.backlogAt, now)}` : 'not reported', text: d.backlog === null ? '–' : number(d.backlog, 0) }),
    el('td', {}, anchorCell(d.lastAnchor, now)),
    el('td', {}, clockCell(d.clock)),
    el('td', { class: 'num', text: d.equivocations }),
    el('td', { class: 'wrap refusals', text: refusals || '–' }),
  );
}

function render() {
  if (!latest) return;
  const now = Date.now();
  const tbody = $('fleet').tBodies[0];
  tbody.replaceChildren(...latest.devices.map((d) => row(d, now)));
  const needing = latest.devices.filter((d) => d.attention.length > 0).length;
  $('summary').textContent = `${latest.devices.length} devices, ${needing} need a look; silent means no batch for ${Math.round(latest.silentAfterMs / 60000)} min, behind more than ${number(latest.backlogWarnRecords, 0)} records unsent.`;
}

function show(snapshot) {
  latest = snapshot;
  $('error').hidden = true;
  render();
}

function follow() {
  const events = new EventSource('/v1/fleet/events');
  events.addEventListener('fleet', (e) => show(JSON.parse(e.data)));
  events.addEventListener('open', () => {
    $('live').textContent = 'live';
    $('live').className = 'badge ok';
  });
  events.addEventListener('error', () => {
    $('live').textContent = 'reconnecting';
    $('live').className = 'badge down';
  });
}

async function start() {
  const { status, body } = await getJson('/v1/fleet');
  if (status === 200) show(body);
  else {
    $('error').hidden = false;
    $('error').textContent = `the sink answered ${status}: ${body.error ?? ''}`;
  }
  follow();
  // "12 s ago" grows between events.
  setInterval(render, 5000);
}

start();
