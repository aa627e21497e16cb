// LoRaWAN state that must outlive a restart, in a LevelDB of its own under <dataDir>/gateway/:
// each device's session (address, keys, frame counters, the MIC of the last uplink for duplicate
// detection) and every DevNonce an OTAA device has used (LoRaWAN 1.0.x refuses a nonce twice, or
// a recorded JoinRequest could be replayed to reset a session).
//
// Keys: `s:<device id>` -> session JSON (address, keys; written on a join or a config change),
// `c:<device id>` -> its counters, "sid fCntUp fCntDown lastMic lastUplinkAt" (written after uplinks,
// so kept small), `n:<devEui>:<nonce as 4 hex>` -> join time.
//
// Durability: a new session (a join) and a used DevNonce are synced before the JoinAccept goes out.
// Frame counters are written in coalesced, synced batches within 200 ms of an uplink and on every
// stop; after a power cut, frames of those last 200 ms could be accepted once more.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Level } from 'level';
import { LevelOpenError, openLevel } from '../kernel/level-open.ts';
import type { Logger } from 'pino';

export interface StoredSession {
  deviceId: string;
  /** made anew with each session, so that counters of an earlier session are never applied to it */
  sid: string;
  activation: 'abp' | 'otaa';
  devAddr: string;
  nwkSKey: string;
  appSKey: string;
  /** last accepted uplink counter (32 bits), -1 before the first */
  fCntUp: number;
  /** next downlink counter */
  fCntDown: number;
  /** MIC of the last accepted uplink: the same frame heard again is a duplicate, not a replay */
  lastMic: number | null;
  lastUplinkAt: number | null;
  joinedAt?: number;
  devNonce?: number;
}

export class SessionStoreError extends Error {
  override name = 'SessionStoreError';
}

export class SessionStore {
  private db: Level<string, string> | null = null;
  private dirty = new Map<string, StoredSession>();
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;

  private readonly dataDir: string;
  private readonly log: Logger;
  /** longest a counter change waits before it is written */
  private readonly flushDelayMs: number;

  constructor(
    dataDir: string,
    log: Logger,
    flushDelayMs = 200,
  ) {
    this.dataDir = dataDir;
    this.log = log;
    this.flushDelayMs = flushDelayMs;
  }

  get path(): string {
    return join(this.dataDir, 'gateway');
  }

  async open(): Promise<void> {
    let db: Level<string, string>;
    try {
      db = await openLevel(this.path);
    } catch (err) {
      throw new SessionStoreError(err instanceof LevelOpenError && err.locked
        ? `${this.path} is in use by another fieldproof process`
        : `cannot open the gateway session store ${this.path}: ${(err as Error).message}`);
    }
    this.db = db;
  }

  async loadSessions(): Promise<Map<string, StoredSession>> {
    const out = new Map<string, StoredSession>();
    const db = this.requireDb();
    for await (const [key, value] of db.iterator({ gte: 's:', lt: 's;' })) {
      try {
        const s = JSON.parse(value) as StoredSession;
        out.set(s.deviceId, s);
      } catch {
        this.log.error({ key }, 'unreadable gateway session record; the device must join again');
      }
    }
    for await (const [key, value] of db.iterator({ gte: 'c:', lt: 'c;' })) {
      const s = out.get(key.slice(2));
      const c = parseCounters(value);
      if (!s || !c) continue;
      // A counter write of the previous session can land after a join's write: it names its session.
      if (c.sid === s.sid) Object.assign(s, c.counters);
    }
    return out;
  }

  /**
   * Queue a session for the next write. Writes are coalesced: at most one in flight, started at
   * most `flushDelayMs` after the first change, so that a device sending many uplinks costs one
   * write per interval rather than one per uplink. stop() and flush() write whatever is queued.
   */
  markDirty(session: StoredSession): void {
    this.dirty.set(session.deviceId, session);
    if (this.flushing || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      if (!this.flushing) this.flushing = this.flushLoop();
    }, this.flushDelayMs);
  }

  /** Write a session now and wait for it to be on disk (joins: the new keys must survive a crash). */
  async saveNow(session: StoredSession): Promise<void> {
    this.dirty.delete(session.deviceId);
    await this.requireDb().batch([
      { type: 'put', key: `s:${session.deviceId}`, value: JSON.stringify(session) },
      { type: 'put', key: `c:${session.deviceId}`, value: formatCounters(session) },
    ], { sync: true });
  }

  async delete(deviceId: string): Promise<void> {
    this.dirty.delete(deviceId);
    await this.requireDb().batch([{ type: 'del', key: `s:${deviceId}` }, { type: 'del', key: `c:${deviceId}` }], { sync: true });
  }

  /** One synced write of everything queued; what queues up meanwhile waits for the next interval. */
  private async flushLoop(): Promise<void> {
    let failed = false;
    try {
      if (this.dirty.size === 0 || !this.db) return;
      const batch = [...this.dirty.values()];
      this.dirty = new Map();
      // Counters now, so later changes go in the next write; a few hundred at a time,
      // so that a site with thousands of busy devices does not hold up the event loop.
      const ops: { type: 'put'; key: string; value: string }[] = [];
      for (let i = 0; i < batch.length; i++) {
        const s = batch[i]!;
        ops.push({ type: 'put', key: `c:${s.deviceId}`, value: formatCounters(s) });
        if (i % 256 === 255) await new Promise<void>((r) => setImmediate(r));
      }
      try {
        await this.db.batch(ops, { sync: true });
      } catch (err) {
        failed = true;
        this.log.error({ err: (err as Error).message, sessions: batch.length }, 'could not save gateway sessions; retrying');
        for (const s of batch) if (!this.dirty.has(s.deviceId)) this.dirty.set(s.deviceId, s);
      }
    } finally {
      this.flushing = null;
      if (this.dirty.size > 0 && this.db && !this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = null;
          if (!this.flushing) this.flushing = this.flushLoop();
        }, failed ? 1000 : this.flushDelayMs);
      }
    }
  }

  /** Write every queued session now and wait for it; throws when the disk refuses (after a few tries). */
  async flush(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.flushing) await this.flushing;
      if (this.flushTimer) {
        clearTimeout(this.flushTimer);
        this.flushTimer = null;
      }
      if (this.dirty.size === 0 || !this.db) return;
      if (attempt === 3) throw new SessionStoreError(`could not write ${this.dirty.size} gateway session(s) to ${this.path}`);
      this.flushing = this.flushLoop();
    }
  }

  /** Record a DevNonce as used. Returns false (and records nothing) when it was used before. */
  async useNonce(devEui: string, nonce: number, at: number): Promise<boolean> {
    const db = this.requireDb();
    const key = `n:${devEui}:${nonce.toString(16).padStart(4, '0')}`;
    if ((await db.get(key)) !== undefined) return false;
    await db.put(key, String(at), { sync: true });
    return true;
  }

  async noncesUsed(devEui: string): Promise<number> {
    let n = 0;
    for await (const _ of this.requireDb().keys({ gte: `n:${devEui}:`, lt: `n:${devEui};` })) n++;
    return n;
  }

  async close(): Promise<void> {
    await this.flush();
    const db = this.db;
    this.db = null;
    await db?.close();
  }

  private requireDb(): Level<string, string> {
    if (!this.db) throw new SessionStoreError('gateway session store is not open');
    return this.db;
  }
}

type Counters = Pick<StoredSession, 'fCntUp' | 'fCntDown' | 'lastMic' | 'lastUplinkAt'>;

function formatCounters(s: StoredSession): string {
  return `${s.sid} ${s.fCntUp} ${s.fCntDown} ${s.lastMic ?? '-'} ${s.lastUplinkAt ?? '-'}`;
}

function parseCounters(v: string): { sid: string; counters: Counters } | null {
  const [sid, up, down, mic, at] = v.split(' ');
  const num = (x: string | undefined) => (x === undefined || x === '-' ? null : Number(x));
  const fCntUp = num(up);
  const fCntDown = num(down);
  if (!sid || fCntUp === null || fCntDown === null || !Number.isSafeInteger(fCntUp) || !Number.isSafeInteger(fCntDown)) return null;
  return { sid, counters: { fCntUp, fCntDown, lastMic: num(mic), lastUplinkAt: num(at) } };
}

/** A fresh session id. */
export function newSessionId(): string {
  return randomBytes(6).toString('hex');
}
