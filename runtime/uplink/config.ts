// The device config's `uplink:` section. Only `url` is needed (docs/spec/configs.md);
// the rest tunes the link for slow, metered or TLS-terminated paths.
import { z } from 'zod';
import { isHex } from '../../protocol/hash.ts';
import { isLoopback } from '../../kernel/net.ts';

export const uplinkSchema = z.strictObject({
  /** the sink's base URL, e.g. http://127.0.0.1:8787 */
  url: z.url(),
  /** columnar: the compact encoding (about 3-8 bytes a reading); json: the plain body (docs/spec/wire.md) */
  encoding: z.enum(['columnar', 'json']).default('columnar'),
  /** batches sent at once, oldest first */
  inFlight: z.number().int().min(1).max(32).default(6),
  /** one request's time limit */
  timeoutMs: z.number().int().positive().default(30_000),
  /** first retry delay after a failure; doubles per failure up to backoffMaxMs, with full jitter */
  backoffInitialMs: z.number().int().positive().default(500),
  backoffMaxMs: z.number().int().positive().default(60_000),
  /** a cap on bytes sent per second, for metered links */
  maxBytesPerSecond: z.number().int().positive().optional(),
  /** a PEM file of the CA that signed the sink's certificate, for a private PKI */
  ca: z.string().min(1).optional(),
  gzipLevel: z.number().int().min(1).max(9).default(6),
  /** the sink's receipt key (`fieldproof sink-key show`); absent: the first key seen is pinned */
  // read in either case, held as the lowercase hex receipts carry
  sinkKey: z.string().toLowerCase().refine((k) => isHex(k, 32), 'must be the sink\'s 64-digit hex Ed25519 public key').optional(),
  /** allow http:// beyond loopback (a link already private, e.g. a VPN); warned about at every start */
  insecure: z.boolean().default(false),
}).superRefine((c, ctx) => {
  let url: URL;
  try {
    url = new URL(c.url);
  } catch {
    return; // the url check above says so
  }
  if (url.protocol === 'https:' || c.insecure) return;
  if (url.protocol !== 'http:') ctx.addIssue({ code: 'custom', path: ['url'], message: `must be https:// (or http:// on loopback), not ${url.protocol}` });
  else if (!isLoopback(url.hostname.replace(/^\[|\]$/g, ''))) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: `${url.host} is beyond this machine: use https://, or insecure: true where the link is private by other means` });
  }
});

export type UplinkConfig = z.output<typeof uplinkSchema>;
export type UplinkConfigInput = z.input<typeof uplinkSchema>;
