// The parts of the device and what they share: every optional part (gateway, validation, alerts,
// uplink, local HTTP) is a Component with start()/stop(), gets its dependencies passed in, and does
// nothing in its constructor. Assessors score readings before they are journaled; the status board
// carries facts that parts publish for each other.
import type { Quality, ReadingInput } from '../protocol/records.ts';

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Scores a reading before it is journaled: rules, the anomaly model. Synchronous and fast. */
export interface Assessor {
  /** Returns the flags to add and a multiplier (0..1) for the reading's quality score. */
  assess(input: ReadingInput): { flags: string[]; factor: number };
}

export interface StatusBoard {
  set(key: string, value: unknown): void;
  get(key: string): unknown;
  snapshot(): Record<string, unknown>;
  onChange(listener: (key: string, value: unknown) => void): void;
}

export function combineQuality(base: Quality | undefined, extra: { flags: string[]; factor: number }[]): Quality {
  let score = base?.score ?? 1;
  const flags = base ? base.flags.slice() : [];
  for (const e of extra) {
    score *= e.factor;
    for (const f of e.flags) if (!flags.includes(f)) flags.push(f);
  }
  return { score: Math.round(Math.max(0, Math.min(1, score)) * 1000) / 1000, flags };
}

/** Services parts offer each other, set by the part that provides them (the gateway: downlinks). */
export interface DaemonServices {
  downlinks?: DownlinkService;
  /** the alerts raised and when each cleared, kept across restarts; offered by the alerts part */
  alertHistory?: AlertHistoryService;
}

/** One alert as it happened: raised, and cleared (by its condition going away, or by the daemon stopping). */
export interface AlertHistoryEntry {
  /** `<sensor>/<metric>/<kind>`, the alert's id; the same id raised again is a new entry */
  id: string;
  sensor: string;
  metric: string;
  /** the rule: the quality flag or condition that raised it */
  kind: string;
  severity: string;
  raisedAt: number;
  /** null while active */
  clearedAt: number | null;
  /** `condition`: it went away; `restart`: the daemon stopped while it was active */
  clearedBy?: 'condition' | 'restart';
  count: number;
  detail?: string;
}

export interface AlertHistoryService {
  /** newest first */
  list(): AlertHistoryEntry[];
}

/** A downlink to a LoRaWAN device as asked for: `data` goes through the device codec's encoder, `bytes` (hex) as they are. */
export interface DownlinkAsk {
  device: string;
  data?: unknown;
  bytes?: string;
  fPort?: number;
  confirmed?: boolean;
}

export interface DownlinkView {
  id: string;
  device: string;
  fPort: number;
  /** hex */
  bytes: string;
  confirmed: boolean;
  state: 'queued' | 'sent' | 'acknowledged' | 'not_acknowledged' | 'failed';
  queuedAt: number;
  attempts: number;
  data?: unknown;
  warnings?: string[];
}

/** Queues downlinks for the devices' next receive windows; offered by the gateway, used by the local HTTP API. */
export interface DownlinkService {
  enqueue(ask: DownlinkAsk): Promise<{ ok: true; downlink: DownlinkView } | { ok: false; status: number; error: string }>;
  /** queued and recent downlinks, of one device or all */
  list(device?: string): DownlinkView[];
}
