// What the daemon hands to each optional part of the device (gateway, validation, alerts, uplink,
// local HTTP), and what it expects back. Parts get their dependencies here, do nothing in their
// constructors, and do their work between start() and stop().
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../drivers/types.ts';
import type { Quality, ReadingInput, JournalRecord } from '../protocol/records.ts';
import type { DeviceKey } from '../protocol/signature.ts';
import type { DeviceConfig } from './config/device-config.ts';
import type { Journal } from './journal/journal.ts';

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

export interface DaemonContext {
  config: DeviceConfig;
  log: Logger;
  metrics: Registry;
  journal: Journal;
  key: DeviceKey;
  /** Where sources hand readings (drivers get it through their DriverContext). */
  emit(reading: ReadingInput): void;
  /** Called after records are durable, in seq order: alerts, live telemetry, the dashboard. */
  onCommitted(listener: (records: readonly JournalRecord[]) => void): void;
  /** Add an assessor to the validation chain (models/ does). */
  addAssessor(assessor: Assessor): void;
  /** Latest status of every source, for the dashboard and MQTT status. */
  sourceStatuses(): DriverStatus[];
  statusChanged(status: DriverStatus): void;
  /** A shared board of facts parts publish for others (last sync, alerts, anchors): see status-board.ts. */
  board: StatusBoard;
  /** Services parts offer each other, set by the part that provides them (the gateway: downlinks). */
  services: DaemonServices;
}

export interface DaemonServices {
  downlinks?: DownlinkService;
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

export interface StatusBoard {
  set(key: string, value: unknown): void;
  get(key: string): unknown;
  snapshot(): Record<string, unknown>;
  onChange(listener: (key: string, value: unknown) => void): void;
}

export type ComponentFactory = (ctx: DaemonContext) => Component | null;

export function combineQuality(base: Quality | undefined, extra: { flags: string[]; factor: number }[]): Quality {
  let score = base?.score ?? 1;
  const flags = base ? base.flags.slice() : [];
  for (const e of extra) {
    score *= e.factor;
    for (const f of e.flags) if (!flags.includes(f)) flags.push(f);
  }
  return { score: Math.round(Math.max(0, Math.min(1, score)) * 1000) / 1000, flags };
}
