// Live data for the broker outage tests: a reading appended every few milliseconds until stopped,
// so that a test can check that the backlog sent after an outage does not hold it back.
import { setTimeout as sleep } from 'node:timers/promises';

export function keepAppending(append: () => Promise<unknown>, everyMs = 10): { stop(): Promise<void> } {
  let live = true;
  const writer = (async () => {
    while (live) {
      await append();
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      live = false;
      await writer;
    },
  };
}
