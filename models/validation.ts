// The validation part of the daemon: every reading is checked by the rules and scored by the
// anomaly detector before it is journaled. It registers a synchronous Assessor: rule checks and
// the detector (with the forecaster's weights in plain JS) take microseconds per reading;
// training runs in a worker thread (ModelTrainer) and models are saved under
// <dataDir>/models/<sensor>/<metric>/. A flagged reading is kept, with its flags and a lower score.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ReadingInput } from '../protocol/records.ts';
import type { Assessor, Component, StatusBoard } from '../kernel/component.ts';
import { counter, gauge } from '../kernel/metrics.ts';
import type { ValidationConfig } from './config.ts';
import { deviceDetectorParamsAt } from './detector/detector.ts';
import { ModelTrainer } from './model/trainer.ts';
import type { ForecasterWeights } from './model/weights.ts';
import { rulesFor, StreamRuleChecker } from './rules/rules.ts';
import { StreamValidator } from './stream-validator.ts';
import { StreamScorer, type ModelPolicy } from './stream-scorer.ts';

interface Stream {
  sensor: string;
  metric: string;
  validator: StreamValidator;
  dir: string | null;
  /** monotonic ms since which the stream has been silent, or null */
  silentSince: number | null;
}

/** how often streams are looked at for silence */
const SILENCE_CHECK_MS = 1000;

export interface ValidationDeps {
  config: ValidationConfig;
  dataDir: string;
  log: Logger;
  metrics: Registry;
  addAssessor(a: Assessor): void;
  /** where the silent streams are published (`silentStreams`), for the alerts and the dashboard */
  board?: StatusBoard;
  /** for tests: a trainer shared or prepared elsewhere */
  trainer?: ModelTrainer;
}

export class ValidationComponent implements Component, Assessor {
  readonly name = 'validation';
  private readonly streams = new Map<string, Stream>();
  private trainer: ModelTrainer | null = null;
  private modelled = 0;
  private readonly withModel = new Set<string>();
  private running = false;
  private silenceTimer: NodeJS.Timeout | null = null;
  private m!: ReturnType<ValidationComponent['makeMetrics']>;

  private readonly deps: ValidationDeps;

  constructor(deps: ValidationDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    this.m = this.makeMetrics(this.deps.metrics);
    if (this.deps.config.model.enabled && this.deps.config.model.maxStreams > 0) {
      this.trainer = this.deps.trainer ?? new ModelTrainer();
      await this.trainer.start();
    }
    this.running = true;
    this.deps.addAssessor(this);
    this.silenceTimer = setInterval(() => this.checkSilence(performance.now()), SILENCE_CHECK_MS);
    this.silenceTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.silenceTimer = null;
    if (this.trainer && !this.deps.trainer) await this.trainer.stop();
    this.trainer = null;
  }

  private makeMetrics(r: Registry) {
    return {
      flags: counter(r, 'fieldproof_validation_flags_total', 'Readings flagged by validation, by flag', ['flag']),
      trainings: counter(r, 'fieldproof_validation_model_trainings_total', 'Forecaster trainings and loads, by result', ['result']),
      streams: gauge(r, 'fieldproof_validation_streams', 'Streams (sensor and metric) seen by validation'),
      silent: gauge(r, 'fieldproof_validation_silent_streams', 'Streams silent for longer than their own arrivals make believable'),
      modelled: gauge(r, 'fieldproof_validation_modelled_streams', 'Streams with a learned forecaster'),
    };
  }

  assess(input: ReadingInput): { flags: string[]; factor: number } {
    const key = `${input.sensor}\u0000${input.metric}`;
    let s = this.streams.get(key);
    if (!s) s = this.addStream(key, input.sensor, input.metric);
    const out = s.validator.check(input, Date.now(), performance.now());
    for (const f of out.flags) this.m.flags.inc({ flag: f });
    if (s.silentSince !== null) {
      s.silentSince = null;
      this.publishSilent();
    }
    return out;
  }

  /**
   * Streams that have gone quiet for longer than their own habits make believable (a LoRa node that
   * loses an uplink now and then, a meter that never misses a poll): counted as a `stream_silent`
   * flag, logged, and published on the status board until the stream speaks again.
   */
  checkSilence(monoNow: number): void {
    let changed = false;
    for (const s of this.streams.values()) {
      if (s.silentSince !== null || !s.validator.silent(monoNow)) continue;
      s.silentSince = monoNow;
      changed = true;
      this.m.flags.inc({ flag: 'stream_silent' });
      this.deps.log.warn({ sensor: s.sensor, metric: s.metric }, 'stream silent');
    }
    if (changed) this.publishSilent();
  }

  /** the streams silent now */
  silentStreams(): { sensor: string; metric: string }[] {
    return [...this.streams.values()].filter((s) => s.silentSince !== null).map((s) => ({ sensor: s.sensor, metric: s.metric }));
  }

  private publishSilent(): void {
    const silent = this.silentStreams();
    this.m.silent.set(silent.length);
    this.deps.board?.set('silentStreams', silent);
  }

  private addStream(key: string, sensor: string, metric: string): Stream {
    const cfg = this.deps.config;
    const rules = new StreamRuleChecker(rulesFor(cfg, sensor, metric), cfg.clock);
    const useModel = this.trainer !== null && this.modelled < cfg.model.maxStreams;
    const dir = useModel ? join(this.deps.dataDir, 'models', sensor, metric) : null;
    const policy: ModelPolicy = { enabled: useModel, minTrainReadings: cfg.model.minTrainReadings, retrainReadings: cfg.model.retrainReadings, retrainIntervalMs: cfg.model.retrainIntervalMs, historySize: cfg.model.historySize };
    const scorer = new StreamScorer(deviceDetectorParamsAt(cfg.model.threshold), policy, useModel ? (h, current, stepMs) => this.train(sensor, metric, h, current, stepMs, dir!) : null);
    const s: Stream = { sensor, metric, validator: new StreamValidator(rules, scorer, cfg.model.threshold), dir, silentSince: null };
    this.streams.set(key, s);
    this.m.streams.set(this.streams.size);
    if (useModel) {
      this.modelled++;
      this.loadSaved(sensor, metric, scorer, dir!);
    }
    return s;
  }

  /** A model saved by an earlier run is loaded in the worker and swapped in when ready. */
  private loadSaved(sensor: string, metric: string, scorer: StreamScorer, dir: string): void {
    this.trainer!.load(dir).then(
      (w) => {
        if (!w || !this.running) return;
        scorer.adopt(w);
        this.m.trainings.inc({ result: 'loaded' });
        this.withModel.add(`${sensor}\u0000${metric}`);
        this.m.modelled.set(this.withModel.size);
        this.deps.log.info({ sensor, metric, trainedOn: w.trainedOn }, 'anomaly model loaded');
      },
      (err: Error) => {
        if (!this.running || /no saved model/.test(err.message)) return;
        this.m.trainings.inc({ result: 'load_failed' });
        this.deps.log.warn({ sensor, metric, err: err.message }, 'saved anomaly model unusable; it will be retrained');
      },
    );
  }

  private async train(sensor: string, metric: string, history: Float64Array, current: ForecasterWeights | null, stepMs: number, dir: string): Promise<ForecasterWeights | null> {
    const trainer = this.trainer;
    if (!trainer || !this.running) return null;
    if (trainer.trainingsQueued >= this.deps.config.model.maxQueuedTrainings) {
      this.m.trainings.inc({ result: 'skipped_busy' });
      return null;
    }
    try {
      const { weights: w, kept } = await trainer.train(history, dir, current, { stepMs });
      this.m.trainings.inc({ result: w ? 'trained' : kept ? 'kept_current' : 'too_short' });
      if (w) {
        this.deps.log.info({ sensor, metric, readings: history.length, loss: w.loss, ms: trainer.lastJobMs, backend: trainer.backend }, 'anomaly model trained');
        this.withModel.add(`${sensor}\u0000${metric}`);
        this.m.modelled.set(this.withModel.size);
      }
      return this.running ? w : null;
    } catch (err) {
      this.m.trainings.inc({ result: 'failed' });
      if (this.running) this.deps.log.warn({ sensor, metric, err: (err as Error).message }, 'anomaly model training failed');
      throw err;
    }
  }

  /** for tests and the dashboard */
  streamModel(sensor: string, metric: string): ForecasterWeights | null {
    return this.streams.get(`${sensor}\u0000${metric}`)?.validator.scorer?.model ?? null;
  }

  async idle(): Promise<void> {
    for (const s of this.streams.values()) await s.validator.pendingTraining;
  }
}
