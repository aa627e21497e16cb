// Signed chains of synthetic batches, as a device would send them: for the benches that post to a
// sink (bench attack's legitimate and hostile traffic) and, through test/support, for the tests.
import { headerHash, signBatch, type Batch } from '../protocol/batch.ts';
import { ZERO_HASH } from '../protocol/hash.ts';
import { gapRecord, readingRecord, type JournalRecord } from '../protocol/records.ts';
import type { DeviceKey } from '../protocol/signature.ts';

/** A chain of batches of 1 Hz readings from `sensors` sensors; a gap record opens batch 2 when asked. */
export function makeChain(device: string, key: DeviceKey, batches: number, perBatch: number, opts: { sensors?: number; withGap?: boolean; start?: number } = {}): Batch[] {
  const sensors = opts.sensors ?? 4;
  const start = opts.start ?? 1763884800000;
  const out: Batch[] = [];
  let seq = 1;
  let prev = ZERO_HASH;
  for (let b = 1; b <= batches; b++) {
    const records: JournalRecord[] = [];
    for (let i = 0; i < perBatch; i++, seq++) {
      if (opts.withGap && b === 2 && i === 0) {
        records.push(gapRecord(device, seq, 120, start + 10_000, start + 20_000, 'disk_full'));
        continue;
      }
      const n = seq - 1;
      records.push(readingRecord(device, seq, {
        sensor: `pv-${(n % sensors) + 1}`, metric: 'power_kw', unit: 'kW', ts: start + Math.floor(n / sensors) * 1000,
        value: n % 97 === 5 ? null : Math.round((10 + Math.sin(n / 50) * 3) * 100) / 100,
      }, { score: n % 11 === 0 ? 0.6 : 1, flags: n % 11 === 0 ? ['calibration_stale'] : [] }));
    }
    const batch = signBatch(device, key, b, records, prev, 1763884800000 + b);
    prev = headerHash(batch.header);
    out.push(batch);
  }
  return out;
}
