// The monitor's side of `fieldproof bench attack`, in a process of its own so that neither the
// device's drain nor the attacker delays it: it asks /healthz every 20 ms until told to stop, and
// reports how long each answer took (Infinity for a failure).
import { Agent, request } from 'undici';

const PROBE_EVERY_MS = 20;

export type ProbeMessage = { type: 'times'; ms: number[] };

async function probe(url: string): Promise<void> {
  const agent = new Agent({ connections: 2 });
  const times: number[] = [];
  let running = true;
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') running = false;
  });
  process.send!({ type: 'ready' });
  while (running) {
    const t0 = performance.now();
    try {
      const res = await request(`${url}/healthz`, { dispatcher: agent, headersTimeout: 10_000 });
      await res.body.text();
      times.push(res.statusCode === 200 ? performance.now() - t0 : Infinity);
    } catch {
      times.push(Infinity);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, PROBE_EVERY_MS - (performance.now() - t0))));
  }
  await agent.close();
  // Infinity does not survive JSON: failures travel as -1
  process.send!({ type: 'times', ms: times.map((t) => (Number.isFinite(t) ? t : -1)) } satisfies ProbeMessage, () => process.exit(0));
}

process.once('message', (m: { url: string }) => {
  probe(m.url).catch((err) => {
    process.stderr.write(`probe failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
});
