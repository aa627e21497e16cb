// What the gateway tests share: reading a metric's value and waiting for a condition.
import type { Registry } from 'prom-client';

/** The value of a counter or gauge with exactly these labels (0 when never set). */
export async function metricValue(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  const want = Object.entries(labels);
  let total = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string | number>;
    if (want.every(([k, x]) => String(l[k]) === x)) total += v.value;
  }
  return total;
}

/** Poll until `check` holds or the time is up; the error names what was awaited. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
