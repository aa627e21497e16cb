// `fieldproof bench cloud-telemetry`: readings sent as JSON telemetry, as to AWS IoT Core, through a
// real mosquitto that demands the device's client certificate over TLS, to a consumer that parses
// them. Replay: readings journaled before the part starts (a restart after an outage), timed until
// the consumer holds every one. Live: a burst journaled while connected. Delay: readings journaled
// one at a time, each timed from accepted (committed in the journal) to the consumer holding it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { CloudTelemetryComponent } from '../runtime/cloud-telemetry/component.ts';
import { cloudTelemetrySchema } from '../runtime/cloud-telemetry/config.ts';
import { delayFigures, timedJournal } from './publish-delays.ts';
import { startMosquitto } from './local-mosquitto.ts';
import { TelemetrySubscriber } from './telemetry-subscriber.ts';

export const help = `usage: fieldproof bench cloud-telemetry [--readings N] [--samples S] [--json]

Through a mosquitto started on a free port with TLS and a client certificate demanded (as AWS IoT
Core does), to a consumer that parses the JSON arrays: N readings (default 20000, 20 sensors)
journaled before the telemetry part starts, replayed from the journal (replay_readings_per_s);
N more journaled while connected (live_readings_per_s); then S readings (default 1000) one at a
time, p50_ms, p99_ms and max_ms from accepted (committed in the journal) to the consumer holding it.`;

const SENSORS = 20;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { readings: { type: 'string' }, samples: { type: 'string' }, json: { type: 'boolean' } });
  const n = positiveInt(values.readings, 'readings', 20_000);
  const samples = positiveInt(values.samples, 'samples', 1000);
  const broker = await startMosquitto({ tls: true });
  const certs = broker.certs!;
  const dir = mkdtempSync(join(tmpdir(), 'fp-bench-telemetry-'));
  const log = silentLogger();
  const { journal, acceptedAt } = await timedJournal(dir, log, samples * 2);
  const part = new CloudTelemetryComponent({
    // the replay is paced only by the broker's acknowledgements here: what the link and broker take
    config: cloudTelemetrySchema.parse({ aws: { url: broker.url, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, replayPerSecond: 1_000_000 } }),
    device: 'bench', dataDir: dir, log, metrics: new Registry(),
    journal,
    onCommitted: (l) => journal.onCommitted(l),
  });
  const sub = new TelemetrySubscriber(broker.url, 'fieldproof/#', { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), clientId: 'bench-consumer' });
  sub.keep = false;
  let held = 0;
  let messages = 0;
  /** during the delay samples: when each seq arrived */
  const arrivals = new Map<number, number>();
  let sampling = false;
  let waiting: { seq: number; resolve: (t: number) => void } | null = null;
  sub.onMessage = (m) => {
    held += m.items.length;
    messages++;
    if (!sampling) return;
    for (const i of m.items) arrivals.set(i.seq, m.at);
    if (waiting && arrivals.has(waiting.seq)) waiting.resolve(arrivals.get(waiting.seq)!);
  };
  let ts = Date.now() - 2 * n - samples;
  const reading = (i: number): ReadingInput => ({ sensor: `sim-${(i % SENSORS) + 1}`, metric: 'co2_ppm', ts: ts++, value: 400 + (i % 100), unit: 'ppm', quality: { score: 1, flags: [] } });
  const until = async (count: number) => {
    const deadline = Date.now() + 120_000;
    while (held < count) {
      if (Date.now() > deadline) throw new Error(`the consumer holds ${held} of ${count} readings after 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  let replayMs = 0;
  let liveMs = 0;
  let replayMessages = 0;
  const delays: number[] = [];
  try {
    for (let i = 0; i < n; i++) journal.write(reading(i));
    await journal.flush();
    await sub.start();
    const t0 = performance.now();
    await part.start();
    await until(n);
    replayMs = performance.now() - t0;
    replayMessages = messages;
    if (!values.json) process.stderr.write(`${n} readings replayed in ${Math.round(replayMs)} ms\n`);

    const t1 = performance.now();
    for (let i = 0; i < n; i++) journal.write(reading(i));
    await until(2 * n);
    liveMs = performance.now() - t1;

    acceptedAt.clear();
    sampling = true;
    for (let i = 0; i < samples; i++) {
      const seq = await journal.append(reading(i));
      // it may have arrived before append() resolved
      const at = arrivals.get(seq) ?? (await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`reading ${i} did not arrive within 10 s`)), 10_000);
        waiting = { seq, resolve: (t) => (clearTimeout(timer), resolve(t)) };
      }));
      waiting = null;
      arrivals.clear();
      delays.push(at - acceptedAt.get(seq)!);
    }
  } finally {
    await part.stop();
    await sub.stop();
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
    await broker.stop();
  }
  const out = {
    broker: 'local mosquitto, TLS with a client certificate',
    readings: n,
    sensors: SENSORS,
    replay_readings_per_s: Math.round((n / replayMs) * 1000),
    replay_readings_per_message: Math.round((n / Math.max(1, replayMessages)) * 10) / 10,
    live_readings_per_s: Math.round((n / liveMs) * 1000),
    ...delayFigures(delays),
  };
  if (values.json) printJson(out);
  else process.stdout.write(Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  return 0;
}
