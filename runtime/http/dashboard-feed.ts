// The status page's view of the daemon: a snapshot for a page that just loaded, then a stream of
// small messages. Readings are rate-limited per sensor (the newest one per live interval), so a
// device taking 1000 readings a second sends the page a few updates per sensor, not 1000.
import type { DriverStatus } from '../../kernel/source.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import type { StatusBoard } from '../../kernel/component.ts';
import type { JournalStats } from '../journal/journal.ts';
import { SensorTable, type GapView, type SensorView } from './sensor-table.ts';

export interface DashboardSources {
  device: string;
  /** the device's public key, hex */
  key: string;
  onCommitted(listener: (records: readonly JournalRecord[]) => void): void;
  sourceStatuses(): DriverStatus[];
  journalStats(): JournalStats;
  board: StatusBoard;
}

export interface StatusSnapshot {
  device: string;
  key: string;
  now: number;
  startedAt: number;
  liveIntervalMs: number;
  sources: DriverStatus[];
  journal: JournalStats;
  board: Record<string, unknown>;
  sensors: SensorView[];
  hiddenSensors: number;
  lastGap: GapView | null;
}

export type LiveMessage =
  | { type: 'snapshot'; data: StatusSnapshot }
  | { type: 'readings'; readings: SensorView[]; hiddenSensors: number; lastGap: GapView | null }
  | { type: 'status'; now: number; sources: DriverStatus[]; journal: JournalStats }
  | { type: 'board'; key: string; value: unknown };

export interface DashboardFeedOptions {
  liveIntervalMs: number;
  maxSensors: number;
  /** how often source states and journal figures are sent */
  statusIntervalMs?: number;
}

export class DashboardFeed {
  private readonly table: SensorTable;
  private readonly subscribers = new Set<(msg: LiveMessage) => void>();
  private readingsTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private running = false;
  private startedAt = 0;
  private listening = false;

  private readonly sources: DashboardSources;
  private readonly opts: DashboardFeedOptions;

  constructor(
    sources: DashboardSources,
    opts: DashboardFeedOptions,
  ) {
    this.sources = sources;
    this.opts = opts;
    this.table = new SensorTable({ maxSensors: opts.maxSensors });
  }

  async start(): Promise<void> {
    this.running = true;
    this.startedAt = Date.now();
    // The daemon's listener lists cannot be left, so the listeners are added once and go quiet on stop().
    if (!this.listening) {
      this.listening = true;
      this.sources.onCommitted((records) => {
        if (this.running) this.table.note(records);
      });
      this.sources.board.onChange((key, value) => {
        if (this.running) this.publish({ type: 'board', key, value });
      });
    }
    this.readingsTimer = setInterval(() => this.flushReadings(), this.opts.liveIntervalMs);
    this.statusTimer = setInterval(() => this.publishStatus(), this.opts.statusIntervalMs ?? 1000);
    this.readingsTimer.unref();
    this.statusTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.readingsTimer) clearInterval(this.readingsTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.readingsTimer = this.statusTimer = null;
    this.subscribers.clear();
  }

  snapshot(): StatusSnapshot {
    return {
      device: this.sources.device,
      key: this.sources.key,
      now: Date.now(),
      startedAt: this.startedAt,
      liveIntervalMs: this.opts.liveIntervalMs,
      sources: this.sources.sourceStatuses(),
      journal: this.sources.journalStats(),
      board: this.sources.board.snapshot(),
      sensors: this.table.list(),
      hiddenSensors: this.table.hidden,
      lastGap: this.table.lastGap,
    };
  }

  /** Receive every live message from now on; returns the unsubscribe function. */
  subscribe(listener: (msg: LiveMessage) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private flushReadings(): void {
    const readings = this.table.takeChanged();
    if (readings.length === 0 || this.subscribers.size === 0) return;
    this.publish({ type: 'readings', readings, hiddenSensors: this.table.hidden, lastGap: this.table.lastGap });
  }

  private publishStatus(): void {
    if (this.subscribers.size === 0) return;
    this.publish({ type: 'status', now: Date.now(), sources: this.sources.sourceStatuses(), journal: this.sources.journalStats() });
  }

  private publish(msg: LiveMessage): void {
    for (const s of this.subscribers) s(msg);
  }
}
