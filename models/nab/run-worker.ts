// A worker thread that runs the detector over a corpus with one forecaster setting of the
// cross-validation's grid (apart-runs.ts), and posts back the first stage's kept figures.
import { parentPort, workerData } from 'node:worker_threads';
import type { NabSeries } from './corpus.ts';
import type { SeriesSurprises } from './first-stage.ts';
import { scoreStreams, type SeriesRun } from './runs.ts';

export interface RunJob {
  data: readonly NabSeries[];
  run: SeriesRun;
}

export type RunReply = { progress: [number, number, string] } | { kept: SeriesSurprises[] } | { error: string };

const port = parentPort;
if (!port) throw new Error('run-worker.ts runs as a worker thread');
const job = workerData as RunJob;
try {
  const { kept } = await scoreStreams(job.data, { ...job.run, progress: (done, total, what) => port.postMessage({ progress: [done, total, what] } satisfies RunReply) });
  const figures = kept[0]!;
  const transfer = figures.flatMap((f) => [f.value.buffer, f.novelty.buffer, f.forecast.buffer, f.stepped.buffer] as ArrayBuffer[]);
  port.postMessage({ kept: figures } satisfies RunReply, transfer);
} catch (err) {
  port.postMessage({ error: (err as Error).message ?? String(err) } satisfies RunReply);
}
