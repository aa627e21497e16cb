// The training worker: trains, saves and loads forecasters off the pipeline's thread, one job at
// a time, and posts back plain weights. Started by ModelTrainer.
import { parentPort } from 'node:worker_threads';
import { initBackend, loadForecaster, saveForecaster, trainChallenger, type TrainOptions } from './train.ts';
import type { ForecasterWeights } from './weights.ts';

export type TrainJob =
  | { id: number; op: 'train'; dir: string | null; history: Float64Array; current: ForecasterWeights | null; opts: Partial<TrainOptions> }
  | { id: number; op: 'load'; dir: string };

/** `kept`: a model was trained but did not forecast the history better than `current`; it was not saved */
export type TrainReply = { id: number; ok: true; weights: ForecasterWeights | null; kept: boolean; backend: string; ms: number } | { id: number; ok: false; error: string };

async function handle(job: TrainJob): Promise<TrainReply> {
  const started = Date.now();
  const backend = await initBackend();
  if (job.op === 'load') return { id: job.id, ok: true, weights: await loadForecaster(job.dir), kept: false, backend, ms: Date.now() - started };
  const trained = await trainChallenger(job.history, job.current, job.opts);
  if (!trained || trained === 'kept') return { id: job.id, ok: true, weights: null, kept: trained === 'kept', backend, ms: Date.now() - started };
  try {
    if (job.dir) await saveForecaster(trained.model, job.dir);
  } finally {
    trained.model.dispose();
  }
  return { id: job.id, ok: true, weights: trained.weights, kept: false, backend, ms: Date.now() - started };
}

const port = parentPort;
if (!port) throw new Error('train-worker.ts runs as a worker thread');
let queue = Promise.resolve();
port.on('message', (job: TrainJob) => {
  queue = queue.then(() =>
    handle(job).then(
      (reply) => port.postMessage(reply),
      (err) => port.postMessage({ id: job.id, ok: false, error: (err as Error).message ?? String(err) } satisfies TrainReply),
    ),
  );
});
