// Runs forecaster training, saving and loading in a worker thread, so that the seconds a retrain
// takes never stall the pipeline. Jobs run one at a time in the worker; each resolves with plain
// weights the detector's forecaster can use at once. The worker, and TensorFlow.js in it, start
// with the first job and end after a while with none: a stream needs hours of readings before its
// first training and retrains seldom, and TensorFlow.js should not hold the device's memory
// in between.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TrainJob, TrainReply } from './train-worker.ts';
import type { TrainOptions } from './train.ts';
import type { ForecasterWeights } from './weights.ts';

type Pending = { resolve: (r: { weights: ForecasterWeights | null; kept: boolean }) => void; reject: (e: Error) => void };

export interface ModelTrainerOptions {
  /** the worker ends after this long without a job (default one minute) */
  idleMs?: number;
}

export class ModelTrainer {
  private worker: Worker | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly trainingIds = new Set<number>();
  /** the backend the worker reported (wasm or cpu), once it has run a job */
  backend: string | null = null;
  lastJobMs = 0;

  private started = false;
  private readonly idleMs: number;

  constructor(opts: ModelTrainerOptions = {}) {
    this.idleMs = opts.idleMs ?? 60_000;
  }

  /** whether a worker is running now (it starts with a job and ends when idle) */
  get running(): boolean {
    return this.worker !== null;
  }

  async start(): Promise<void> {
    this.started = true;
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./train-worker.ts', import.meta.url));
    worker.unref();
    worker.on('message', (reply: TrainReply) => this.settle(reply));
    worker.on('error', (err) => this.failAll(new Error(`training worker failed: ${err.message}`)));
    worker.on('exit', (code) => {
      // stop() has already let go of it (and failed its jobs); a later worker is not this one
      if (this.worker !== worker) return;
      this.worker = null;
      this.failAll(new Error(`training worker exited (code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  /**
   * Train on `history` a challenger to `current` (the model in use, or null) and save it to `dir`
   * (when given) if it forecasts the history better. Resolves with the new weights; with null
   * weights if the history is too short or has no period, or if `current` was better (`kept`).
   */
  train(history: Float64Array, dir: string | null, current: ForecasterWeights | null = null, opts: Partial<TrainOptions> = {}): Promise<{ weights: ForecasterWeights | null; kept: boolean }> {
    return this.post({ id: 0, op: 'train', dir, history, current, opts });
  }

  /** Load the forecaster saved in `dir`; rejects if there is none or it is damaged. */
  load(dir: string): Promise<ForecasterWeights | null> {
    // the common case at start-up, answered without starting the worker (same words as file-io.ts)
    const modelFile = join(dir, 'model.json');
    if (!existsSync(modelFile)) return Promise.reject(new Error(`${modelFile}: no saved model`));
    return this.post({ id: 0, op: 'load', dir }).then((r) => r.weights);
  }

  /** jobs sent and not yet answered */
  get busy(): number {
    return this.pending.size;
  }

  /** training jobs among them (loads are quick and do not count against a training queue) */
  get trainingsQueued(): number {
    return this.trainingIds.size;
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.endWorker();
    this.failAll(new Error('training stopped'));
  }

  private async endWorker(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private post(job: TrainJob): Promise<{ weights: ForecasterWeights | null; kept: boolean }> {
    if (!this.started) return Promise.reject(new Error('the trainer is not started'));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (job.op === 'train') this.trainingIds.add(id);
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...job, id });
    });
  }

  private settle(reply: TrainReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    this.trainingIds.delete(reply.id);
    if (this.pending.size === 0 && this.worker) {
      this.worker.unref();
      this.idleTimer = setTimeout(() => void this.endWorker(), this.idleMs);
      this.idleTimer.unref();
    }
    if (reply.ok) {
      this.backend = reply.backend;
      this.lastJobMs = reply.ms;
      p.resolve({ weights: reply.weights, kept: reply.kept });
    } else p.reject(new Error(reply.error));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.trainingIds.clear();
  }
}
