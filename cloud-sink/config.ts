// The sink config (`fieldproof sink --config sink.yaml`). The minimal sink.yaml of docs/spec/configs.md must
// be accepted as written; everything else here is optional with a default. Beyond loopback the
// sink serves TLS, or plain HTTP only where the operator says a TLS proxy is in front.
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { isHex } from '../protocol/hash.ts';
import { isValidName } from '../protocol/records.ts';
import { loadYamlConfig } from '../kernel/config/load.ts';
import { ConfigError } from '../kernel/config/errors.ts';
import { isLoopback } from '../kernel/net.ts';
import { mrvReportSchema } from './mrv/config.ts';

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8787')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0..65535');

// A key that is not 64 hex digits (the minimal sink.yaml has the placeholder `5f2c...`) is
// accepted so that the sample config loads as written; the sink warns about it at start, and
// batches for that device are refused (no real key can match it).
const deviceSchema = z.strictObject({
  id: z.string().refine(isValidName, 'must be 1-128 letters, digits, dot, dash, colon or underscore'),
  // hex is read in either case; the key is compared with headers' lowercase hex
  key: z.string().min(1).toLowerCase(),
});

export function invalidDeviceKeys(config: SinkConfig): string[] {
  return config.devices.filter((d) => !isHex(d.key, 32)).map((d) => d.id);
}

const aptosSchema = z.strictObject({
  /** the full node REST API, e.g. https://fullnode.testnet.aptoslabs.com/v1 */
  node: z.url(),
  /** the module published at the operator's own account, `<operator address>::anchor`: the sink sends as that account */
  module: z.string().regex(/^0x[0-9a-fA-F]{1,64}::anchor$/, 'must be <address>::anchor, e.g. 0xcafe::anchor'),
  /** a file holding the anchoring account's Ed25519 private key (hex, or AIP-80 ed25519-priv-0x...) */
  privateKeyFile: z.string().min(1).optional(),
  /** how proofs name the chain; derived from the node's chain id when absent */
  chain: z.string().min(1).optional(),
  maxGasAmount: z.number().int().positive().default(20_000),
  /** how long to wait for a submitted transaction before checking again later */
  waitSecs: z.number().int().positive().default(30),
});

const anchorSchema = z
  .strictObject({
    mode: z.enum(['none', 'aptos']).default('none'),
    intervalMs: z.number().int().min(100).default(60_000),
    /** the first retry after a failed submission; doubles up to intervalMs */
    retryMs: z.number().int().positive().default(5_000),
    aptos: aptosSchema.optional(),
  })
  .refine((a) => a.mode !== 'aptos' || a.aptos !== undefined, { message: 'mode aptos needs an aptos: section (node, module, privateKeyFile)', path: ['aptos'] });

const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('level') }),
  z.strictObject({
    kind: z.literal('postgres'),
    /** postgres://user:password@host:5432/db; FIELDPROOF_SINK_PG overrides it */
    url: z.string().min(1).optional(),
    poolSize: z.number().int().positive().max(100).default(8),
    /** a schema other than public, created when missing */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits and underscores').optional(),
  }),
]);

const DAY_MS = 24 * 3600_000;

/** What one request and one client may cost the sink; README.md says why each default is what it is. */
const limitsSchema = z.strictObject({
  /** the largest request body accepted, as sent (compressed or not) */
  maxBodyBytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** the largest body after decompression; a gzip bomb is cut off here */
  maxDecodedBytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** bodies held at once by all requests whose header has been verified (the others hold 64 KiB each at most) */
  maxBufferedBytes: z.number().int().positive().default(64 * 1024 * 1024),
  /** the most records in one batch */
  maxRecords: z.number().int().positive().default(100_000),
  /**
   * nesting of a JSON body, its outer object being level 1 (a batch with quality flags needs 5),
   * and of the same batch in columnar; at most 33, so that a proof of any record taken nests no
   * deeper than the 32 levels a verifier reads (docs/spec/proofs.md)
   */
  maxJsonDepth: z.number().int().min(5).max(33).default(16),
  /** how long a batch that arrived before its predecessor waits for it */
  chainWaitMs: z.number().int().min(0).default(3_000),
  /** the longest window one MRV report may cover */
  maxReportSpanMs: z.number().int().positive().default(31 * DAY_MS),
  /** open connections in all, and from one client address */
  maxConnections: z.number().int().positive().default(1024),
  maxConnectionsPerClient: z.number().int().positive().default(64),
  /** requests being handled at once (all but /healthz), in all and from one client address */
  maxRequests: z.number().int().positive().default(256),
  maxRequestsPerClient: z.number().int().positive().default(16),
  /** time for a client to send a request's headers, and the whole request with its body */
  headersTimeoutMs: z.number().int().min(100).default(10_000),
  requestTimeoutMs: z.number().int().min(100).default(30_000),
  /** how long an idle keep-alive connection stays open, and how many requests it may carry */
  keepAliveTimeoutMs: z.number().int().min(0).default(5_000),
  maxRequestsPerSocket: z.number().int().min(0).default(1000),
  /** refused requests from one address within refusalWindowMs that block it for blockMs; 0 never blocks */
  refusalsBeforeBlock: z.number().int().min(0).default(100),
  refusalWindowMs: z.number().int().positive().default(10_000),
  blockMs: z.number().int().positive().default(30_000),
}).refine((l) => l.headersTimeoutMs <= l.requestTimeoutMs, { message: 'headersTimeoutMs must not be over requestTimeoutMs', path: ['headersTimeoutMs'] });

/** The readings index (cloud-sink/readings/): every accepted reading queryable as a time series. */
const readingsSchema = z.strictObject({
  /** off only to save its cost; the readings of batches accepted meanwhile are filled in at the next start with it on */
  enabled: z.boolean().default(true),
  /** PostgreSQL: monthly partitions kept this many months ahead of the current one */
  monthsAhead: z.number().int().min(1).max(24).default(3),
});

const tlsSchema = z.strictObject({ cert: z.string().min(1), key: z.string().min(1) });

/** The sink's pages (fleet, device, proof) and the read APIs they use; cloud-sink/README.md, "Pages". */
const pagesSchema = z.strictObject({
  /** opens the pages and read APIs beyond loopback (Bearer header, or a cookie from /?token= once); FIELDPROOF_SINK_PAGES_TOKEN overrides it */
  token: z.string().min(16, 'must be at least 16 characters').optional(),
  /** a device with no batch for this long is shown as silent */
  silentAfterMs: z.number().int().positive().default(15 * 60_000),
  /** a device reporting more unsent records than this is shown as behind */
  backlogWarnRecords: z.number().int().positive().default(10_000),
});

/** What the sink flags about a device's clock (accepted all the same, stored, counted). */
const timeSchema = z.strictObject({
  /** a batch created more than this after the sink received it (by the sink's clock) is flagged `future` */
  futureToleranceMs: z.number().int().min(0).default(5 * 60_000),
});

export const sinkConfigSchema = z.strictObject({
  listen: listen.default('127.0.0.1:8787'),
  dataDir: z.string().min(1),
  /** the sink's own Ed25519 key file, which signs receipts; made on first start (default <dataDir>/sink.key) */
  key: z.string().min(1).optional(),
  devices: z.array(deviceSchema).default([]),
  anchor: anchorSchema.default({ mode: 'none', intervalMs: 60_000, retryMs: 5_000 }),
  store: storeSchema.default({ kind: 'level' }),
  limits: limitsSchema.default(limitsSchema.parse({})),
  time: timeSchema.default(timeSchema.parse({})),
  /** the MRV report: project, grid emission factor with its provenance, declared emissions, operators */
  report: mrvReportSchema.default(mrvReportSchema.parse({})),
  readings: readingsSchema.default({ enabled: true, monthsAhead: 3 }),
  /** bearer token for the device registry API; FIELDPROOF_SINK_ADMIN_TOKEN overrides it */
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /** serve HTTPS with this certificate and key (PEM files), reloaded on SIGHUP */
  tls: tlsSchema.optional(),
  pages: pagesSchema.default(pagesSchema.parse({})),
  /** serve plain HTTP beyond loopback: only behind a TLS-terminating proxy; warned about at every start */
  insecure: z.boolean().default(false),
}).superRefine((c, ctx) => {
  const { host } = splitListen(c.listen);
  if (c.tls && c.insecure) ctx.addIssue({ code: 'custom', path: ['insecure'], message: 'give tls or insecure: true, not both' });
  else if (!isLoopback(host) && !c.tls && !c.insecure) {
    ctx.addIssue({
      code: 'custom', path: ['listen'],
      message: `${c.listen} is reachable beyond this machine: give tls: {cert, key}, or insecure: true when a TLS proxy sits in front of the sink`,
    });
  }
});

export type SinkConfigInput = z.input<typeof sinkConfigSchema>;
export type SinkConfig = z.output<typeof sinkConfigSchema>;

/** Relative paths are taken from the config file's folder; duplicate device ids are an error. */
export function resolveSinkConfig(raw: SinkConfig, baseDir: string, file = 'config'): SinkConfig {
  const seen = new Map<string, string>();
  for (const d of raw.devices) {
    if (seen.has(d.id) && seen.get(d.id) !== d.key) throw new ConfigError(`${file}: devices: ${d.id} is listed twice with different keys`);
    seen.set(d.id, d.key);
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const out: SinkConfig = { ...raw, dataDir: abs(raw.dataDir) };
  if (raw.key) out.key = abs(raw.key);
  if (raw.tls) out.tls = { cert: abs(raw.tls.cert), key: abs(raw.tls.key) };
  if (raw.anchor.aptos?.privateKeyFile) out.anchor = { ...raw.anchor, aptos: { ...raw.anchor.aptos, privateKeyFile: abs(raw.anchor.aptos.privateKeyFile) } };
  return out;
}

export function loadSinkConfig(file: string): SinkConfig {
  return resolveSinkConfig(loadYamlConfig(file, sinkConfigSchema), resolve(file, '..'), file);
}

/** Build a full config from partial input, as the tests, the demo and the bench do. */
export function sinkConfig(input: SinkConfigInput): SinkConfig {
  const r = sinkConfigSchema.safeParse(input);
  if (!r.success) throw new ConfigError(`sink config: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
  return r.data;
}

export function splitListen(listenAt: string): { host: string; port: number } {
  const i = listenAt.lastIndexOf(':');
  return { host: listenAt.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listenAt.slice(i + 1)) };
}

/** The file of the sink's receipt key. */
export function sinkKeyFile(config: SinkConfig): string {
  return config.key ?? join(config.dataDir, 'sink.key');
}
