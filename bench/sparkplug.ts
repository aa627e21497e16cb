// `fieldproof bench sparkplug`: readings published as Sparkplug B through a real broker to a
// decoding subscriber. Throughput: a burst of readings from 20 sensors journaled as fast as the
// journal takes them, timed until the subscriber holds every one. Delay: readings journaled one
// at a time, each timed from accepted (committed in the journal, its seq assigned) to the
// subscriber holding its DDATA.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { SparkplugComponent } from '../runtime/sparkplug/component.ts';
import { sparkplugSchema } from '../runtime/sparkplug/config.ts';
import { delayFigures, timedJournal } from './publish-delays.ts';
import { startMosquitto, type Broker } from './local-mosquitto.ts';
import { SparkplugSubscriber } from './sparkplug-subscriber.ts';

export const help = `usage: fieldproof bench sparkplug [--mqtt URL] [--readings N] [--samples S] [--json]

Publishes N readings (default 20000, from 20 sensors) as Sparkplug B DDATA through a broker (--mqtt
URL, or by default a mosquitto started on a free port) to a subscriber that decodes them, and
prints readings_per_s (journaled to all held by the subscriber). Then journals S readings (default
1000) one at a time and prints p50_ms, p99_ms and max_ms from each reading accepted (committed in
the journal) to the subscriber holding it.`;

const SENSORS = 20;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { mqtt: { type: 'string' }, readings: { type: 'string' }, samples: { type: 'string' }, json: { type: 'boolean' } });
  const n = positiveInt(values.readings, 'readings', 20_000);
  const samples = positiveInt(values.samples, 'samples', 1000);
  let broker: Broker | null = null;
  const url = values.mqtt ?? (broker = await startMosquitto()).url;
  const group = `bench-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'fp-bench-sparkplug-'));
  const log = silentLogger();
  const { journal, acceptedAt } = await timedJournal(dir, log, samples * 2);
  const node = new SparkplugComponent({
    config: sparkplugSchema.parse({ url, group }),
    device: 'bench', dataDir: dir, log, metrics: new Registry(),
    journal,
    onCommitted: (l) => journal.onCommitted(l),
  });
  const sub = new SparkplugSubscriber(url, group);
  let held = 0;
  let waiting: { seq: number; resolve: (t: number) => void } | null = null;
  sub.onMessage = (m) => {
    if (m.type !== 'DDATA') return;
    held += m.metrics.length;
    const last = m.metrics[m.metrics.length - 1]?.properties.journalSeq;
    if (waiting && last === waiting.seq) waiting.resolve(m.at);
  };
  let ts = Date.now() - n - samples;
  const reading = (i: number): ReadingInput => ({ sensor: `sim-${(i % SENSORS) + 1}`, metric: 'co2_ppm', ts: ts++, value: 400 + (i % 100), unit: 'ppm', quality: { score: 1, flags: [] } });
  let burstMs = 0;
  const delays: number[] = [];
  try {
    await sub.start();
    await node.start();
    await sub.next((m) => m.type === 'NBIRTH', 10_000, true);

    const t0 = performance.now();
    for (let i = 0; i < n; i++) journal.write(reading(i));
    const deadline = Date.now() + 120_000;
    while (held < n) {
      if (Date.now() > deadline) throw new Error(`the subscriber holds ${held} of ${n} readings after 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    burstMs = performance.now() - t0;
    if (!values.json) process.stderr.write(`${n} readings in ${Math.round(burstMs)} ms\n`);

    acceptedAt.clear();
    for (let i = 0; i < samples; i++) {
      const got = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`reading ${i} did not arrive within 10 s`)), 10_000);
        waiting = { seq: -1, resolve: (t) => (clearTimeout(timer), resolve(t)) };
      });
      const seq = await journal.append(reading(i));
      waiting!.seq = seq;
      // it may have arrived before append() resolved
      const early = sub.messages.findLast((m) => m.type === 'DDATA');
      if (early?.metrics.some((x) => x.properties.journalSeq === seq)) waiting!.resolve(early.at);
      const at = await got;
      delays.push(at - acceptedAt.get(seq)!);
      if (sub.messages.length > 10_000) sub.messages.splice(0, sub.messages.length - 100);
    }
  } finally {
    await node.stop();
    await sub.stop();
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  }
  const out = {
    broker: values.mqtt ? url : 'local mosquitto',
    readings: n,
    sensors: SENSORS,
    readings_per_s: Math.round((n / burstMs) * 1000),
    ...delayFigures(delays),
  };
  if (values.json) printJson(out);
  else process.stdout.write(Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  return 0;
}
