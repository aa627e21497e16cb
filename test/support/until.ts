// Waiting in a test for something another part does in its own time, polled every 25 ms.
import assert from 'node:assert/strict';

/** Resolves once `cond` holds; fails the test, naming `what`, when it has not within `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}
