// GET /v1/readings (one series, downsampled) and GET /v1/readings/latest (each series' latest
// reading) — docs/spec/wire.md. Every parameter is checked before the store is asked: names as
// records have them, integer milliseconds, at most MAX_BUCKETS steps in an answer, no parameter
// the route does not know; a refusal is a 400 with the sink's one-line JSON, counted by reason.
// Queries run a few at a time: a client asking for ranges it cannot be given quickly waits its turn.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { isValidName } from '../../protocol/records.ts';
import { histogram } from '../../kernel/metrics.ts';
import { HttpError, send } from '../http/replies.ts';
import { requirePageAccess, type PageAccess } from '../http/page-access.ts';
import { WorkSlots } from '../http/work-slots.ts';
import type { ReadingsIndex, SeriesQuery } from './types.ts';

/** the most buckets one answer holds */
export const MAX_BUCKETS = 5000;
/** the most series a latest answer lists */
export const MAX_LATEST = 5000;
/** the latest instant a query may name: what the index can hold (2^53 - 1 ms) */
const MAX_TS = Number.MAX_SAFE_INTEGER;
/** queries run at once; more wait their turn, up to QUERIES_WAITING, and beyond that are refused (429) */
const QUERIES_AT_ONCE = 4;
const QUERIES_WAITING = 64;

const SERIES_PARAMS = ['device', 'sensor', 'metric', 'from', 'to', 'step'];
const NAME_RULE = 'is 1-128 letters, digits, dot, dash, colon or underscore, starting with a letter or digit';

export interface ReadingsApiDeps {
  /** null when the sink keeps no readings index (readings.enabled: false) */
  index: ReadingsIndex | null;
  /** whether the sink knows the device (registered, or holding its batches) */
  knows: (device: string) => Promise<boolean>;
  /** who may read: this machine, or beyond it with pages.token (http/page-access.ts) */
  access: PageAccess;
  metrics: Registry;
}

function bad(message: string, code = 'bad_query'): HttpError {
  return new HttpError(400, message, code);
}

/** The query's parameters, each given once and each one the route knows. */
function params(url: URL, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) throw bad(`unknown parameter ${JSON.stringify(k.slice(0, 40))}; this route takes ${allowed.join(', ')}`);
    if (out.has(k)) throw bad(`${k} is given twice`);
    out.set(k, v);
  }
  return out;
}

function name(p: Map<string, string>, key: string): string {
  const v = p.get(key);
  if (v === undefined) throw bad(`${key} is required`);
  if (!isValidName(v)) throw bad(`${key} ${NAME_RULE}`, key === 'device' ? 'bad_device_name' : 'bad_name');
  return v;
}

function ms(p: Map<string, string>, key: string, what: string): number {
  const v = p.get(key);
  if (v === undefined) throw bad(`${key} is required (${what})`);
  if (!/^\d{1,16}$/.test(v) || Number(v) > MAX_TS) throw bad(`${key} must be ${what}, 0..${MAX_TS}`);
  return Number(v);
}

/** A series query from the URL, or the 400 that says what is wrong with it. */
export function parseSeriesQuery(url: URL): SeriesQuery {
  const p = params(url, SERIES_PARAMS);
  const device = name(p, 'device');
  const sensor = name(p, 'sensor');
  const metric = name(p, 'metric');
  const from = ms(p, 'from', 'integer milliseconds since the epoch');
  const to = ms(p, 'to', 'integer milliseconds since the epoch');
  if (from >= to) throw bad('from must be before to');
  // without a step: the smallest whole second that keeps the answer within 1,000 buckets
  const step = p.has('step') ? ms(p, 'step', 'the bucket width in milliseconds') : Math.max(1000, Math.ceil((to - from) / 1000 / 1000) * 1000);
  if (step < 1) throw bad('step must be at least 1 ms');
  const buckets = Math.ceil((to - from) / step);
  if (buckets > MAX_BUCKETS) {
    throw bad(`from..to at step ${step} ms is ${buckets} buckets, over ${MAX_BUCKETS}: widen step to at least ${Math.ceil((to - from) / MAX_BUCKETS)} ms or narrow the range`, 'too_many_buckets');
  }
  return { device, sensor, metric, from, to, step };
}

export class ReadingsApi {
  private readonly slots = new WorkSlots(QUERIES_AT_ONCE, QUERIES_WAITING, () => new HttpError(429, `${QUERIES_AT_ONCE + QUERIES_WAITING} readings queries are running or waiting; retry after 1 s`, 'readings_busy', { 'retry-after': '1' }));
  private readonly seconds;

  private readonly deps: ReadingsApiDeps;

  constructor(deps: ReadingsApiDeps) {
    this.deps = deps;
    this.seconds = histogram(deps.metrics, 'fieldproof_sink_readings_query_seconds', 'Time to answer a readings query, by query', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], ['query']);
  }

  /** GET /v1/readings and /v1/readings/latest; `latest` says which. */
  async answer(req: IncomingMessage, res: ServerResponse, url: URL, latest: boolean): Promise<void> {
    requirePageAccess(this.deps.access, req);
    const index = this.deps.index;
    if (!index) throw new HttpError(409, 'this sink keeps no readings index (readings.enabled: false)', 'readings_off');
    if (latest) {
      const device = name(params(url, ['device']), 'device');
      await this.known(device);
      const sensors = await this.timed('latest', () => index.latest(device, MAX_LATEST));
      return send(res, 200, { device, sensors });
    }
    const q = parseSeriesQuery(url);
    await this.known(q.device);
    const { unit, points } = await this.timed('series', () => index.series(q));
    send(res, 200, { device: q.device, sensor: q.sensor, metric: q.metric, unit, from: q.from, to: q.to, step: q.step, points });
  }

  private async known(device: string): Promise<void> {
    if (!(await this.deps.knows(device))) throw new HttpError(404, `device ${device} is not registered with this sink and it holds nothing of it`, 'unknown_device');
  }

  private timed<T>(query: string, fn: () => Promise<T>): Promise<T> {
    return this.slots.run(async () => {
      const end = this.seconds.startTimer({ query });
      try {
        return await fn();
      } finally {
        end();
      }
    });
  }
}
