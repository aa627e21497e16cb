// The LevelDB store's keys for recovery epochs: the restarts devices asked for (pending until an
// admin accepts one), and one equivocation report per conflicting pair however often a batch is
// offered again, up to a bound per chain. Each write here runs inside the store's write chain (level-store.ts serialized).
//
//   rs!<device>!<epoch>                    a RestartRow
//   ep!<chain>!<batch>!<offered hash>      present once the pair is reported (its report: e!...)
import type { Level } from 'level';
import { headerHash } from '../../protocol/batch.ts';
import type { AcceptRestartOutcome, EquivocationReport, Head, RestartRow } from './types.ts';
import { pad } from './types.ts';

/**
 * The key of one chain of a device: its name for epoch 1, `name@N` for epoch N. `@` is not allowed
 * in a device name, so no chain key of one device is the name of another.
 */
export function chainKey(device: string, epoch: number): string {
  return epoch === 1 ? device : `${device}@${epoch}`;
}

export function deviceOfChain(chain: string): string {
  const at = chain.indexOf('@');
  return at < 0 ? chain : chain.slice(0, at);
}

/** The header hash of a batch the store holds, or null. */
export type HashOf = (device: string, batch: number, epoch: number) => Promise<string | null>;

const restartKey = (device: string, epoch: number) => `rs!${device}!${pad(epoch, 6)}`;
const pairKey = (r: EquivocationReport) => `ep!${chainKey(r.device, r.epoch)}!${pad(r.batch)}!${r.offeredHash}`;

export class LevelRestarts {
  private readonly level: () => Level<string, string>;

  constructor(level: () => Level<string, string>) {
    this.level = level;
  }

  async reportEquivocation(reportKey: string, r: EquivocationReport, maxPerChain: number): Promise<'new' | 'known' | 'full'> {
    const db = this.level();
    if ((await db.get(pairKey(r))) !== undefined) return 'known';
    const chain = `ep!${chainKey(r.device, r.epoch)}!`;
    let kept = 0;
    for await (const _ of db.keys({ gte: chain, lt: `${chain}~`, limit: maxPerChain })) kept++;
    if (kept >= maxPerChain) return 'full';
    await db.batch([
      { type: 'put', key: reportKey, value: JSON.stringify(r) },
      { type: 'put', key: pairKey(r), value: reportKey },
    ], { sync: true });
    return 'new';
  }

  async note(r: RestartRow): Promise<boolean> {
    const db = this.level();
    const text = await db.get(restartKey(r.device, r.epoch));
    if (text !== undefined && !supersedes(r, JSON.parse(text) as RestartRow)) return false;
    await db.put(restartKey(r.device, r.epoch), JSON.stringify(r), { sync: true });
    return true;
  }

  async list(device?: string): Promise<RestartRow[]> {
    const range = device === undefined ? { gte: 'rs!', lt: 'rs!~' } : { gte: `rs!${device}!`, lt: `rs!${device}!~` };
    const out: RestartRow[] = [];
    for await (const value of this.level().values(range)) out.push(JSON.parse(value) as RestartRow);
    return out;
  }

  async acceptedEpochs(device: string): Promise<number[]> {
    return (await this.list(device)).filter((r) => r.acceptedAt !== null).map((r) => r.epoch);
  }

  async accept(device: string, epoch: number, now: number, head: Head, hashOf: HashOf, headKey: string): Promise<AcceptRestartOutcome> {
    const db = this.level();
    const text = await db.get(restartKey(device, epoch));
    if (text === undefined) return { status: 'not_pending', reason: `device ${device} has asked for no epoch ${epoch}` };
    const r = JSON.parse(text) as RestartRow;
    const problem = await acceptanceProblem(r, head, hashOf);
    if (problem) return { status: 'not_pending', reason: problem };
    const next: Head = { epoch, batch: 0, hash: r.from.hash, last: 0 };
    await db.batch([
      { type: 'put', key: restartKey(device, epoch), value: JSON.stringify({ ...r, acceptedAt: now }) },
      { type: 'put', key: headKey, value: JSON.stringify(next) },
    ], { sync: true });
    return { status: 'accepted', head: next };
  }
}

/**
 * A restart replaces the one noted for the same epoch only while that one is pending and is
 * another batch: the device lost its journal again before the admin looked, and its latest word
 * is the one it will send. An accepted restart is never replaced.
 */
export function supersedes(offered: RestartRow, noted: RestartRow): boolean {
  return noted.acceptedAt === null && headerHash(noted.header) !== headerHash(offered.header);
}

/** Why a noted restart cannot become the device's epoch now (both stores ask the same). */
export async function acceptanceProblem(r: RestartRow, head: Head, hashOf: HashOf): Promise<string | null> {
  if (r.acceptedAt !== null) return `epoch ${r.epoch} of ${r.device} was accepted already`;
  if (r.epoch <= head.epoch) return `device ${r.device} is in epoch ${head.epoch} already; epoch ${r.epoch} cannot follow it`;
  if ((await hashOf(r.device, r.from.batch, r.from.epoch)) !== r.from.hash) return `the sink does not hold batch ${r.from.batch} of epoch ${r.from.epoch} with the hash the restart names`;
  return null;
}
