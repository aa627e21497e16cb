// The detector's first stage under other settings, from the same run of a stream. What the first
// stage's settings change (the spread window, the shape length, the forecast's floor and phase
// tolerance) never reaches the forecaster's training: a training is started by the count of steps
// and the time, on the history of step values, and is seeded, so a run with any of these settings
// trains the same models at the same steps. A further setting therefore needs only its own
// SurpriseSource and a forecaster that takes up the scorer's weights whenever they change: the
// figures are those a run with that setting would give (grid.test.ts checks it against such
// runs), for the cost of its neighbour searches and forward passes, not of its trainings.
import { SurpriseSource, type SurpriseParams, type Surprises } from '../detector/surprises.ts';
import { MlpForecaster } from '../model/forecaster.ts';
import type { ForecasterWeights } from '../model/weights.ts';

/** The detector's first-stage figures at every reading of a series (NaN where no step completed). */
export interface SeriesSurprises {
  value: Float64Array;
  novelty: Float64Array;
  forecast: Float64Array;
  stepped: Uint8Array;
}

/** Note the first stage's figures of the step completed at reading `row`. */
export function noteStep(figures: SeriesSurprises, row: number, s: Surprises): void {
  figures.value[row] = s.value;
  figures.novelty[row] = s.novelty;
  figures.forecast[row] = s.forecast;
  figures.stepped[row] = 1;
}

export function emptySurprises(n: number): SeriesSurprises {
  return { value: new Float64Array(n).fill(Number.NaN), novelty: new Float64Array(n).fill(Number.NaN), forecast: new Float64Array(n).fill(Number.NaN), stepped: new Uint8Array(n) };
}

/** One further first-stage setting, run beside a StreamScorer on the steps it completes. */
export class FirstStageFollower {
  private readonly source: SurpriseSource;
  private readonly forecaster: MlpForecaster | null;
  readonly figures: SeriesSurprises;

  /** `model`: whether the scorer it follows has a forecaster */
  constructor(params: SurpriseParams, model: boolean, rows: number) {
    this.forecaster = model ? new MlpForecaster() : null;
    this.source = new SurpriseSource(params, this.forecaster);
    this.figures = emptySurprises(rows);
  }

  /**
   * The step the scorer completed at reading `row`, with the value it stepped on and the weights
   * its forecaster used for that step (before any training the step started)
   */
  step(row: number, value: number, weights: ForecasterWeights | null): void {
    // a new object is a new training, as setWeights is on the scorer's own forecaster
    if (this.forecaster && this.forecaster.model !== weights) this.forecaster.setWeights(weights);
    noteStep(this.figures, row, this.source.update(value));
  }
}
