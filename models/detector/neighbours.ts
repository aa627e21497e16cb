// Nearest-neighbour novelty of the recent shape of a stream: the last `length` readings are
// compared with every earlier stretch of the same length in the last `memory` readings, and the
// distance to the closest one (root mean square, in units of the stream's current spread) is the
// non-conformity. A shape the stream has produced before scores low however large it is; a shape
// never seen scores high. Stretches that overlap the current one are skipped: they would match
// any smooth signal trivially. O(length x memory) per reading, with early abandoning.

export class NeighbourNovelty {
  private readonly ring: Float64Array;
  private head = 0;
  private filled = 0;

  private readonly length: number;
  private readonly memory: number;

  constructor(
    length: number,
    memory: number,
  ) {
    this.length = length;
    this.memory = memory;
    this.ring = new Float64Array(memory + 2 * length);
  }

  /** Push a reading; returns the novelty of the latest `length` readings, NaN until there is history. */
  update(x: number, scale: number): number {
    const ring = this.ring;
    const size = ring.length;
    ring[this.head] = x;
    this.head = (this.head + 1) % size;
    if (this.filled < size) this.filled++;
    const L = this.length;
    const candidates = Math.min(this.memory, this.filled - 2 * L + 1);
    if (candidates < 10) return Number.NaN;
    const last = this.head - 1 + size; // index of x, kept positive for the modulo below
    let best = Number.POSITIVE_INFINITY;
    for (let lag = L; lag < L + candidates; lag++) {
      let d = 0;
      for (let i = 0; i < L && d < best; i++) {
        const a = ring[(last - i) % size]!;
        const b = ring[(last - lag - i) % size]!;
        d += (a - b) * (a - b);
      }
      if (d < best) best = d;
    }
    const rms = Math.sqrt(best / L);
    if (scale > 0) return Math.min(rms / scale, 20);
    return rms === 0 ? 0 : 20;
  }
}
