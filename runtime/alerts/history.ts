// The alert history: every alert raised, with when it cleared, the newest `max` of them, kept in
// `alerts-history.json` in the data dir so that the page still shows them after a restart. An
// alert still active when the daemon stopped is closed at the stop (clearedBy `restart`): the
// engine starts afresh and raises it again if its condition holds, as a new entry.
//
// Written atomically a moment after each change (changes in a burst are one write) and on stop.
// The file is read as hostile: a malformed entry is dropped, and the count is bounded.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomicAsync } from '../../kernel/atomic-file.ts';
import type { AlertHistoryEntry, AlertHistoryService } from '../../kernel/component.ts';
import type { AlertEvent } from './engine.ts';

export const ALERT_HISTORY_FILE = 'alerts-history.json';
const SAVE_DELAY_MS = 500;
const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** longest detail kept (a driver's error text); what the file holds is checked against it on load */
const MAX_DETAIL_CHARS = 1024;

export interface AlertHistoryOptions {
  dataDir: string;
  /** entries kept, the newest */
  max: number;
  log: Logger;
  now?: () => number;
}

export class AlertHistory implements AlertHistoryService {
  /** oldest first */
  private entries: AlertHistoryEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();
  private readonly file: string;
  private readonly opts: AlertHistoryOptions;

  constructor(opts: AlertHistoryOptions) {
    this.opts = opts;
    this.file = join(opts.dataDir, ALERT_HISTORY_FILE);
  }

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ file: this.file, err: (err as Error).message }, 'alert history unreadable; starting a new one');
      return;
    }
    try {
      if (text.length > MAX_FILE_BYTES) throw new Error('too large');
      const doc = JSON.parse(text) as { v?: unknown; savedAt?: unknown; entries?: unknown };
      if (doc.v !== 1 || !Array.isArray(doc.entries) || typeof doc.savedAt !== 'number') throw new Error('not an alert history');
      const savedAt = doc.savedAt;
      const kept = doc.entries.filter(isEntry);
      // Active at the last save: closed when the daemon stopped (at the latest, that save).
      this.entries = kept.slice(-this.opts.max).map((e) => (e.clearedAt === null ? { ...e, clearedAt: Math.max(e.raisedAt, savedAt), clearedBy: 'restart' as const } : e));
      if (kept.length < doc.entries.length) this.opts.log.warn({ file: this.file, dropped: doc.entries.length - kept.length }, 'alert history: malformed entries dropped');
    } catch (err) {
      this.opts.log.warn({ file: this.file, problem: (err as Error).message }, 'alert history refused; starting a new one');
    }
  }

  /** Take in a raise or a clear. */
  record(e: AlertEvent): void {
    const a = e.alert;
    if (e.type === 'raised') {
      this.entries.push({ id: a.id, sensor: a.sensor, metric: a.metric, kind: a.kind, severity: a.severity, raisedAt: a.since, clearedAt: null, count: a.count, ...(a.detail ? { detail: a.detail.slice(0, MAX_DETAIL_CHARS) } : {}) });
      if (this.entries.length > this.opts.max) this.entries.splice(0, this.entries.length - this.opts.max);
    } else {
      const open = this.findActive(a.id);
      if (open) {
        open.clearedAt = a.clearedAt ?? (this.opts.now ?? Date.now)();
        open.clearedBy = 'condition';
        open.count = a.count;
      }
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.save();
    }, SAVE_DELAY_MS);
  }

  list(): AlertHistoryEntry[] {
    return this.entries.map((e) => ({ ...e })).reverse();
  }

  /** Write what is held now (and wait for it); called on stop. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.save();
  }

  private findActive(id: string): AlertHistoryEntry | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.id === id && e.clearedAt === null) return e;
    }
    return undefined;
  }

  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      try {
        await writeFileAtomicAsync(this.file, JSON.stringify({ v: 1, savedAt: (this.opts.now ?? Date.now)(), entries: this.entries }) + '\n');
      } catch (err) {
        this.opts.log.error({ file: this.file, err: (err as Error).message }, 'alert history not saved');
      }
    });
    return this.saving;
  }
}

const str = (v: unknown, max = 256) => typeof v === 'string' && v.length <= max;
const time = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function isEntry(e: unknown): e is AlertHistoryEntry {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as Record<string, unknown>;
  return str(x.id, 400) && str(x.sensor) && str(x.metric) && str(x.kind) && str(x.severity, 16) && time(x.raisedAt) && (x.clearedAt === null || time(x.clearedAt)) &&
    (x.clearedBy === undefined || x.clearedBy === 'condition' || x.clearedBy === 'restart') && time(x.count) && (x.detail === undefined || str(x.detail, MAX_DETAIL_CHARS));
}
