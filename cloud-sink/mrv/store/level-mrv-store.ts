// The MRV index and notes in the sink's LevelDB, under keys of their own (prefix v!). LevelDB
// serves one process, so the device lock is a promise chain here.
import type { Level } from 'level';
import { pad } from '../../store/types.ts';
import { noteId, type OperatorNote } from '../notes.ts';
import type {
  ChunkEntry, EpochTallies, GapEntry, IndexedThrough, IndexProgress, IndexSession, MrvStore, PlanEntry, PrunedEntry, UnplannedTally,
} from './types.ts';

/** Epoch 1 keeps the keys of a store from before epochs; a later epoch's sort after them ('e' > digits). */
const inEpoch = (epoch: number | undefined, n: number) => (epoch === undefined || epoch === 1 ? pad(n) : `e${pad(epoch, 6)}!${pad(n)}`);

const K = {
  progress: (d: string) => `v!p!${d}`,
  dir: (d: string, s: string, m: string, c: number) => `v!d!${d}!${s}!${m}!${pad(c, 10)}`,
  dirRange: (d: string, s: string, m: string) => ({ gte: `v!d!${d}!${s}!${m}!`, lt: `v!d!${d}!${s}!${m}!~` }),
  chunk: (d: string, s: string, m: string, c: number) => `v!c!${d}!${s}!${m}!${pad(c, 10)}`,
  plan: (d: string, epoch: number | undefined, seq: number) => `v!plan!${d}!${inEpoch(epoch, seq)}`,
  gap: (d: string, epoch: number | undefined, seq: number) => `v!gap!${d}!${inEpoch(epoch, seq)}`,
  pruned: (d: string, epoch: number | undefined, b: number) => `v!prune!${d}!${inEpoch(epoch, b)}`,
  unplanned: (d: string, s: string, day: number) => `v!un!${d}!${s}!${pad(day)}`,
  note: (d: string, id: string) => `v!note!${d}!${id}`,
  range: (prefix: string) => ({ gte: prefix, lt: `${prefix}~` }),
};

export class LevelMrvStore implements MrvStore {
  private readonly locks = new Map<string, Promise<unknown>>();

  private readonly level: () => Level<string, string>;

  constructor(level: () => Level<string, string>) {
    this.level = level;
  }

  async indexSession<T>(device: string, fn: (s: IndexSession) => Promise<T>): Promise<T> {
    const before = this.locks.get(device) ?? Promise.resolve();
    const run = before.then(() => fn(this.session(device)));
    const settled = run.catch(() => undefined);
    this.locks.set(device, settled);
    void settled.then(() => {
      if (this.locks.get(device) === settled) this.locks.delete(device);
    });
    return run;
  }

  private session(device: string): IndexSession {
    const db = this.level();
    return {
      progress: async () => {
        const text = await db.get(K.progress(device));
        return text ? (JSON.parse(text) as IndexProgress) : null;
      },
      chunkData: async (sensor, metric, chunk) => {
        const text = await db.get(K.chunk(device, sensor, metric, chunk));
        return text === undefined ? null : Buffer.from(text, 'base64');
      },
      chunkHolding: async (sensor, metric, ts) => {
        const entry = (await this.directory(device, sensor, metric)).find((c) => c.minTs <= ts && ts <= c.maxTs);
        return entry ? ((await this.chunks(device, sensor, metric, [entry.chunk])).get(entry.chunk) ?? null) : null;
      },
      commit: async (progress, write) => {
        const ops: { type: 'put'; key: string; value: string }[] = [];
        for (const c of write.chunks) {
          ops.push({ type: 'put', key: K.dir(device, c.sensor, c.metric, c.chunk), value: JSON.stringify({ chunk: c.chunk, minTs: c.minTs, maxTs: c.maxTs, count: c.count, summary: c.summary }) });
          ops.push({ type: 'put', key: K.chunk(device, c.sensor, c.metric, c.chunk), value: c.data.toString('base64') });
        }
        for (const p of write.plans) ops.push({ type: 'put', key: K.plan(device, p.epoch, p.seq), value: JSON.stringify(p) });
        for (const g of write.gaps) ops.push({ type: 'put', key: K.gap(device, g.epoch, g.seq), value: JSON.stringify(g) });
        for (const p of write.pruned) ops.push({ type: 'put', key: K.pruned(device, p.epoch, p.batch), value: JSON.stringify(p) });
        for (const u of await this.mergeUnplanned(device, write.unplanned)) ops.push({ type: 'put', key: K.unplanned(device, u.sensor, u.day), value: JSON.stringify(u) });
        ops.push({ type: 'put', key: K.progress(device), value: JSON.stringify(progress) });
        await db.batch(ops, { sync: true });
      },
    };
  }

  private async mergeUnplanned(device: string, tallies: UnplannedTally[]): Promise<UnplannedTally[]> {
    const merged = new Map<string, UnplannedTally>();
    for (const t of tallies) {
      const key = K.unplanned(device, t.sensor, t.day);
      let held = merged.get(key);
      if (!held) {
        const text = await this.level().get(key);
        held = text ? (JSON.parse(text) as UnplannedTally) : { ...t, count: 0, minTs: t.minTs, maxTs: t.maxTs };
        merged.set(key, held);
      }
      held.count += t.count;
      held.minTs = Math.min(held.minTs, t.minTs);
      held.maxTs = Math.max(held.maxTs, t.maxTs);
    }
    return [...merged.values()];
  }

  private async progressOf(device: string): Promise<IndexProgress | null> {
    const text = await this.level().get(K.progress(device));
    return text ? (JSON.parse(text) as IndexProgress) : null;
  }

  async indexedThrough(device: string): Promise<IndexedThrough> {
    const p = await this.progressOf(device);
    return { epoch: p?.epoch ?? 1, batch: p?.batch ?? 0 };
  }

  async epochTallies(device: string): Promise<EpochTallies> {
    const state = (await this.progressOf(device))?.state;
    return { carried: state?.carried ?? {}, outOfOrder: state?.outOfOrder ?? {} };
  }

  async directory(device: string, sensor: string, metric: string): Promise<ChunkEntry[]> {
    const out: ChunkEntry[] = [];
    for await (const v of this.level().values(K.dirRange(device, sensor, metric))) out.push(JSON.parse(v) as ChunkEntry);
    return out;
  }

  async chunks(device: string, sensor: string, metric: string, chunkNos: number[]): Promise<Map<number, Buffer>> {
    const values = await this.level().getMany(chunkNos.map((c) => K.chunk(device, sensor, metric, c)));
    const out = new Map<number, Buffer>();
    chunkNos.forEach((c, i) => {
      const v = values[i];
      if (v !== undefined) out.set(c, Buffer.from(v, 'base64'));
    });
    return out;
  }

  private async all<T>(prefix: string): Promise<T[]> {
    const out: T[] = [];
    for await (const v of this.level().values(K.range(prefix))) out.push(JSON.parse(v) as T);
    return out;
  }

  plans(device: string): Promise<PlanEntry[]> {
    return this.all<PlanEntry>(`v!plan!${device}!`);
  }

  gaps(device: string): Promise<GapEntry[]> {
    return this.all<GapEntry>(`v!gap!${device}!`);
  }

  pruned(device: string): Promise<PrunedEntry[]> {
    return this.all<PrunedEntry>(`v!prune!${device}!`);
  }

  async unplanned(device: string, fromTs: number, toTs: number): Promise<UnplannedTally[]> {
    return (await this.all<UnplannedTally>(`v!un!${device}!`)).filter((u) => u.maxTs >= fromTs && u.minTs < toTs);
  }

  async addNote(note: OperatorNote): Promise<boolean> {
    const key = K.note(note.device, noteId(note));
    if ((await this.level().get(key)) !== undefined) return false;
    await this.level().put(key, JSON.stringify(note), { sync: true });
    return true;
  }

  async notes(device: string): Promise<OperatorNote[]> {
    return (await this.all<OperatorNote>(`v!note!${device}!`)).sort((a, b) => a.at - b.at);
  }
}
