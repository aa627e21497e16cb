// For the tests that SIGKILL a daemon publishing the journal to a broker (Sparkplug, cloud
// telemetry): a device config with simulated sensors and no uplink plus the publisher's section,
// a last run stopped cleanly, and the seqs of the readings the journal holds afterwards.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Journal } from '../../runtime/journal/journal.ts';
import { CliProcess } from './cli.ts';

/** Writes `<dir>/device.yaml`: 20 simulated sensors every 100 ms, data in `<dir>/data`, then `section` (YAML). */
export function publishingDevice(dir: string, section: string): { config: string; dataDir: string } {
  const dataDir = join(dir, 'data');
  const config = join(dir, 'device.yaml');
  const text = readFileSync(new URL('../../app/config/testdata/device.yaml', import.meta.url), 'utf8')
    .replace('/var/lib/fieldproof', dataDir)
    .replace(/^uplink:.*\n.*\n/m, '');
  writeFileSync(config, text + section);
  return { config, dataDir };
}

/** A run stopped cleanly once connected (the log line `connected`) and given `ms` to send what earlier runs left. */
export async function cleanRun(config: string, connected: string, ms = 1500): Promise<void> {
  const p = new CliProcess(['run', '--config', config]);
  await p.waitFor((l) => l.msg === connected);
  await sleep(ms);
  p.child.kill('SIGTERM');
  await p.exited;
}

/** The seqs of the reading records the journal in `dataDir` holds. */
export async function journaledReadings(dataDir: string): Promise<number[]> {
  const journal = await Journal.inspect(dataDir);
  const held: number[] = [];
  try {
    for await (const { seq, line } of journal.records()) if ((JSON.parse(line) as { kind: string }).kind === 'reading') held.push(seq);
  } finally {
    await journal.close();
  }
  return held;
}
