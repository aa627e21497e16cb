// What both stores answer about anchors, by asking their anchors part (level-anchors.ts,
// pg-anchors.ts): SinkStore keeps the anchors' methods on the store, and this way each is written
// once rather than once per store.
import type { BatchHeader } from '../../protocol/batch.ts';
import type { AnchorRow } from './types.ts';

/** A store's anchors part: the anchors' side of SinkStore (types.ts), under shorter names. */
export interface AnchorsPart {
  withAnchorLock<T>(fn: () => Promise<T>): Promise<T | null>;
  withChainAccountLock<T>(fn: () => Promise<T>): Promise<T>;
  open(): Promise<AnchorRow | null>;
  latest(): Promise<AnchorRow | null>;
  create(max: number, now: number, build: (hashes: string[]) => string, admit?: (header: BatchHeader) => boolean): Promise<AnchorRow | null>;
  update(id: number, patch: Partial<AnchorRow>): Promise<void>;
  get(id: number): Promise<AnchorRow | null>;
  list(limit: number): Promise<AnchorRow[]>;
  leaves(id: number): Promise<string[]>;
  unanchoredDevices(max: number): Promise<string[]>;
  unanchoredCount(): Promise<number>;
}

export abstract class AnchoredStore {
  protected abstract readonly anchorsPart: AnchorsPart;

  withAnchorLock<T>(fn: () => Promise<T>): Promise<T | null> {
    return this.anchorsPart.withAnchorLock(fn);
  }

  withChainAccountLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.anchorsPart.withChainAccountLock(fn);
  }

  openAnchor(): Promise<AnchorRow | null> {
    return this.anchorsPart.open();
  }

  latestAnchor(): Promise<AnchorRow | null> {
    return this.anchorsPart.latest();
  }

  createAnchor(max: number, now: number, build: (hashes: string[]) => string, admit?: (header: BatchHeader) => boolean): Promise<AnchorRow | null> {
    return this.anchorsPart.create(max, now, build, admit);
  }

  updateAnchor(id: number, patch: Partial<AnchorRow>): Promise<void> {
    return this.anchorsPart.update(id, patch);
  }

  anchor(id: number): Promise<AnchorRow | null> {
    return this.anchorsPart.get(id);
  }

  anchors(limit: number): Promise<AnchorRow[]> {
    return this.anchorsPart.list(limit);
  }

  anchorLeaves(id: number): Promise<string[]> {
    return this.anchorsPart.leaves(id);
  }

  unanchoredDevices(max: number): Promise<string[]> {
    return this.anchorsPart.unanchoredDevices(max);
  }

  unanchoredCount(): Promise<number> {
    return this.anchorsPart.unanchoredCount();
  }
}
