// The sink's MRV part: keeps the register index up to date in the background (so that a report
// finds it ready), builds reports in JSON, CSV or HTML, and takes operators' signed notes on meter
// events. The HTTP API calls in here and knows nothing of how a report is made.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, histogram } from '../../kernel/metrics.ts';
import type { SinkStore } from '../store/types.ts';
import type { MrvReportConfig } from './config.ts';
import { reportCsv } from './formats/csv.ts';
import { reportHtml } from './formats/html.ts';
import { RegisterIndex } from './index/register-index.ts';
import { noteProblem, noteStanding, type OperatorNote } from './notes.ts';
import { buildMrvReport } from './report.ts';
import type { MrvStore } from './store/types.ts';

export interface MrvServiceDeps {
  store: SinkStore;
  config: MrvReportConfig;
  log: Logger;
  metrics: Registry;
}

export interface MrvReply {
  status: number;
  body: unknown;
  /** application/json unless said otherwise */
  type?: 'text/csv' | 'text/html';
}

export type ReportFormat = 'json' | 'csv' | 'html';

/** the longest period one report may cover: beyond it a request could hold the sink for long */
const MAX_PERIOD_MS = 366 * 86_400_000 * 2;

export class MrvService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private index: RegisterIndex | null = null;
  private mrv: MrvStore | null = null;
  private readonly m;

  private readonly deps: MrvServiceDeps;

  constructor(deps: MrvServiceDeps) {
    this.deps = deps;
    this.m = {
      reports: counter(deps.metrics, 'fieldproof_sink_mrv_reports_total', 'MRV reports built, by format', ['format']),
      reportSeconds: histogram(deps.metrics, 'fieldproof_sink_mrv_report_seconds', 'Time to build one MRV report', [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]),
      indexed: counter(deps.metrics, 'fieldproof_sink_mrv_indexed_batches_total', 'Batches taken into the MRV register index'),
      indexErrors: counter(deps.metrics, 'fieldproof_sink_mrv_index_errors_total', 'MRV index catch-ups that failed'),
      notes: counter(deps.metrics, 'fieldproof_sink_mrv_notes_total', 'Operator notes offered, by outcome', ['outcome']),
    };
  }

  async start(): Promise<void> {
    this.mrv = this.deps.store.mrvStore();
    this.index = new RegisterIndex({ store: this.deps.store, mrv: this.mrv, log: this.deps.log.child({ part: 'mrv-index' }) });
    const every = this.deps.config.indexIntervalMs;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.running ??= this.indexAll().finally(() => (this.running = null));
      }, every);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private parts(): { index: RegisterIndex; mrv: MrvStore } {
    if (!this.index || !this.mrv) throw new Error('the MRV service is not started');
    return { index: this.index, mrv: this.mrv };
  }

  /** Bring every device's index up to date (the background loop; tests call it to wait). */
  async indexAll(): Promise<void> {
    const { index } = this.parts();
    for (const device of await this.deps.store.devices()) {
      try {
        const out = await index.catchUp(device);
        this.m.indexed.inc(out.batches);
      } catch (err) {
        this.m.indexErrors.inc();
        this.deps.log.error({ device, err: (err as Error).message }, 'MRV index catch-up failed');
      }
    }
  }

  async report(device: string, from: number, to: number, format: ReportFormat): Promise<MrvReply> {
    if (to - from > MAX_PERIOD_MS) return { status: 400, body: { error: 'a report covers at most two years; ask for consecutive periods', code: 'bad_query' } };
    const { index, mrv } = this.parts();
    const started = performance.now();
    const report = await buildMrvReport({ store: this.deps.store, mrv, index, config: this.deps.config }, device, from, to);
    this.m.reportSeconds.observe((performance.now() - started) / 1000);
    this.m.reports.inc({ format });
    if (format === 'csv') return { status: 200, body: reportCsv(report), type: 'text/csv' };
    if (format === 'html') return { status: 200, body: reportHtml(report), type: 'text/html' };
    return { status: 200, body: report };
  }

  /** Keep a note offered for `device`: checked, stored whatever its standing, answered with it. */
  async addNote(device: string, raw: unknown): Promise<MrvReply> {
    const problem = noteProblem(raw);
    if (problem) {
      this.m.notes.inc({ outcome: 'refused' });
      return { status: 400, body: { error: `not a note: ${problem}`, code: 'bad_note' } };
    }
    const note = raw as OperatorNote;
    if (note.device !== device) return { status: 400, body: { error: `the note is for device ${note.device}, not ${device}`, code: 'bad_note' } };
    const standing = noteStanding(note, this.deps.config.operators);
    if (standing === 'signature does not verify') {
      this.m.notes.inc({ outcome: 'refused' });
      return { status: 422, body: { error: 'the note\'s signature does not verify', code: 'bad_signature' } };
    }
    const added = await this.parts().mrv.addNote(note);
    this.m.notes.inc({ outcome: added ? 'stored' : 'duplicate' });
    this.deps.log.info({ device, sensor: note.sensor, eventTs: note.eventTs, operator: note.operator, counts: standing === null }, 'operator note kept');
    return { status: added ? 201 : 200, body: { status: added ? 'stored' : 'duplicate', counts: standing === null, standing, note } };
  }

  async notes(device: string): Promise<MrvReply> {
    const operators = this.deps.config.operators;
    const notes = await this.parts().mrv.notes(device);
    return { status: 200, body: { device, notes: notes.map((n) => ({ ...n, counts: noteStanding(n, operators) === null, standing: noteStanding(n, operators) })) } };
  }
}
