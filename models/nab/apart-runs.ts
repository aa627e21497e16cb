// Runs of the detector that cannot follow the main one (first-stage.ts): a forecaster trained with
// other settings makes other models at every retrain, so each such setting of the grid is a run
// of the whole detector of its own. They are independent of each other and of the main run, so
// they run in worker threads, as many at once as the machine has cores, beside the main run on
// the calling thread. A run's figures do not depend on the thread it ran in: the trainings are
// seeded, and each waits for its training as the main run does.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { NabSeries } from './corpus.ts';
import type { SeriesSurprises } from './first-stage.ts';
import type { Progress, SeriesRun } from './runs.ts';
import type { RunJob, RunReply } from './run-worker.ts';

/** Each run's kept first-stage figures (one per series), in the order of `runs`. */
export async function runApart(data: readonly NabSeries[], runs: readonly { label: string; run: SeriesRun }[], progress?: Progress, threads = availableParallelism()): Promise<SeriesSurprises[][]> {
  const out: SeriesSurprises[][] = new Array(runs.length);
  let next = 0;
  const lane = async () => {
    while (next < runs.length) {
      const k = next++;
      const { label, run } = runs[k]!;
      out[k] = await runInWorker({ data, run }, (done, total, what) => progress?.(done, total, `${label}: ${what}`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(threads, runs.length) }, lane));
  return out;
}

function runInWorker(job: RunJob, progress: Progress): Promise<SeriesSurprises[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./run-worker.ts', import.meta.url), { workerData: job });
    let settled = false;
    worker.on('message', (reply: RunReply) => {
      if ('progress' in reply) return progress(...reply.progress);
      settled = true;
      if ('kept' in reply) resolve(reply.kept);
      else reject(new Error(reply.error));
      void worker.terminate();
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`a run's worker exited (code ${code}) before it reported`));
    });
  });
}
