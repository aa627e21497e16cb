// The LevelDB store's anchors: the accepted batches not yet under a root (u!, in acceptance
// order), the anchors with their leaves, and each anchored batch's place in its tree. One process
// holds a LevelDB store, so the locks that let several PostgreSQL sinks share a store are queues
// in this process here. Writes run in the store's write chain, after the batch commits queued
// before them.
import type { Level } from 'level';
import type { BatchHeader } from '../../protocol/batch.ts';
import type { AnchorsPart } from './anchored-store.ts';
import { K, type Op, type RowValue } from './level-keys.ts';
import { deviceOfChain } from './level-restarts.ts';
import { pad, type AnchorRow } from './types.ts';

export interface LevelAnchorsDeps {
  /** the store's database; throws while the store is closed */
  level: () => Level<string, string>;
  /** run `fn` in the store's write chain */
  serialized: <T>(fn: () => Promise<T>) => Promise<T>;
}

export class LevelAnchors implements AnchorsPart {
  private anchorSeq = 0;
  private anchorLock: Promise<unknown> = Promise.resolve();

  private readonly deps: LevelAnchorsDeps;

  constructor(deps: LevelAnchorsDeps) {
    this.deps = deps;
  }

  private get level(): Level<string, string> {
    return this.deps.level();
  }

  /** Read the anchor counter: when the store opens. */
  async load(): Promise<void> {
    this.anchorSeq = Number((await this.level.get(K.anchorCounter)) ?? 0);
  }

  async withAnchorLock<T>(fn: () => Promise<T>): Promise<T | null> {
    const run = this.anchorLock.then(fn);
    this.anchorLock = run.catch(() => undefined);
    return run;
  }

  /** One process holds a LevelDB store: the chain account's own queue in that process is enough. */
  async withChainAccountLock<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async open(): Promise<AnchorRow | null> {
    for await (const value of this.level.values({ gte: 'a!', lt: 'a!~', reverse: true, limit: 1 })) {
      const a = JSON.parse(value) as AnchorRow;
      return a.state === 'committed' ? null : a;
    }
    return null;
  }

  async latest(): Promise<AnchorRow | null> {
    for await (const value of this.level.values({ gte: 'a!', lt: 'a!~', reverse: true, limit: 1 })) return JSON.parse(value) as AnchorRow;
    return null;
  }

  create(max: number, now: number, build: (hashes: string[]) => string, admit?: (header: BatchHeader) => boolean): Promise<AnchorRow | null> {
    return this.deps.serialized(async () => {
      const members: { acceptKey: string; device: string; batch: number }[] = [];
      for await (const [key, value] of this.level.iterator({ gte: 'u!', lt: 'u!~', limit: max })) {
        const i = value.lastIndexOf('!');
        members.push({ acceptKey: key, device: value.slice(0, i), batch: Number(value.slice(i + 1)) });
      }
      const id = this.anchorSeq + 1;
      const hashes: string[] = [];
      let firstTs = Infinity;
      let lastTs = -Infinity;
      const ops: Op[] = [];
      for (const m of members) {
        const row = JSON.parse((await this.level.get(K.row(m.device, m.batch)))!) as RowValue;
        if (admit && !admit(row.header)) continue;
        const i = hashes.length;
        hashes.push(row.hash);
        firstTs = Math.min(firstTs, row.header.created);
        lastTs = Math.max(lastTs, row.header.created);
        ops.push(
          { type: 'put', key: K.leaf(id, i), value: row.hash },
          { type: 'put', key: K.membership(m.device, m.batch), value: `${id}:${i}` },
          { type: 'del', key: m.acceptKey },
        );
      }
      if (hashes.length === 0) return null;
      const anchor: AnchorRow = {
        id, root: build(hashes), size: hashes.length, firstTs, lastTs, createdAt: now, state: 'pending',
        chain: null, module: null, sender: null, tx: null, version: null, detail: {},
      };
      ops.push({ type: 'put', key: K.anchor(id), value: JSON.stringify(anchor) }, { type: 'put', key: K.anchorCounter, value: String(id) });
      await this.level.batch(ops, { sync: true });
      this.anchorSeq = id;
      return anchor;
    });
  }

  update(id: number, patch: Partial<AnchorRow>): Promise<void> {
    return this.deps.serialized(async () => {
      const text = await this.level.get(K.anchor(id));
      if (!text) throw new Error(`anchor ${id} does not exist`);
      const a = { ...(JSON.parse(text) as AnchorRow), ...patch };
      await this.level.put(K.anchor(id), JSON.stringify(a), { sync: true });
    });
  }

  async get(id: number): Promise<AnchorRow | null> {
    const text = await this.level.get(K.anchor(id));
    return text ? (JSON.parse(text) as AnchorRow) : null;
  }

  async list(limit: number): Promise<AnchorRow[]> {
    const out: AnchorRow[] = [];
    for await (const value of this.level.values({ gte: 'a!', lt: 'a!~', reverse: true, limit })) out.push(JSON.parse(value) as AnchorRow);
    return out;
  }

  async leaves(id: number): Promise<string[]> {
    const out: string[] = [];
    for await (const value of this.level.values({ gte: `al!${pad(id)}!`, lt: `al!${pad(id)}!~` })) out.push(value);
    return out;
  }

  async unanchoredDevices(max: number): Promise<string[]> {
    const devices = new Set<string>();
    for await (const value of this.level.values({ gte: 'u!', lt: 'u!~', limit: max })) devices.add(deviceOfChain(value.slice(0, value.lastIndexOf('!'))));
    return [...devices];
  }

  async unanchoredCount(): Promise<number> {
    let n = 0;
    for await (const _ of this.level.keys({ gte: 'u!', lt: 'u!~' })) n++;
    return n;
  }
}
