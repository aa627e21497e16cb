// The settings `eval nab --cv category` chooses per fold, beside the threshold: every setting of
// the detector whose value was picked on the NAB corpus rather than fixed by a reason (the
// parameter table of models/README.md). Each is tried one step either side of its default, one
// setting moved at a time, and every such point crossed with the context's tail share (the grid's
// setting from before); the folds choose among them on the other categories only.
//   - first stage (each value a further set of surprises, first-stage.ts): the spread window,
//     the shape length, the forecast's floor and its phase tolerance;
//   - judging stage (scored again from the kept first-stage figures, judge()): the smoothing, the
//     fire level, the transition member's length and levels;
//   - the forecaster (each value a further run of the whole detector, its models trained with it):
//     the network's taps around one period ago, its hidden units, its epochs, and the correlation
//     a period must show to be used. Only with the model.
// `fullScale` is not in it: a score is decades / fullScale, capped at 1, so a full scale F' with
// the fire level 0.7 F / F' and every threshold scaled by F / F' makes the same detections; with
// the threshold chosen per fold, the one thing fullScale and fireLevel decide together is the
// level in decades (0.7 x 12 = 8.4) at which a detection silences the next steps, and the fire
// level's candidates move exactly that.
import type { JudgeParams, SurpriseParams } from '../detector/detector.ts';
import type { TrainOptions } from '../model/train.ts';

export const GRID_NAMES = ['full', 'tail'] as const;
export type GridName = (typeof GRID_NAMES)[number];

type Steps<P> = { [K in keyof P]?: readonly number[] };

/** the tail share, default first: chosen per fold since before this grid */
const TAIL_SHARES = [0.01, 0.005, 0.02] as const;

/** first-stage settings, the values either side of the default */
export const FIRST_STAGE_STEPS: Steps<SurpriseParams> = {
  // a day and two days of steps around 400 (the day is the stream's own cycle)
  levelWindow: [288, 576],
  // half an hour and an hour of shape around 40 minutes
  contextLength: [6, 12],
  // half and twice the least usual error, a tenth of the spread
  forecastFloor: [0.05, 0.2],
  // a step less or more of phase tolerance around 15 minutes
  forecastJitter: [2, 4],
};

/** judging settings, the values either side of the default */
export const JUDGE_STEPS: Steps<JudgeParams> = {
  // a step less or more of the likelihood's mean of 4
  smooth: [3, 5],
  // the silencing level, 8.4 decades, moved by 0.6 either way (fullScale with it: above)
  fireLevel: [0.65, 0.75],
  // a step less or more of the transition member's context of 4
  transitionLength: [3, 5],
  // half and twice its 16 bands
  transitionLevels: [8, 32],
};

/**
 * The forecaster's settings, the values either side of the default. A forecaster trained with
 * other settings is another forecaster, with its own trainings on every stream: each is a run of
 * its own, the cost of the whole detector each.
 */
export const FORECASTER_STEPS: Steps<TrainOptions> = {
  // a step of phase less or more around one period ago (the taps are centred on it: 5 is ±2 steps)
  taps: [3, 7],
  // half and twice the hidden layer's 16 units
  hidden: [8, 32],
  // half and twice the 12 passes over the training windows
  epochs: [6, 24],
  // the period's test, a tenth either side of 0.5
  minCorrelation: [0.4, 0.6],
};

/**
 * A first stage of the detector the grid needs the figures of: the detector's own ({} and {}),
 * one with other surprise settings (run beside the detector, first-stage.ts), or one whose
 * forecaster trains with other settings (a run of its own).
 */
export interface GridStage {
  surprise: Partial<SurpriseParams>;
  training: Partial<TrainOptions>;
}

export interface GridPoint {
  label: string;
  /** index into the grid's stages (0: the default) */
  stage: number;
  /** the judging settings moved off the default */
  judge: Partial<JudgeParams>;
  /** every moved setting, first-stage and judging, with its value */
  moved: Record<string, number>;
}

export interface CvGrid {
  name: GridName;
  /** the first stages to run, the default first */
  stages: GridStage[];
  /** the candidates, the detector's defaults first */
  points: GridPoint[];
  /** each setting the grid moves, its default first and then the values tried */
  settings: Record<string, number[]>;
}

/**
 * `defaults`: the detector's own values, for `settings`; `training`: the forecaster's, or null
 * when the detector runs without it (no forecaster settings to choose then)
 */
export function cvGrid(name: GridName, defaults: SurpriseParams & JudgeParams, training: TrainOptions | null = null): CvGrid {
  const moves: { stage: GridStage | null; judge: Partial<JudgeParams>; moved: Record<string, number> }[] = [{ stage: null, judge: {}, moved: {} }];
  const settings: Record<string, number[]> = {};
  if (name === 'full') {
    for (const [key, values] of Object.entries(FIRST_STAGE_STEPS) as [keyof SurpriseParams, readonly number[]][]) {
      settings[key] = [defaults[key], ...values];
      for (const v of values) moves.push({ stage: { surprise: { [key]: v }, training: {} }, judge: {}, moved: { [key]: v } });
    }
    for (const [key, values] of Object.entries(JUDGE_STEPS) as [keyof JudgeParams, readonly number[]][]) {
      settings[key] = [Number(defaults[key]), ...values];
      for (const v of values) moves.push({ stage: null, judge: { [key]: v }, moved: { [key]: v } });
    }
    if (training) {
      for (const [key, values] of Object.entries(FORECASTER_STEPS) as [keyof TrainOptions, readonly number[]][]) {
        settings[key] = [Number(training[key]), ...values];
        for (const v of values) moves.push({ stage: { surprise: {}, training: { [key]: v } }, judge: {}, moved: { [key]: v } });
      }
    }
  }
  settings.contextTailShare = [...TAIL_SHARES];
  const stages: GridStage[] = [{ surprise: {}, training: {} }];
  const points: GridPoint[] = [];
  for (const m of moves) {
    let stage = 0;
    if (m.stage) stage = stages.push(m.stage) - 1;
    for (const share of TAIL_SHARES) {
      const moved = share === defaults.contextTailShare ? m.moved : { ...m.moved, contextTailShare: share };
      const judge = share === defaults.contextTailShare ? m.judge : { ...m.judge, contextTailShare: share };
      const label = Object.keys(moved).length === 0 ? 'default' : Object.entries(moved).map(([k, v]) => `${k}=${v}`).join(' ');
      points.push({ label, stage, judge, moved });
    }
  }
  return { name, stages, points, settings };
}

/** whether a stage's forecaster trains otherwise than the detector's (so it needs a run of its own) */
export function retrains(stage: GridStage): boolean {
  return Object.keys(stage.training).length > 0;
}

/** every setting the grid moves, at the values a point gives them */
export function settingsOf(grid: CvGrid, point: GridPoint): Record<string, number> {
  return Object.fromEntries(Object.entries(grid.settings).map(([k, values]) => [k, point.moved[k] ?? values[0]!]));
}
