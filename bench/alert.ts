// `fieldproof bench alert`: how long from a reading accepted (durable in the journal, its seq
// assigned: docs/durability.md) to an MQTT subscriber holding the alert it raised, and from the
// reading handed to the pipeline. The whole device path runs: validation rules, the journal's
// group commit (durable before anything is announced), the alert engine, MQTT QoS 1 through a
// broker, and a subscriber on this machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { ValidationComponent } from '../models/validation.ts';
import { validationSchema } from '../models/config.ts';
import { generateKey } from '../protocol/signature.ts';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import { percentile } from '../kernel/percentile.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { journalSchema } from '../runtime/journal/config.ts';
import { Pipeline } from '../runtime/pipeline.ts';
import { MapStatusBoard } from '../kernel/status-board.ts';
import { AlertsComponent } from '../runtime/alerts/alerts.ts';
import { alertsSchema } from '../runtime/alerts/config.ts';
import { startMosquitto, type Broker } from './local-mosquitto.ts';

export const help = `usage: fieldproof bench alert [--mqtt URL] [--alerts N] [--commit-wait-ms W] [--json]

Raises and clears N alerts (default 1000, one at a time) by feeding out-of-range and then normal
readings to the pipeline, and times each until an MQTT subscriber receives the alert (QoS 1).
The broker is --mqtt URL, or by default a mosquitto started on a free port. An alert is only
sent once its reading is accepted: durable in the journal, with its seq. The journal runs as the
daemon's does: a flagged reading is committed at once, a clean one waits up to W ms for company
(default the daemon's journal.commitMaxWaitMs, 20).

Prints, for raised alerts, p50_ms, p99_ms and max_ms from the flagged reading accepted to the
subscriber holding its alert; the same from the reading handed to the pipeline (..._from_emit_ms,
the synced write included) and the synced write's share (..._emit_to_accepted_ms); and for the
clears p50_clear_ms and p99_clear_ms from accepted, and p99_clear_from_emit_ms (their clean
reading waits for the group commit).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { mqtt: { type: 'string' }, alerts: { type: 'string' }, 'commit-wait-ms': { type: 'string' }, json: { type: 'boolean' } });
  const n = positiveInt(values.alerts, 'alerts', 1000);
  const commitWait = values['commit-wait-ms'] === undefined ? journalSchema.parse({}).commitMaxWaitMs : Number(values['commit-wait-ms']);
  let broker: Broker | null = null;
  const url = values.mqtt ?? (broker = await startMosquitto()).url;
  const dir = mkdtempSync(join(tmpdir(), 'fp-bench-alert-'));
  const log = silentLogger();
  const metrics = new Registry();
  const journal = await Journal.open({ dir, device: 'bench', key: generateKey(), log, metrics, commitMaxWaitMs: commitWait });
  const pipeline = new Pipeline(journal, log, metrics);
  // Range rules only: the clearing reading must be clean, not flagged for its jump back.
  const validation = new ValidationComponent({ config: validationSchema.parse({ model: { enabled: false }, rules: [{ sensor: 'bench-1', maxRatePerS: 1e9 }] }), dataDir: dir, log, metrics, addAssessor: (a) => pipeline.addAssessor(a) });
  const board = new MapStatusBoard();
  // registered before the alert engine's listener: the moment the reading is accepted
  let acceptedAt = 0;
  journal.onCommitted(() => (acceptedAt = performance.now()));
  const alerts = new AlertsComponent({
    config: alertsSchema.parse({ mqtt: { url, clientId: `fieldproof-bench-${process.pid}` }, clearAfter: 1, silentFactor: 0 }),
    device: 'bench',
    dataDir: dir,
    log,
    metrics,
    board,
    onCommitted: (l) => void journal.onCommitted(l),
    sourceStatuses: () => [],
  });
  const sub = mqtt.connect(url, { protocolVersion: 5, clientId: `fieldproof-bench-sub-${process.pid}`, reconnectPeriod: 0 });
  sub.on('connect', () => (sub.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
  const raisedFromEmit: number[] = [];
  const raisedFromAccepted: number[] = [];
  const toAccepted: number[] = [];
  const clearedFromEmit: number[] = [];
  const clearedFromAccepted: number[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      sub.once('connect', () => resolve());
      sub.once('error', reject);
    });
    await sub.subscribeAsync('fieldproof/bench/alerts', { qos: 1 });
    await validation.start();
    await alerts.start();
    let waiting: ((t: number) => void) | null = null;
    sub.on('message', () => {
      const t = performance.now();
      waiting?.(t);
    });
    const ts0 = Date.now() - n * 2000;
    for (let i = 0; i < n * 2; i++) {
      const raise = i % 2 === 0;
      const got = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`alert ${i} did not arrive within 10 s`)), 10_000);
        waiting = (t) => {
          clearTimeout(timer);
          waiting = null;
          resolve(t);
        };
      });
      const t0 = performance.now();
      pipeline.emit({ sensor: 'bench-1', metric: 'co2_ppm', ts: ts0 + i * 1000, value: raise ? 50_000 : 450 + (i % 7), unit: 'ppm' });
      const t1 = await got;
      if (raise) {
        raisedFromEmit.push(t1 - t0);
        raisedFromAccepted.push(t1 - acceptedAt);
        toAccepted.push(acceptedAt - t0);
      } else {
        clearedFromEmit.push(t1 - t0);
        clearedFromAccepted.push(t1 - acceptedAt);
      }
      if (!values.json && (i + 1) % 200 === 0) process.stderr.write(`${i + 1}/${n * 2} alerts\n`);
    }
  } finally {
    await alerts.stop();
    await validation.stop();
    await sub.endAsync().catch(() => undefined);
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  }
  const sort = (a: number[]) => a.slice().sort((x, y) => x - y);
  const [accepted, emitted, write, clears, clearsEmitted] = [raisedFromAccepted, raisedFromEmit, toAccepted, clearedFromAccepted, clearedFromEmit].map(sort) as [number[], number[], number[], number[], number[]];
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const out = {
    alerts: accepted.length,
    broker: values.mqtt ? url : 'local mosquitto',
    commit_wait_ms: commitWait,
    p50_ms: r3(percentile(accepted, 50)),
    p99_ms: r3(percentile(accepted, 99)),
    max_ms: r3(accepted.at(-1) ?? 0),
    p50_from_emit_ms: r3(percentile(emitted, 50)),
    p99_from_emit_ms: r3(percentile(emitted, 99)),
    max_from_emit_ms: r3(emitted.at(-1) ?? 0),
    p50_emit_to_accepted_ms: r3(percentile(write, 50)),
    p99_emit_to_accepted_ms: r3(percentile(write, 99)),
    clears: clears.length,
    p50_clear_ms: r3(percentile(clears, 50)),
    p99_clear_ms: r3(percentile(clears, 99)),
    p99_clear_from_emit_ms: r3(percentile(clearsEmitted, 99)),
  };
  if (values.json) printJson(out);
  else process.stdout.write(Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  return 0;
}
