// A device's run as the recovery-epoch tests drive it: ended with everything journaled sealed and
// at the sink before the journal closes.
import assert from 'node:assert/strict';
import type { Journal } from '../../runtime/journal/journal.ts';
import type { Uplink } from '../../runtime/uplink/uplink.ts';

export async function drainAndClose(journal: Journal, uplink: Uplink): Promise<void> {
  await journal.sealNow();
  assert.equal(await uplink.drained(15_000), true, 'the uplink drains');
  await uplink.stop();
  await journal.close();
}
