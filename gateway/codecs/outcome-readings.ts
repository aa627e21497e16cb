// The readings one decoded uplink becomes, exactly as they are journaled: the gateway emits these,
// and `fieldproof codec test` prints them. An uplink no codec could decode leaves one
// `payload_undecoded` reading with its payload; values that could not become readings leave one
// `codec_unmapped` reading (value: how many) with the payload and what they were.
import type { JsonValue } from '../../protocol/canonical.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import type { CodecOutcome } from './codec.ts';

export function outcomeReadings(device: string, bytes: Uint8Array, receivedAt: number, baseMeta: { [key: string]: JsonValue }, outcome: CodecOutcome): ReadingInput[] {
  const meta = outcome.warnings && outcome.warnings.length > 0 ? { ...baseMeta, warnings: outcome.warnings } : baseMeta;
  const payload = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  if (!outcome.ok) {
    // The payload is kept, signed like everything else, so that it can be decoded later.
    return [{
      sensor: device, metric: 'payload_undecoded', ts: receivedAt, value: null, unit: '',
      quality: { score: 0, flags: [`codec_${outcome.reason}`] },
      meta: { ...meta, payload, error: outcome.error },
    }];
  }
  const out: ReadingInput[] = outcome.readings.map((r) => ({
    sensor: r.channel === undefined ? device : `${device}-${r.channel}`,
    metric: r.metric,
    ts: r.ts ?? receivedAt,
    value: r.value,
    unit: r.unit,
    ...(r.state !== undefined ? { state: r.state } : {}),
    ...(r.flags ? { quality: { score: r.value === null && r.state === undefined ? 0 : 1, flags: r.flags } } : {}),
    meta,
  }));
  if (outcome.unmappedCount > 0) {
    out.push({
      sensor: device, metric: 'codec_unmapped', ts: receivedAt, value: outcome.unmappedCount, unit: '',
      quality: { score: 1, flags: ['codec_unmapped'] },
      meta: { ...meta, payload, unmapped: outcome.unmapped.map((u) => `${u.path}: ${u.reason}`) },
    });
  }
  return out;
}
