// Unseen transitions of a young stream, in the spirit of contextOSE: each step's value is cut to
// one of `levels` equal bands of the range seen so far, and the surprise is the share of the
// transitions from the last 1, 2, ..., `length` bands to the current one that the stream has
// never made before. It needs no reference window: it learns from the first step, where the
// detector's other members judge against a day of shapes, a week of surprises and two weeks of
// levels that a stream of a few thousand steps has not yet filled. It is a young stream's member
// only (`steps`): on a long bursty stream every burst makes new transitions at the tails, and by
// then the other members' windows are full. Its memory is a fixed open-addressing table of the
// transitions seen, released once its steps are over.

export class TransitionNovelty {
  private table: Int32Array | null;
  private readonly mask: number;
  private readonly recent: number[] = [];
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private seen = 0;

  private readonly length: number;
  private readonly levels: number;
  private readonly steps: number;

  /** `length` bands of context, `levels` bands of the range, for the stream's first `steps` steps */
  constructor(length: number, levels: number, steps: number) {
    if (!(Number.isInteger(length) && length >= 1 && Number.isInteger(levels) && levels >= 2)) throw new Error(`transitions need a length of at least 1 and at least 2 levels, got ${length} and ${levels}`);
    // a transition's code is its context length and its length + 1 bands, kept below 2^31
    if ((length + 1) * levels ** (length + 1) >= 2 ** 31) throw new Error(`transitions of ${length} steps over ${levels} levels do not fit a 31-bit code`);
    this.length = length;
    this.levels = levels;
    this.steps = steps;
    // at most `length` new transitions a step: a table at most half full never fills
    let size = 1;
    while (size < 2 * length * steps) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
  }

  /** whether the member still speaks for this stream */
  get active(): boolean {
    return this.table !== null;
  }

  /** Push a value; the share of its transitions never seen before, NaN until a whole context is there or after its steps. */
  update(x: number): number {
    if (!this.table) return Number.NaN;
    if (++this.seen > this.steps) {
      this.table = null;
      return Number.NaN;
    }
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const q = this.levels;
    const level = this.max > this.min ? Math.min(q - 1, Math.floor(((x - this.min) / (this.max - this.min)) * q)) : 0;
    const r = this.recent;
    let out = Number.NaN;
    if (r.length === this.length) {
      let unseen = 0;
      let context = 0;
      let scale = 1;
      for (let j = 1; j <= this.length; j++) {
        // the last j bands, the latest in the lowest digit, then the current band and j
        context += r[r.length - j]! * scale;
        scale *= q;
        if (this.insert((j * scale + context) * q + level)) unseen++;
      }
      out = unseen / this.length;
    }
    r.push(level);
    if (r.length > this.length) r.shift();
    return out;
  }

  /** adds a transition's code; true when it was not there */
  private insert(code: number): boolean {
    const t = this.table!;
    const key = code + 1; // 0 marks an empty slot
    for (let i = Math.imul(code, 0x9e3779b1) & this.mask; ; i = (i + 1) & this.mask) {
      if (t[i] === key) return false;
      if (t[i] === 0) {
        t[i] = key;
        return true;
      }
    }
  }
}
