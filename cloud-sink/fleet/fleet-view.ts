// The fleet as an operator needs to see it (GET /v1/fleet): per registered device its last batch,
// the backlog it last reported, its last anchor, its clock, its equivocations and the batches the
// sink refused under its name, sorted so that the devices that need a look come first.
//
// What the store holds (the last batch, anchors, equivocations) is read from it, so that a
// restarted sink shows the same; what only passes by (the reported backlog, refusals) is kept in
// memory, one entry per registered device at most, and starts afresh with the sink.
import { epochOf, type BatchHeader } from '../../protocol/batch.ts';
import type { DeviceRegistry } from '../registry.ts';
import type { AnchorRow, SinkStore } from '../store/types.ts';
import { clockOf, type ClockState } from './device-reports.ts';

export interface FleetAnchor {
  id: number;
  state: AnchorRow['state'];
  /** when the anchor was built, and when its transaction committed (null until then) */
  createdAt: number;
  committedAt: number | null;
  batch: number;
}

export type Attention = 'equivocation' | 'refused' | 'silent' | 'behind' | 'clock';

export interface FleetDevice {
  device: string;
  lastBatch: number;
  /** when the sink stored the last batch, and when the device signed it (its own clock) */
  lastBatchAt: number | null;
  lastCreated: number | null;
  backlog: number | null;
  backlogAt: number | null;
  lastAnchor: FleetAnchor | null;
  clock: ClockState;
  equivocations: number;
  refusals: Record<string, number>;
  /** why the device needs a look, most pressing first; empty when it does not */
  attention: Attention[];
}

export interface FleetSnapshot {
  at: number;
  silentAfterMs: number;
  backlogWarnRecords: number;
  devices: FleetDevice[];
}

export interface FleetViewDeps {
  store: SinkStore;
  registry: DeviceRegistry;
  silentAfterMs: number;
  backlogWarnRecords: number;
  now?: () => number;
}

interface DeviceState {
  /** when the last batch was last read from the store (0: never) */
  loadedAt: number;
  /** the recovery epoch of lastBatch: batch numbers count from 1 again in each */
  lastEpoch: number;
  lastBatch: number;
  lastBatchAt: number | null;
  lastCreated: number | null;
  clock: ClockState;
  backlog: number | null;
  backlogAt: number | null;
  refusals: Map<string, number>;
  /** the last batch known to be anchored (in anchoredEpoch), its anchor, and the head it was searched up to */
  anchoredEpoch: number;
  anchoredBatch: number;
  anchorId: number | null;
  /** epoch:batch */
  anchorSearchedTo: string;
  anchorSearchEpoch: string;
}

const RANK: Record<Attention, number> = { equivocation: 0, refused: 1, silent: 2, behind: 3, clock: 4 };

/**
 * How often the last batch is read from the store again: this process notes what it stores as it
 * happens, but another sink process over the same database stores batches too.
 */
const RELOAD_MS = 10_000;

export class FleetView {
  private readonly states = new Map<string, DeviceState>();
  private readonly anchors = new Map<number, AnchorRow>();
  /** bumped on every change the view shows; a live feed compares it */
  version = 0;

  private readonly deps: FleetViewDeps;

  constructor(deps: FleetViewDeps) {
    this.deps = deps;
  }

  /** A batch the sink stored; `backlog` is what the device reported with it (null when it did not). */
  noteStored(header: BatchHeader, receivedAt: number, backlog: number | null): void {
    const st = this.state(header.device);
    if (!st) return;
    const epoch = epochOf(header);
    if (epoch > st.lastEpoch || (epoch === st.lastEpoch && header.batch >= st.lastBatch)) {
      Object.assign(st, { lastEpoch: epoch, lastBatch: header.batch, lastBatchAt: receivedAt, lastCreated: header.created, clock: clockOf(header) });
    }
    if (backlog !== null) {
      st.backlog = backlog;
      st.backlogAt = receivedAt;
    }
    this.version++;
  }

  /** A batch refused under the name of a registered device (a signed one or not: counted all the same). */
  noteRefused(device: string, reason: string): void {
    const st = this.state(device);
    if (!st) return;
    st.refusals.set(reason, (st.refusals.get(reason) ?? 0) + 1);
    this.version++;
  }

  async snapshot(): Promise<FleetSnapshot> {
    const { store, registry, silentAfterMs, backlogWarnRecords } = this.deps;
    const now = (this.deps.now ?? Date.now)();
    const latest = await store.latestAnchor();
    const epoch = latest ? `${latest.id}:${latest.state}` : 'none';
    const equivocations = new Map<string, number>();
    for (const e of await store.equivocations()) equivocations.set(e.device, (equivocations.get(e.device) ?? 0) + 1);
    const devices: FleetDevice[] = [];
    for (const { id } of registry.list()) {
      const st = this.state(id)!;
      if (now - st.loadedAt > RELOAD_MS) await this.load(id, st, now);
      const lastAnchor = await this.lastAnchor(id, st, epoch);
      const refusals = Object.fromEntries([...st.refusals].sort(([a], [b]) => (a < b ? -1 : 1)));
      const d: FleetDevice = {
        device: id, lastBatch: st.lastBatch, lastBatchAt: st.lastBatchAt, lastCreated: st.lastCreated,
        backlog: st.backlog, backlogAt: st.backlogAt, lastAnchor, clock: st.clock,
        equivocations: equivocations.get(id) ?? 0, refusals, attention: [],
      };
      if (d.equivocations > 0) d.attention.push('equivocation');
      if (st.refusals.size > 0) d.attention.push('refused');
      if (d.lastBatchAt === null || now - d.lastBatchAt > silentAfterMs) d.attention.push('silent');
      if (d.backlog !== null && d.backlog > backlogWarnRecords) d.attention.push('behind');
      if (d.clock.state === 'unsynced') d.attention.push('clock');
      devices.push(d);
    }
    devices.sort(byNeed);
    return { at: now, silentAfterMs, backlogWarnRecords, devices };
  }

  private state(device: string): DeviceState | null {
    let st = this.states.get(device);
    if (st) return st;
    // Only registered devices get an entry: a name anyone may put in a request costs nothing here.
    if (!this.deps.registry.has(device)) return null;
    st = {
      loadedAt: 0, lastEpoch: 1, lastBatch: 0, lastBatchAt: null, lastCreated: null, clock: { state: 'unknown' }, backlog: null, backlogAt: null,
      refusals: new Map(), anchoredEpoch: 1, anchoredBatch: 0, anchorId: null, anchorSearchedTo: '', anchorSearchEpoch: '',
    };
    this.states.set(device, st);
    return st;
  }

  /** The last stored batch, from the store (this process's own arrive through noteStored as well). */
  private async load(device: string, st: DeviceState, now: number): Promise<void> {
    const head = await this.deps.store.head(device);
    const ahead = head.epoch > st.lastEpoch || (head.epoch === st.lastEpoch && head.batch > st.lastBatch);
    if (ahead && head.batch > 0) {
      const row = await this.deps.store.batch(device, head.batch, head.epoch);
      if (row) Object.assign(st, { lastEpoch: head.epoch, lastBatch: head.batch, lastBatchAt: row.receivedAt, lastCreated: row.header.created, clock: clockOf(row.header) });
    }
    st.loadedAt = now;
  }

  /**
   * The anchor of the device's latest anchored batch. Anchors take batches in the order they were
   * accepted, so a device's anchored batches come before its unanchored ones: a binary search from
   * the last one found, run again only when the head or the latest anchor changed.
   */
  private async lastAnchor(device: string, st: DeviceState, epoch: string): Promise<FleetAnchor | null> {
    const { store } = this.deps;
    const searchTo = `${st.lastEpoch}:${st.lastBatch}`;
    if (st.anchorSearchedTo !== searchTo || st.anchorSearchEpoch !== epoch) {
      // searched within the epoch of the last batch; until one of it is anchored, the earlier
      // epoch's last anchored batch stays the answer
      let lo = st.anchoredEpoch === st.lastEpoch ? st.anchoredBatch : 0; // anchored (or 0)
      let hi = st.lastBatch + 1; // not known to be anchored
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        const row = await store.batch(device, mid, st.lastEpoch);
        if (row?.anchorId != null) lo = mid;
        else hi = mid;
      }
      if (lo > 0 || st.anchoredEpoch === st.lastEpoch) {
        st.anchoredEpoch = st.lastEpoch;
        st.anchoredBatch = lo;
        st.anchorId = lo === 0 ? null : ((await store.batch(device, lo, st.lastEpoch))?.anchorId ?? null);
      }
      st.anchorSearchedTo = searchTo;
      st.anchorSearchEpoch = epoch;
    }
    if (st.anchorId === null) return null;
    const a = await this.anchor(st.anchorId);
    if (!a) return null;
    return { id: a.id, state: a.state, createdAt: a.createdAt, committedAt: a.detail.committedAt ?? null, batch: st.anchoredBatch };
  }

  /** Anchor rows, kept once committed (nothing changes them after); the few others read again. */
  private async anchor(id: number): Promise<AnchorRow | null> {
    const held = this.anchors.get(id);
    if (held) return held;
    const a = await this.deps.store.anchor(id);
    if (a?.state === 'committed') {
      if (this.anchors.size >= 256) this.anchors.delete(this.anchors.keys().next().value!);
      this.anchors.set(id, a);
    }
    return a;
  }
}

/** Most pressing reason first; among equals, the longest silent; then by name. */
function byNeed(a: FleetDevice, b: FleetDevice): number {
  const ra = a.attention.length ? RANK[a.attention[0]!] : 9;
  const rb = b.attention.length ? RANK[b.attention[0]!] : 9;
  if (ra !== rb) return ra - rb;
  const sa = a.lastBatchAt ?? -1;
  const sb = b.lastBatchAt ?? -1;
  if (sa !== sb) return sa - sb;
  return a.device < b.device ? -1 : a.device > b.device ? 1 : 0;
}
