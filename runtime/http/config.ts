// The `http:` section of the device config: where the local status page, /metrics and /healthz
// listen, and the token that guards them. The page shows live plant data and /metrics reveals the
// device's inner state, so anything reachable from beyond the device itself must ask for a token.
import { isIP } from 'node:net';
import { z } from 'zod';
import { isLoopback } from '../../kernel/net.ts';
import { DEFAULT_HISTORY, historySchema } from '../history/config.ts';

export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8080';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`; port 0 asks the system for a free one (the demo and tests do). */
export function parseListen(value: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  if (m[2] !== undefined && isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host)) return null;
  return { host, port };
}

export const httpSchema = z
  .strictObject({
    /** host:port; a non-loopback host (0.0.0.0 for every interface) needs a token */
    listen: z.string().refine((v) => parseListen(v) !== null, 'must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080').default(DEFAULT_HTTP_LISTEN),
    /** asked for on every request except /healthz: `Authorization: Bearer TOKEN`, or `/?token=TOKEN` once in a browser */
    token: z.string().min(16, 'must be at least 16 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
    /** how often the live feed sends a sensor's newest reading to the page, at most */
    liveIntervalMs: z.number().int().min(50).max(60_000).default(500),
    /** sensors shown with last value and chart history; more are counted, not listed */
    maxSensors: z.number().int().positive().max(100_000).default(1000),
    /** no longer used (the charts come from `history`); accepted so that older configs still load */
    historyPoints: z.number().int().min(10).max(3600).default(300),
    /** the charts' history: `hours` back (24) in buckets of `bucketSeconds` (60) for at most `maxSeries` series (250) */
    history: historySchema.default(DEFAULT_HISTORY),
  })
  .superRefine((v, ctx) => {
    const addr = parseListen(v.listen);
    if (addr && !isLoopback(addr.host) && v.token === undefined) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: `required when listen is not a loopback address (listen is ${v.listen})` });
    }
  });

export type HttpConfig = z.output<typeof httpSchema>;
