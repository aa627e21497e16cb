// A device journal with the cloud telemetry part on it, as the daemon wires them, for the tests of
// runtime/cloud-telemetry: readings appended to the journal reach the configured platforms.
import { after } from 'node:test';
import type { Logger } from 'pino';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { MapStatusBoard } from '../../kernel/status-board.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { CloudTelemetryComponent } from '../../runtime/cloud-telemetry/component.ts';
import { cloudTelemetrySchema } from '../../runtime/cloud-telemetry/config.ts';
import { Journal } from '../../runtime/journal/journal.ts';
import { tempDir } from './tmp.ts';

export async function telemetryDevice(opts: { section: unknown; device?: string; log?: Logger; now?: () => number }) {
  const dir = tempDir('telemetry');
  const device = opts.device ?? 'site-a-gw1';
  const config = cloudTelemetrySchema.parse(opts.section);
  const journal = await Journal.open({ dir, device, key: generateKey(), commitMaxWaitMs: 1 });
  const metrics = new Registry();
  const board = new MapStatusBoard();
  const parts: CloudTelemetryComponent[] = [];
  /** another part on the same data dir and journal is the daemon restarted */
  const newPart = () => {
    const part = new CloudTelemetryComponent({
      config, device, dataDir: dir, metrics, board, log: opts.log ?? silentLogger(),
      journal,
      onCommitted: (l) => journal.onCommitted(l),
      ...(opts.now ? { now: opts.now } : {}),
    });
    parts.push(part);
    return part;
  };
  const part = newPart();
  after(async () => {
    for (const p of parts) await p.stop();
    await journal.close().catch(() => undefined);
  });
  /** a metric's value for one target (and reason), 0 when absent */
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const m = (await metrics.getSingleMetric(name)?.get())?.values ?? [];
    return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  };
  /** resolves once `target` is connected */
  const connected = async (target: string, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((await metric('fieldproof_cloud_telemetry_connected', { target })) !== 1) {
      if (Date.now() > deadline) throw new Error(`${target} did not connect`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { part, journal, dir, metrics, board, metric, connected, newPart };
}

let ts = 1_763_884_800_000;
export function reading(sensor: string, value: number | null, extra: Partial<ReadingInput> = {}): ReadingInput {
  return { sensor, metric: 'co2_ppm', ts: ts++, value, unit: 'ppm', quality: { score: 1, flags: [] }, ...extra };
}
