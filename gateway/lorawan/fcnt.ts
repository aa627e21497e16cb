// Frame counters: only the low 16 bits travel on air, the MIC and the keystream use all 32
// (LoRaWAN 1.0.x section 4.3.1.5). The server rebuilds the full value from the last one it accepted.

/** Largest forward jump accepted between two uplinks; MAX_FCNT_GAP of LoRaWAN 1.0.x. */
export const MAX_FCNT_GAP = 16384;

/**
 * The 32-bit counter the 16 bits on air most plausibly stand for: the smallest value above `last`
 * whose low half matches, or `last` itself when the frame repeats it. `last` is -1 for a fresh session.
 */
export function rebuildFCnt(last: number, fCnt16: number): number {
  if (last < 0) return fCnt16;
  const high = last - (last & 0xffff);
  let candidate = high + fCnt16;
  if (candidate < last) candidate += 0x10000;
  return candidate;
}

export type FCntVerdict = 'next' | 'repeat' | 'old' | 'too_far';

/** How a rebuilt counter relates to the last accepted one. */
export function judgeFCnt(last: number, fCnt32: number): FCntVerdict {
  // A session's first uplink sets the counter: a node provisioned long before this gateway came up
  // may be anywhere in its 16-bit range.
  if (last < 0) return 'next';
  if (fCnt32 === last) return 'repeat';
  if (fCnt32 < last) return 'old';
  if (fCnt32 > 0xffffffff) return 'too_far';
  return fCnt32 - last <= MAX_FCNT_GAP ? 'next' : 'too_far';
}
