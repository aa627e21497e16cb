// What the sink's pages share: building elements (text only ever goes in as textContent, so that
// nothing a device or a proof carries can become markup), times, and reading the sink's JSON.

export const $ = (id) => document.getElementById(id);

/** An element with attributes (`text` sets its text, `class` its class) and children. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** "12 s ago", "3 min ago", "5 h ago", "2 d ago"; "never" for null. */
export function ago(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function isoTime(ms) {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function number(n, digits = 2) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en', { maximumFractionDigits: digits });
}

/** GET a JSON API of this sink: {status, body}; a body that is not JSON comes back as {error}. */
export async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: { error: text.slice(0, 200) } };
  }
}

/** The device named in the page's path (/devices/NAME). */
export function deviceFromPath() {
  return decodeURIComponent(location.pathname.split('/')[2] ?? '');
}
