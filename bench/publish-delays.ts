// What the broker publisher benches (sparkplug, cloud-telemetry) share: a journal with the daemon's
// commit settings whose commits are timed (the moment a reading is accepted, before any
// publisher's listener sees it), and the delay figures they print.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { percentile } from '../kernel/percentile.ts';
import { generateKey } from '../protocol/signature.ts';
import { journalSchema } from '../runtime/journal/config.ts';
import { Journal } from '../runtime/journal/journal.ts';

/** A journal in `dir`, and `acceptedAt`: seq to performance.now() at its commit, for the first `limit` records after each clear(). */
export async function timedJournal(dir: string, log: Logger, limit: number): Promise<{ journal: Journal; acceptedAt: Map<number, number> }> {
  const journal = await Journal.open({ dir, device: 'bench', key: generateKey(), log, commitMaxWaitMs: journalSchema.parse({}).commitMaxWaitMs });
  // registered before the publisher's listener: the moment a reading is accepted
  const acceptedAt = new Map<number, number>();
  journal.onCommitted((records) => {
    const t = performance.now();
    for (const r of records) if (acceptedAt.size < limit) acceptedAt.set(r.seq, t);
  });
  return { journal, acceptedAt };
}

/** samples, p50_ms, p99_ms and max_ms of `delays` (ms), to the microsecond. */
export function delayFigures(delays: number[]) {
  const sorted = [...delays].sort((x, y) => x - y);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return { samples: sorted.length, p50_ms: r3(percentile(sorted, 50)), p99_ms: r3(percentile(sorted, 99)), max_ms: r3(sorted.at(-1) ?? 0) };
}
