// A device's run as the recovery-epoch tests drive it: wait for a condition, and end a run with
// everything journaled sealed and at the sink before the journal closes.
import assert from 'node:assert/strict';
import type { Journal } from '../../runtime/journal/journal.ts';
import type { Uplink } from '../../runtime/uplink/uplink.ts';

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

export async function drainAndClose(journal: Journal, uplink: Uplink): Promise<void> {
  await journal.sealNow();
  assert.equal(await uplink.drained(15_000), true, 'the uplink drains');
  await uplink.stop();
  await journal.close();
}
