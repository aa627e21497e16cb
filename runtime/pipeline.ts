// From a source's reading to the journal: sanity checks, the assessors (rules, the anomaly model),
// then the journal's group commit. Nothing here waits: sources emit and move on.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { isValidName, MAX_STATE_CHARS, type ReadingInput } from '../protocol/records.ts';
import { combineQuality, type Assessor } from '../kernel/component.ts';
import type { Journal } from './journal/journal.ts';
import { counter } from '../kernel/metrics.ts';

export interface PipelineOptions {
  /** readings waiting for a commit beyond which new ones are dropped (and counted in a gap record) */
  maxQueued?: number;
}

export class Pipeline {
  private readonly assessors: Assessor[] = [];
  private readonly m;
  private readonly maxQueued: number;
  private lastInvalidLog = 0;

  private readonly journal: Journal;
  private readonly log: Logger;

  constructor(
    journal: Journal,
    log: Logger,
    metrics: Registry,
    opts: PipelineOptions = {},
  ) {
    this.journal = journal;
    this.log = log;
    this.maxQueued = opts.maxQueued ?? 200_000;
    this.m = {
      received: counter(metrics, 'fieldproof_pipeline_readings_total', 'Readings handed to the pipeline by sources'),
      invalid: counter(metrics, 'fieldproof_pipeline_invalid_readings_total', 'Readings with a bad field, repaired and flagged or refused', ['problem']),
      overload: counter(metrics, 'fieldproof_pipeline_overload_dropped_total', 'Readings dropped because the journal fell behind'),
      assessorErrors: counter(metrics, 'fieldproof_pipeline_assessor_errors_total', 'Assessor calls that threw'),
    };
  }

  addAssessor(a: Assessor): void {
    this.assessors.push(a);
  }

  emit(input: ReadingInput): void {
    this.m.received.inc();
    const reading = this.sanitize(input);
    if (!reading) return;
    if (this.journal.queued >= this.maxQueued) {
      this.m.overload.inc();
      this.journal.noteDropped([reading.ts], 'overload');
      return;
    }
    if (this.assessors.length === 0) {
      this.journal.write(reading); // the journal gives a reading without quality a clean one
      return;
    }
    const verdicts = [];
    for (const a of this.assessors) {
      try {
        verdicts.push(a.assess(reading));
      } catch (err) {
        this.m.assessorErrors.inc();
        this.invalid('assessor_error', `assessor failed: ${(err as Error).message}`, reading.sensor);
      }
    }
    // A new object: the source may reuse or keep its reading, and quality is ours to set.
    this.journal.write({ ...reading, quality: combineQuality(reading.quality, verdicts) });
  }

  /**
   * A reading with a bad field is a driver bug or a garbled device answer. Names that cannot be
   * keys are refused; a bad value or timestamp is repaired and flagged, so the record still tells
   * that the sensor said something.
   */
  private sanitize(input: ReadingInput): ReadingInput | null {
    if (!isValidName(input.sensor) || !isValidName(input.metric) || typeof input.unit !== 'string') {
      this.invalid('bad_name', 'reading refused: sensor, metric or unit is not a valid name', String(input.sensor));
      return null;
    }
    let r = input;
    if (!Number.isSafeInteger(r.ts) || r.ts < 0) {
      this.invalid('bad_ts', `reading ts ${String(r.ts)} is not integer milliseconds; using the device clock`, r.sensor);
      r = { ...r, ts: Date.now(), quality: flagged(r, 'invalid_ts') };
    }
    if (r.value !== null && (typeof r.value !== 'number' || !Number.isFinite(r.value))) {
      this.invalid('bad_value', `reading value ${String(r.value)} is not a finite number; recorded as null`, r.sensor);
      r = { ...r, value: null, quality: flagged(r, 'invalid_value') };
    }
    if (r.state !== undefined && (typeof r.state !== 'string' || r.state.length > MAX_STATE_CHARS)) {
      this.invalid('bad_state', `reading state is not text of at most ${MAX_STATE_CHARS} characters; cut`, r.sensor);
      r = { ...r, state: String(r.state).slice(0, MAX_STATE_CHARS), quality: flagged(r, 'invalid_state') };
    }
    if (r.quality && (!Number.isFinite(r.quality.score) || !Array.isArray(r.quality.flags))) {
      this.invalid('bad_quality', 'reading quality is malformed; reset', r.sensor);
      r = { ...r, quality: { score: 0, flags: ['invalid_quality'] } };
    }
    return r;
  }

  private invalid(problem: string, message: string, sensor: string): void {
    this.m.invalid.inc({ problem });
    const now = Date.now();
    if (now - this.lastInvalidLog > 1000) {
      this.lastInvalidLog = now;
      this.log.warn({ sensor, problem }, message);
    }
  }
}

function flagged(r: ReadingInput, flag: string) {
  const q = r.quality ?? { score: 1, flags: [] };
  return { score: 0, flags: q.flags.includes(flag) ? q.flags : [...q.flags, flag] };
}
