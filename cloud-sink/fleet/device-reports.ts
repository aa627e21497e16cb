// What a device says about itself beside its records, read for the fleet view: the clock state it
// signs into its batch headers (the optional `clock` field: {"synced", "source", "offsetMs"?}; a
// header without it, or with another shape, says nothing: "unknown"), and the backlog it reports,
// unsigned, with each batch it posts (the `x-fieldproof-backlog` request header).
import type { BatchHeader } from '../../protocol/batch.ts';

export type ClockState =
  | { state: 'unknown' }
  | { state: 'synced' | 'unsynced'; source: 'chrony' | 'timesyncd' | 'unknown'; offsetMs?: number };

const SOURCES = new Set(['chrony', 'timesyncd', 'unknown']);

export function clockOf(header: BatchHeader): ClockState {
  const c = (header as unknown as { clock?: unknown }).clock;
  if (typeof c !== 'object' || c === null) return { state: 'unknown' };
  const { synced, source, offsetMs } = c as Record<string, unknown>;
  if (typeof synced !== 'boolean' || typeof source !== 'string' || !SOURCES.has(source)) return { state: 'unknown' };
  const out: ClockState = { state: synced ? 'synced' : 'unsynced', source: source as 'chrony' | 'timesyncd' | 'unknown' };
  if (typeof offsetMs === 'number' && Number.isFinite(offsetMs)) out.offsetMs = offsetMs;
  return out;
}

/** The largest backlog a device may report: more than any journal holds; beyond it the header is ignored. */
export const MAX_REPORTED_BACKLOG = 1e12;

/** The `x-fieldproof-backlog` request header: a non-negative integer, or null when absent or malformed. */
export function reportedBacklog(raw: string | string[] | undefined): number | null {
  if (typeof raw !== 'string' || !/^\d{1,13}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= MAX_REPORTED_BACKLOG ? n : null;
}
