// The main thread's side of the codec engine: a worker thread running QuickJS, fed one job at a
// time from a bounded queue, and a watchdog. Each codec is stopped by QuickJS's own interrupt at
// its deadline; the watchdog is for what that cannot stop (a stuck engine, a WebAssembly trap): it
// terminates the thread, starts a new one, loads the codecs into it again, blames the request the
// old thread was on (a shared array says which) and runs the rest of its batch again. Nothing a
// codec does can hold the daemon's event loop: the main thread only ever waits on messages.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { CodecLoadError } from './quickjs-engine.ts';
import {
  PROGRESS_INDEX, PROGRESS_SEQ, type EngineFailure, type EngineLimits, type EngineRequest, type EngineResult,
  type LoadSpec, type WorkerReply, type WorkerRequest,
} from './protocol.ts';

export interface CodecEngineOptions {
  log?: Logger;
  /** requests waiting for the engine beyond which new ones are refused at once */
  maxQueued?: number;
  /** added to a request's own worst case (its limit and a rebuild) before the watchdog stops the engine, ms */
  watchdogSlackMs?: number;
  /** the worker's entry module (tests put a misbehaving one here) */
  workerUrl?: URL;
  /** the most memory the engine's WebAssembly module may grow to, all codecs together (default 256 MiB) */
  memoryMaxBytes?: number;
}

export const DEFAULT_ENGINE_MEMORY_BYTES = 256 * 1024 * 1024;

interface RunJob {
  kind: 'run';
  id: number;
  requests: EngineRequest[];
  /** runs of this batch so far; a batch is run again at most once after a restart */
  attempt: number;
  seq: number;
  done(results: EngineResult[]): void;
}

interface LoadJob {
  kind: 'load';
  spec: LoadSpec;
  /** absent when a restart reloads a codec */
  done?: (entries: string[] | CodecLoadError) => void;
}

type Job = RunJob | LoadJob;

interface KnownCodec {
  spec: LoadSpec;
  /** why it cannot run (it crashed the engine while loading), or null */
  broken: string | null;
}

export class CodecEngine {
  private worker: Worker | null = null;
  private ready = false;
  private stopping = false;
  private readonly codecs = new Map<number, KnownCodec>();
  private queue: Job[] = [];
  private queuedRequests = 0;
  private inFlight: Job | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private seq = 0;
  private nextId = 1;
  private readonly progress = new Int32Array(new SharedArrayBuffer(8));
  private readonly recentRestarts: number[] = [];
  private readonly maxQueued: number;
  private readonly slackMs: number;
  /** engine threads started again after a watchdog stop or a crash */
  restarts = 0;

  private readonly opts: CodecEngineOptions;

  constructor(opts: CodecEngineOptions = {}) {
    this.opts = opts;
    this.maxQueued = opts.maxQueued ?? 20_000;
    this.slackMs = opts.watchdogSlackMs ?? 2000;
  }

  async start(): Promise<void> {
    this.stopping = false;
    await new Promise<void>((resolve, reject) => this.spawn(resolve, reject));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.disarm();
    const pending = [...(this.inFlight ? [this.inFlight] : []), ...this.queue];
    this.inFlight = null;
    this.queue = [];
    this.queuedRequests = 0;
    for (const job of pending) this.fail(job, 'crashed', 'the codec engine stopped');
    const w = this.worker;
    this.worker = null;
    this.ready = false;
    if (w) await w.terminate();
  }

  /** Compile a codec in the engine; rejects with a CodecLoadError naming what is wrong. */
  load(name: string, source: string, limits: EngineLimits): Promise<{ id: number; entries: string[] }> {
    const spec: LoadSpec = { id: this.nextId++, name, source, limits };
    return new Promise((resolve, reject) => {
      this.enqueue({
        kind: 'load',
        spec,
        done: (r) => {
          if (r instanceof CodecLoadError) return reject(r);
          this.codecs.set(spec.id, { spec, broken: null });
          resolve({ id: spec.id, entries: r });
        },
      });
    });
  }

  unload(id: number): void {
    this.codecs.delete(id);
    if (this.ready) this.post({ type: 'unload', id });
  }

  /** Run requests through a loaded codec, in order; never rejects. */
  run(id: number, requests: EngineRequest[]): Promise<EngineResult[]> {
    const known = this.codecs.get(id);
    if (!known) return Promise.resolve(requests.map(() => ({ ok: false, failure: 'threw', error: 'codec is not loaded' })));
    if (known.broken) return Promise.resolve(requests.map(() => ({ ok: false, failure: 'crashed', error: known.broken! })));
    if (this.stopping) return Promise.resolve(requests.map(() => ({ ok: false, failure: 'crashed', error: 'the codec engine stopped' })));
    if (this.queuedRequests + requests.length > this.maxQueued) {
      return Promise.resolve(requests.map(() => ({ ok: false, failure: 'overload', error: `more than ${this.maxQueued} requests wait for the codec engine` })));
    }
    return new Promise((resolve) => {
      this.queuedRequests += requests.length;
      this.enqueue({ kind: 'run', id, requests, attempt: 0, seq: 0, done: resolve });
    });
  }

  /** Requests waiting for the engine, for the gauge. */
  get queued(): number {
    return this.queuedRequests;
  }

  // ------------------------------------------------------------------ the thread

  private spawn(onReady?: () => void, onFail?: (err: Error) => void): void {
    const worker = new Worker(this.opts.workerUrl ?? new URL('./worker.ts', import.meta.url), {
      workerData: { progress: this.progress.buffer, memoryMaxBytes: this.opts.memoryMaxBytes ?? DEFAULT_ENGINE_MEMORY_BYTES },
      // QuickJS's own stack limit (EngineLimits.stackBytes) must be reached before the thread's:
      // WebAssembly frames use the thread's native stack, several times QuickJS's figure.
      // Its own JavaScript heap (results on their way out) is bounded too; past it the thread dies
      // and is replaced like any crashed one.
      resourceLimits: { stackSizeMb: 16, maxOldGenerationSizeMb: 128 },
    });
    this.worker = worker;
    this.ready = false;
    worker.on('message', (r: WorkerReply) => {
      if (this.worker !== worker) return;
      if (r.type === 'ready') {
        this.ready = true;
        onReady?.();
        onReady = undefined;
        onFail = undefined;
        this.pump();
      } else this.answer(r);
    });
    worker.on('error', (err) => this.lost(worker, err.message, onFail));
    worker.on('exit', (code) => this.lost(worker, `the engine thread exited with code ${code}`, onFail));
  }

  /** The thread died or was stopped: blame what it was doing and start a new one. */
  private lost(worker: Worker, why: string, onFail?: (err: Error) => void): void {
    if (this.worker !== worker || this.stopping) return;
    this.worker = null;
    this.ready = false;
    if (onFail) return onFail(new Error(`the codec engine did not start: ${why}`));
    this.opts.log?.error({ err: why }, 'codec engine thread lost; starting a new one');
    this.blameInFlight('crashed', `the codec engine crashed (${why}); it was restarted`);
    this.restart();
  }

  private restart(): void {
    this.restarts++;
    const now = Date.now();
    this.recentRestarts.push(now);
    while (this.recentRestarts.length > 0 && now - this.recentRestarts[0]! > 60_000) this.recentRestarts.shift();
    // Every known codec is loaded again first, before anything queued runs.
    const reloads: LoadJob[] = [...this.codecs.values()].filter((c) => !c.broken).map((c) => ({ kind: 'load', spec: c.spec }));
    this.queue.unshift(...reloads);
    // Restarting in a loop helps nobody: after a few in a minute, wait a little longer each time.
    const delay = this.recentRestarts.length <= 3 ? 0 : Math.min(30_000, 100 * 2 ** (this.recentRestarts.length - 3));
    const go = () => {
      if (!this.stopping) this.spawn();
    };
    if (delay === 0) go();
    else setTimeout(go, delay).unref();
  }

  private onWatchdog(): void {
    const worker = this.worker;
    if (!worker) return;
    this.opts.log?.error({}, 'codec engine did not answer in time; stopping and restarting it');
    this.worker = null;
    this.ready = false;
    void worker.terminate();
    this.blameInFlight('timeout', 'the codec engine stopped answering; it was restarted');
    this.restart();
  }

  // ------------------------------------------------------------------ jobs

  private enqueue(job: Job): void {
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    if (this.inFlight || !this.ready || !this.worker) return;
    const job = this.queue.shift();
    if (!job) return;
    this.inFlight = job;
    if (job.kind === 'load') {
      this.arm(job.spec.limits.loadTimeoutMs * 2 + this.slackMs);
      this.post({ type: 'load', spec: job.spec });
      return;
    }
    const spec = this.codecs.get(job.id)?.spec;
    if (!spec) {
      this.inFlight = null;
      this.finishRun(job, job.requests.map(() => ({ ok: false, failure: 'threw', error: 'codec is not loaded' })));
      return this.pump();
    }
    job.seq = ++this.seq;
    // Each request is bounded by its own deadline and by a rebuild of the codec after it: the
    // watchdog follows the worker's progress request by request, so one stuck request is caught
    // within its own budget, not the batch's.
    this.watchRun(job.seq, spec.limits.timeoutMs + spec.limits.loadTimeoutMs + this.slackMs);
    this.post({ type: 'run', seq: job.seq, id: job.id, requests: job.requests });
  }

  private answer(r: WorkerReply): void {
    const job = this.inFlight;
    if (!job) return;
    if (job.kind === 'load' && (r.type === 'loaded' || r.type === 'load_failed') && r.id === job.spec.id) {
      this.inFlight = null;
      this.disarm();
      job.done?.(r.type === 'loaded' ? r.entries : new CodecLoadError(r.error));
    } else if (job.kind === 'run' && r.type === 'results' && r.seq === job.seq) {
      this.inFlight = null;
      this.disarm();
      this.finishRun(job, r.results);
    }
    this.pump();
  }

  private finishRun(job: RunJob, results: EngineResult[]): void {
    this.queuedRequests -= job.requests.length;
    job.done(results);
  }

  /**
   * The job in flight when the engine was lost. A load that crashed it marks the codec broken
   * (loading it again would crash the next engine). In a batch, the request the engine was on is
   * the culprit; the others ran, or would have, without fault and are run once more.
   */
  private blameInFlight(failure: EngineFailure, error: string): void {
    const job = this.inFlight;
    this.inFlight = null;
    this.disarm();
    if (!job) return;
    if (job.kind === 'load') {
      const reason = `codec ${job.spec.name} stopped the engine while loading (${error})`;
      const known = this.codecs.get(job.spec.id);
      if (known) known.broken = reason;
      job.done?.(new CodecLoadError(reason));
      return;
    }
    const onIt = Atomics.load(this.progress, PROGRESS_SEQ) === job.seq ? Atomics.load(this.progress, PROGRESS_INDEX) : 0;
    const culprit = Math.min(Math.max(onIt, 0), job.requests.length - 1);
    if (job.attempt > 0 || job.requests.length === 1) return this.fail(job, failure, error);
    const others = job.requests.flatMap((q, i) => (i === culprit ? [] : [{ q, i }]));
    const retry: RunJob = {
      kind: 'run',
      id: job.id,
      requests: others.map((o) => o.q),
      attempt: job.attempt + 1,
      seq: 0,
      done: (results) => {
        const all: EngineResult[] = new Array(job.requests.length);
        all[culprit] = { ok: false, failure, error };
        others.forEach((o, k) => (all[o.i] = results[k]!));
        this.queuedRequests += others.length; // finishRun of the retry took them off already
        this.finishRun(job, all);
      },
    };
    this.queue.unshift(retry);
  }

  private fail(job: Job, failure: EngineFailure, error: string): void {
    if (job.kind === 'load') job.done?.(new CodecLoadError(error));
    else this.finishRun(job, job.requests.map(() => ({ ok: false, failure, error })));
  }

  private arm(ms: number): void {
    this.disarm();
    this.watchdog = setTimeout(() => this.onWatchdog(), ms);
    this.watchdog.unref();
  }

  /** Stop the engine when the request it is on has not changed for `budgetMs`. */
  private watchRun(seq: number, budgetMs: number): void {
    this.disarm();
    let seen = -2;
    let since = performance.now();
    const every = Math.max(20, Math.min(250, budgetMs / 4));
    const timer = setInterval(() => {
      const onIt = Atomics.load(this.progress, PROGRESS_SEQ) === seq ? Atomics.load(this.progress, PROGRESS_INDEX) : -1;
      const now = performance.now();
      if (onIt !== seen) {
        seen = onIt;
        since = now;
      } else if (now - since > budgetMs) this.onWatchdog();
    }, every);
    timer.unref();
    this.watchdog = timer;
  }

  private disarm(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private post(m: WorkerRequest): void {
    this.worker?.postMessage(m);
  }
}
