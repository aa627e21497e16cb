// The page's history and alert history on the local HTTP server (GET only):
//
//   /api/history/series       the series held: {"hours","bucketMs","rebuilding","series":[{sensor,metric,unit}]}
//   /api/history?sensor=S&metric=M[&from=MS&to=MS&step=MS]
//       one series downsampled: {"sensor","metric","unit","from","to","step","bucketMs","rebuilding",
//       "points":[{"t","min","avg","max","n"}],"gaps":[{"seq","dropped","from","to","reason"}]}
//       (the shape of the sink's /v1/readings: steps without a reading are absent). `to` defaults
//       to now, `from` to the whole window before it, `step` to the smallest multiple of the bucket
//       that keeps the answer within 1,500 points; at most 5,000 points.
//   /api/alerts/history       {"enabled","alerts":[{id,sensor,metric,kind,severity,raisedAt,clearedAt,clearedBy,count,detail}]}
//
// Bad parameters are a 400 with a one-line JSON error; an unknown parameter is one.
import type { AlertHistoryService } from '../../kernel/component.ts';
import { isValidName } from '../../protocol/records.ts';
import type { HistoryIndex } from '../history/history-index.ts';
import type { ApiReply } from './downlink-api.ts';

export const MAX_POINTS = 5000;
const DEFAULT_POINTS = 1500;
const PARAMS = new Set(['sensor', 'metric', 'from', 'to', 'step']);
/** a timestamp is ms since the epoch between 2000 and 2200 */
const MIN_TS = 946_684_800_000;
const MAX_TS = 7_258_118_400_000;

/** What the API asks of the history part. */
export interface HistorySource {
  readonly index: HistoryIndex;
  readonly rebuilding: boolean;
}

export class HistoryApi {
  private readonly history: HistorySource;
  private readonly alerts: () => AlertHistoryService | undefined;
  private readonly now: () => number;

  constructor(history: HistorySource, alerts: () => AlertHistoryService | undefined, now: () => number = Date.now) {
    this.history = history;
    this.alerts = alerts;
    this.now = now;
  }

  /** The reply for `path`, or null when the path is not this API's. */
  handle(path: string, url: URL): ApiReply | null {
    if (path === '/api/history/series') {
      const { index, rebuilding } = this.history;
      return { code: 200, body: { hours: index.windowMs / 3_600_000, bucketMs: index.bucketMs, rebuilding, series: index.list() } };
    }
    if (path === '/api/history') return this.series(url.searchParams);
    if (path === '/api/alerts/history') {
      const service = this.alerts();
      return { code: 200, body: { enabled: service !== undefined, alerts: service?.list() ?? [] } };
    }
    return null;
  }

  private series(q: URLSearchParams): ApiReply {
    const bad = (error: string): ApiReply => ({ code: 400, body: { error } });
    for (const k of q.keys()) if (!PARAMS.has(k)) return bad(`unknown parameter ${JSON.stringify(k.slice(0, 40))}; known: sensor, metric, from, to, step`);
    const sensor = q.get('sensor');
    const metric = q.get('metric');
    if (!isValidName(sensor)) return bad('sensor: required, 1-128 letters, digits, dot, dash, colon or underscore');
    if (!isValidName(metric)) return bad('metric: required, 1-128 letters, digits, dot, dash, colon or underscore');
    const { index, rebuilding } = this.history;
    const bucketMs = index.bucketMs;
    const to = ms(q.get('to'), 'to') ?? this.now();
    if (typeof to === 'string') return bad(to);
    const from = ms(q.get('from'), 'from') ?? to - index.windowMs;
    if (typeof from === 'string') return bad(from);
    if (from >= to) return bad(`from (${from}) must be before to (${to})`);
    const given = ms(q.get('step'), 'step');
    if (typeof given === 'string') return bad(given);
    const step = given ?? bucketMs * Math.max(1, Math.ceil((to - from) / bucketMs / DEFAULT_POINTS));
    if (step < bucketMs || step % bucketMs !== 0) return bad(`step: must be a multiple of the history's ${bucketMs} ms buckets`);
    if ((to - from) / step > MAX_POINTS) return bad(`from..to at step ${step} is ${Math.ceil((to - from) / step)} points; at most ${MAX_POINTS}`);
    const answer = index.query(sensor, metric, from, to, step);
    if (!answer) return { code: 404, body: { error: `no history for ${sensor}/${metric}` } };
    return { code: 200, body: { ...answer, bucketMs, rebuilding } };
  }
}

/** An integer ms parameter: absent is null, a bad one the error line. */
function ms(v: string | null, name: string): number | null | string {
  if (v === null) return null;
  if (!/^\d{1,16}$/.test(v)) return `${name}: must be milliseconds (an integer)`;
  const n = Number(v);
  if (name !== 'step' && (n < MIN_TS || n > MAX_TS)) return `${name}: ${n} is not a time in milliseconds since the epoch`;
  if (name === 'step' && n < 1) return 'step: must be positive';
  return n;
}
