// `fieldproof eval nab ...`: the anomaly detector on NAB-format data, NAB-scored.
// `fieldproof eval faults ...`: the device's validation on generated streams with injected faults.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, printJson, requireFlag, UsageError, type Command } from '../../kernel/command.ts';
import { UserError } from '../../kernel/user-error.ts';
import { listNabFiles, readNabSeries, readNabWindows } from '../../models/nab/corpus.ts';
import { crossValidated, evaluateNab, NAB_PROFILES, scoreCorpus } from '../../models/nab/evaluate.ts';
import type { HeldOutPart, ScoredSeries } from '../../models/nab/crossval.ts';
import { readNabAnomalies, shortStreams } from '../../models/nab/short.ts';
import { GRID_NAMES, type GridName } from '../../models/nab/grid.ts';
import { DEFAULT_DROP_SEED, leastBurst, MAX_DROP_SHARE, type DropPlan } from '../../models/nab/drops.ts';
import { FAULT_TYPES, type FaultType } from '../../models/faults/catalogue.ts';
import { evaluateFaults } from '../../models/faults/evaluate.ts';
import { STREAM_KINDS } from '../../models/faults/scenario.ts';
import type { StreamKind } from '../../models/faults/streams.ts';
import type { CostMatrix } from '../../models/nab/sweeper.ts';

const HELP = `usage: fieldproof eval nab --data DIR --labels FILE [--profile standard] [--threshold T | --cv category [--grid full|tail]]
                          [--no-model] [--profiles FILE] [--categories C,...] [--max-steps N | --split-steps N] [--anomalies FILE]
                          [--drop-share P [--drop-burst L] [--seed N]] [--json]
       fieldproof eval nab --results DIR --detector NAME --labels FILE [--profile P] [--threshold T | --cv category] [--json]

Runs the device's anomaly detector (rules aside: NAB has no sensor specs) over every CSV under
DIR (NAB layout: <category>/<file>.csv with timestamp,value) and scores it with the NAB rules:
anomaly windows, scaled sigmoid, probation period, normalisation against the null detector.
Without --threshold the threshold is swept over the corpus (as NAB does); with it, that fixed
threshold is applied. --no-model leaves out the TensorFlow.js forecaster, to measure what it adds.
--results scores a published detector's results/<NAME>/ outputs instead of running ours.
--categories runs only the files of those categories (quick runs; the score is then of that subset).
--max-steps N scores short streams: each file cut to its first N rows, labelled as NAB labels a
file of that length from the anomaly points of --anomalies (NAB's combined_labels.json): windows of
10% of the cut file shared among the anomalies in it, probation 15% of it. --split-steps N splits
every file into consecutive pieces of about N rows instead, each a stream of its own
("<category>/<file>.csv#<k>"), labelled the same way: many more short streams and windows.
--drop-share P scores streams that lose readings: each stream (whole file, cut or piece) loses a
share P of its rows at random (${MAX_DROP_SHARE} at most), each independently, or in runs of mean length L
with --drop-burst L (a link down for a while), the same rows for the same --seed (default
${DEFAULT_DROP_SEED}); it is scored on the rows left, its windows (the same spans of time) over the rows left
in them, probation 15% of the rows left.
--cv category cross-validates: for each category, the threshold (and every other choice made
from labelled data) is chosen on the other categories only, and the category is scored with it;
"cv_score" is the normalised score over all the held-out categories, beside the in-sample
"score", and "cv" lists each held-out part. Besides the threshold, it chooses among the detector's
settings that were picked on data (--grid full, the default: the spread window, shape length,
forecast floor and phase tolerance, smoothing, fire level, transition member's length and levels,
and with the model the forecaster's taps, hidden units, epochs and period test, each one step
either side of its default, one at a time, crossed with the context's tail share; --grid tail:
the tail share alone). Each first-stage setting is a further pass of the detector's first stage
beside the run, the judging ones are replayed from it, and each forecaster setting is a run of
the whole detector of its own, in worker threads beside the main run (as many as the machine has
cores): with the full grid and the model a run takes about four times the CPU of one without
--cv. "cv_settings" gives the values tried, "cv_candidates" each point's in-sample score,
and each part of "cv" the point chosen for it ("candidate", "settings"). Each fold's threshold is
its chosen point's fire level, the one alert threshold the device has; "cv_free_threshold" gives
the same grid with the threshold swept freely per fold, as for a published detector.
Progress goes to stderr; --json prints
{"profile","threshold","score","raw","categories","files":{"<category>/<file>.csv":raw},...}
on stdout, with "cv_score","cv_raw","cv","cv_grid","cv_settings","cv_candidates","cv_free_threshold" under --cv.
Profiles: ${Object.keys(NAB_PROFILES).join(', ')} (or those of --profiles, NAB's profiles.json).

usage: fieldproof eval faults [--no-model] [--kinds K,...] [--types T,...] [--seed N] [--json]

Runs the device's validation (rules, then the anomaly detector) over generated sensor streams
(${STREAM_KINDS.join(', ')}), each with one injected fault of known type and start
(${FAULT_TYPES.join(', ')}; models/faults/README.md). --json prints, per fault type, the share
found, the share found within 5 minutes and within 24 hours, the median delay and the flags that
found them, and the false alarms per sensor-day of healthy data. --seed runs the same plan with
other streams and faults than its fixed seed's: a check that the figures hold on data the
validation was not developed on (the plan's own figures are those without it).`;

function loadProfiles(file: string | undefined): Record<string, CostMatrix> {
  if (!file) return NAB_PROFILES;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read profiles ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const out: Record<string, CostMatrix> = {};
  for (const [name, p] of Object.entries(raw as Record<string, { CostMatrix?: CostMatrix }>)) {
    const c = p?.CostMatrix;
    if (!c || ![c.tpWeight, c.fpWeight, c.fnWeight].every((v) => typeof v === 'number' && Number.isFinite(v))) throw new UserError(`profiles ${file}: ${name}: needs CostMatrix with tpWeight, fpWeight, fnWeight`);
    out[name] = c;
  }
  return out;
}

export const command: Command = {
  summary: 'score the anomaly detector on NAB-format data or generated sensor faults',
  help: HELP,
  async run(argv) {
    const [what, ...rest] = argv;
    if (what === 'faults') return runFaults(rest);
    if (what !== 'nab') throw new UsageError(what === undefined ? 'missing what to evaluate: fieldproof eval nab|faults ...' : `unknown evaluation ${JSON.stringify(what)}; one of: nab, faults`);
    const { values } = parseFlags(rest, {
      data: { type: 'string' },
      labels: { type: 'string' },
      profile: { type: 'string' },
      profiles: { type: 'string' },
      threshold: { type: 'string' },
      'no-model': { type: 'boolean' },
      results: { type: 'string' },
      detector: { type: 'string' },
      cv: { type: 'string' },
      grid: { type: 'string' },
      categories: { type: 'string' },
      'max-steps': { type: 'string' },
      'split-steps': { type: 'string' },
      anomalies: { type: 'string' },
      'drop-share': { type: 'string' },
      'drop-burst': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    });
    const drop = dropPlan(values['drop-share'], values['drop-burst'], values.seed);
    // a published detector's scores were made on the whole file: dropping rows from them is not
    // what it would give a stream that lost those readings
    if (drop && values.results !== undefined) throw new UsageError('--drop-share runs the detector on the rows left; published results were made on every row');
    if (values.cv !== undefined && values.cv !== 'category') throw new UsageError(`--cv must be "category", got ${JSON.stringify(values.cv)}`);
    if (values.cv !== undefined && values.threshold !== undefined) throw new UsageError('--cv chooses the threshold on the other categories; leave out --threshold');
    const cv = values.cv === 'category' ? ('category' as const) : undefined;
    if (values.grid !== undefined && !GRID_NAMES.includes(values.grid as GridName)) throw new UsageError(`--grid must be one of ${GRID_NAMES.join(', ')}, got ${JSON.stringify(values.grid)}`);
    if (values.grid !== undefined && (cv === undefined || values.results !== undefined)) throw new UsageError('--grid is what --cv category chooses among when it runs the detector; give it with --cv category and --data');
    const grid = values.grid as GridName | undefined;
    const profiles = loadProfiles(values.profiles);
    const profile = values.profile ?? 'standard';
    const cost = profiles[profile];
    if (!cost) throw new UsageError(`unknown profile ${JSON.stringify(profile)}; one of: ${Object.keys(profiles).join(', ')}`);
    let threshold: number | undefined;
    if (values.threshold !== undefined) {
      threshold = Number(values.threshold);
      if (values.threshold.trim() === '' || !Number.isFinite(threshold)) throw new UsageError(`--threshold must be a number, got ${JSON.stringify(values.threshold)}`);
    }
    const windows = readNabWindows(requireFlag(values.labels, 'labels'));
    const categories = values.categories?.split(',').map((c) => c.trim()).filter((c) => c !== '');
    const maxSteps = steps(values['max-steps'], 'max-steps');
    const splitSteps = steps(values['split-steps'], 'split-steps');
    if (maxSteps !== undefined && splitSteps !== undefined) throw new UsageError('--max-steps and --split-steps are two ways of making short streams; give one');
    // a published detector's scores are causal, so its first N scores are what it gives a file cut
    // to N rows; a piece from the middle of a file is not what it gives a stream starting there
    if (splitSteps !== undefined && values.results !== undefined) throw new UsageError('--split-steps starts each piece afresh; published results run on from the start of the file and cannot be split (--max-steps can cut them)');
    const anomalies = (maxSteps ?? splitSteps) === undefined ? undefined : readNabAnomalies(requireFlag(values.anomalies, 'anomalies'));
    const progress = (done: number, total: number, file: string) => {
      process.stderr.write(total === 0 ? `${file}\n` : `[${done}/${total}] ${file}\n`);
    };

    let result: Record<string, unknown> & { score: number; threshold: number; raw: number };
    if (values.results !== undefined) {
      const detector = requireFlag(values.detector, 'detector');
      const series = [];
      const files = listNabFiles(values.results).filter((f) => f.name.includes('/'));
      for (const [i, f] of files.entries()) {
        // results/<NAME>/<category>/<NAME>_<file>.csv holds the scores for data/<category>/<file>.csv
        const [category, base] = f.name.split('/') as [string, string];
        if (!base.startsWith(`${detector}_`) || (categories && !categories.includes(category))) continue;
        const name = `${category}/${base.slice(detector.length + 1)}`;
        const s = readNabSeries(join(values.results, f.name), name, 'anomaly_score');
        series.push({ name, timestamps: s.timestamps, scores: s.values });
        progress(i + 1, files.length, name);
      }
      if (series.length === 0) throw new UserError(`no ${detector}_*.csv result files under ${values.results}`);
      let scored: ScoredSeries[] = series;
      let labels = windows;
      if (maxSteps !== undefined && anomalies) {
        const cut = shortStreams(series.map((s) => ({ name: s.name, timestamps: s.timestamps, values: s.scores })), anomalies, maxSteps);
        scored = cut.series.map((s) => ({ name: s.name, timestamps: s.timestamps, scores: s.values }));
        labels = cut.windows;
      }
      result = { detector, ...(maxSteps !== undefined ? { max_steps: maxSteps } : {}), ...scoreCorpus(scored, labels, profile, cost, threshold), ...(cv ? crossValidated([{ label: detector, series: scored }], labels, cost) : {}) };
    } else {
      const data = requireFlag(values.data, 'data');
      const r = await evaluateNab(data, windows, {
        profile,
        cost,
        ...(threshold !== undefined ? { threshold } : {}),
        ...(cv ? { cv, ...(grid ? { grid } : {}) } : {}),
        ...(categories ? { categories } : {}),
        ...(anomalies ? { anomalies, ...(maxSteps !== undefined ? { maxSteps } : {}), ...(splitSteps !== undefined ? { splitSteps } : {}) } : {}),
        ...(drop ? { drop } : {}),
        model: !values['no-model'],
        progress,
      });
      result = { ...r };
    }
    if (values.json) printJson(result);
    else {
      for (const [name, raw] of Object.entries(result.files as Record<string, number>)) process.stdout.write(`${raw.toFixed(4).padStart(9)}  ${name}\n`);
      process.stdout.write(`profile ${profile}  threshold ${result.threshold}  raw ${result.raw.toFixed(3)}  normalised score ${result.score.toFixed(2)}\n`);
      if (typeof result.cv_score === 'number') {
        for (const p of result.cv as HeldOutPart[]) process.stdout.write(`held out ${p.category}: ${p.candidate}  threshold ${p.threshold}  raw ${p.raw.toFixed(3)}  score ${p.score === null ? '-' : p.score.toFixed(2)}\n`);
        process.stdout.write(`cross-validated normalised score ${result.cv_score.toFixed(2)}; each held-out category at its own best threshold ${(result.cv_own_threshold_score as number).toFixed(2)}\n`);
      }
    }
    return 0;
  },
};

/** a short stream's length in rows, from a flag */
function steps(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 100)) throw new UsageError(`--${flag} must be an integer of at least 100, got ${JSON.stringify(value)}`);
  return n;
}

/** the rows each stream loses, from --drop-share, --drop-burst and --seed */
function dropPlan(share: string | undefined, burst: string | undefined, seed: string | undefined): DropPlan | undefined {
  if (share === undefined) {
    if (burst !== undefined || seed !== undefined) throw new UsageError('--drop-burst and --seed go with --drop-share');
    return undefined;
  }
  const p = Number(share);
  if (share.trim() === '' || !(p >= 0 && p <= MAX_DROP_SHARE)) throw new UsageError(`--drop-share must be a number from 0 to ${MAX_DROP_SHARE}, got ${JSON.stringify(share)}`);
  const plan: DropPlan = { share: p, seed: DEFAULT_DROP_SEED };
  if (seed !== undefined) {
    plan.seed = Number(seed);
    if (seed.trim() === '' || !(Number.isInteger(plan.seed) && plan.seed >= 0 && plan.seed < 2 ** 32)) throw new UsageError(`--seed: ${JSON.stringify(seed)} is not an integer from 0 to 2^32 - 1`);
  }
  if (burst !== undefined) {
    const l = Number(burst);
    const least = leastBurst(p);
    if (burst.trim() === '' || !(l >= least && Number.isFinite(l))) throw new UsageError(`--drop-burst must be a mean run length of at least ${least} at share ${p}, got ${JSON.stringify(burst)}`);
    plan.burst = l;
  }
  return plan;
}

/** a comma-separated subset of `all`, or all of it */
function subset<T extends string>(value: string | undefined, all: readonly T[], flag: string): readonly T[] {
  if (value === undefined) return all;
  const picked = value.split(',').map((x) => x.trim());
  for (const p of picked) if (!all.includes(p as T)) throw new UsageError(`--${flag}: unknown ${JSON.stringify(p)}; one of: ${all.join(', ')}`);
  return picked as T[];
}

async function runFaults(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { 'no-model': { type: 'boolean' }, kinds: { type: 'string' }, types: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } });
  const kinds = subset<StreamKind>(values.kinds, STREAM_KINDS, 'kinds');
  const types = subset<FaultType>(values.types, FAULT_TYPES, 'types');
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new UsageError(`--seed: ${JSON.stringify(values.seed)} is not an integer from 0 to 2^32 - 1`);
  const r = await evaluateFaults({ model: !values['no-model'], kinds, types, ...(seed === undefined ? {} : { seed }), progress: (done, total, id) => process.stderr.write(`[${done}/${total}] ${id}\n`) });
  if (values.json) printJson(r);
  else {
    for (const [type, f] of Object.entries(r.faults)) {
      const delay = f.median_delay_s === null ? '-' : `${f.median_delay_s} s`;
      process.stdout.write(`${type.padEnd(8)} found ${(100 * f.found).toFixed(0)}%  within 5 min ${(100 * f.within_5_min).toFixed(0)}%  within 24 h ${(100 * f.within_24_h).toFixed(0)}%  median delay ${delay}\n`);
    }
    process.stdout.write(`false alarms ${r.false_alarms} in ${r.healthy_sensor_days} healthy sensor-days: ${r.false_alarms_per_sensor_day} per sensor-day\n`);
    process.stdout.write(`targets ${r.targets.met ? 'met' : 'not met'}\n`);
  }
  return 0;
}
