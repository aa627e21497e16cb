// The LevelDB store's key layout, shared by the store (level-store.ts) and its anchors
// (level-anchors.ts): numbers are padded (types.ts pad) so that LevelDB's byte order is numeric
// order. Recovery epochs keep their own keys (level-restarts.ts).
import { pad, type StoredBatchRow } from './types.ts';

export type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** A stored batch's row as kept under K.row; its anchor membership is kept apart (K.membership). */
export interface RowValue {
  header: StoredBatchRow['header'];
  hash: string;
  pruned: boolean;
  cover?: StoredBatchRow['cover'];
  timeFlags?: StoredBatchRow['timeFlags'];
  minTs: number | null;
  maxTs: number | null;
  receivedAt: number;
}

// Rows, records and the seq index are kept per chain: the device's name for epoch 1 (the keys of
// a store from before epochs), `device@N` for epoch N (level-restarts.ts). The head is per device.
export const K = {
  row: (d: string, b: number) => `h!${d}!${pad(b)}`,
  rowRange: (d: string) => ({ gte: `h!${d}!`, lt: `h!${d}!~` }),
  lines: (d: string, b: number) => `r!${d}!${pad(b)}`,
  seq: (d: string, first: number) => `s!${d}!${pad(first)}`,
  seqPrefix: (d: string) => `s!${d}!`,
  head: (d: string) => `hd!${d}`,
  unanchored: (acceptSeq: number) => `u!${pad(acceptSeq)}`,
  anchor: (id: number) => `a!${pad(id)}`,
  leaf: (id: number, i: number) => `al!${pad(id)}!${pad(i, 10)}`,
  membership: (d: string, b: number) => `ab!${d}!${pad(b)}`,
  device: (id: string) => `d!${id}`,
  timeFlags: (d: string) => `tf!${d}`,
  equivocation: (at: number, d: string, b: number) => `e!${pad(at)}!${d}!${pad(b)}`,
  acceptCounter: 'm!accept',
  /** present while the readings index holds every stored batch's readings */
  readingsComplete: 'm!readings',
  anchorCounter: 'm!anchor',
};
