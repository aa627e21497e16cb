// One codec run as `fieldproof codec test` shows it, and as the golden cases under testcases/ are
// checked: what the codec returned, what normalizeUplink returned, and the readings the gateway
// would journal from it. The CLI verb and the tests share this, so the cases test what users run.
import type { ReadingInput } from '../../protocol/records.ts';
import type { CodecOutcome } from './codec.ts';
import type { JsCodec } from './js-codec.ts';
import { outcomeReadings } from './outcome-readings.ts';

/** The device name readings get in a test run (a real device's id in the daemon). */
export const TEST_DEVICE = 'codec-test';

export interface UplinkTestResult {
  data: unknown;
  normalized: unknown;
  warnings: string[];
  errors: string[];
  readings: TestReading[];
}

export interface DownlinkTestResult {
  bytes: string | null;
  fPort: number | null;
  /** decodeDownlink's reading of the bytes, when the codec has one */
  decoded: unknown;
  warnings: string[];
  errors: string[];
}

/** A journaled reading without what the journal adds (device, seq) or the uplink's radio metadata. */
export type TestReading = Omit<ReadingInput, 'meta' | 'ts'> & { ts?: number; meta?: ReadingInput['meta'] };

export async function testUplink(codec: JsCodec, input: { bytes: Uint8Array; fPort: number; variables: Record<string, string>; recvTime: number }): Promise<{ ok: boolean; result: UplinkTestResult }> {
  const [outcome] = await codec.decodeBatch([input]);
  return { ok: ranOk(outcome!), result: uplinkResult(outcome!, input.bytes, input.recvTime) };
}

/** A codec that returned errors ran (exit 0); one that threw, timed out or could not run did not. */
function ranOk(o: CodecOutcome): boolean {
  return o.ok || o.reason === 'codec_errors' || o.reason === 'bad_output';
}

function uplinkResult(outcome: CodecOutcome, bytes: Uint8Array, recvTime: number): UplinkTestResult {
  const readings = outcomeReadings(TEST_DEVICE, bytes, recvTime, {}, outcome).map((r): TestReading => {
    const { meta, ts, ...rest } = r;
    const m = meta && Object.keys(meta).length > 0 ? meta : undefined;
    return { ...rest, ...(ts !== recvTime ? { ts } : {}), ...(m ? { meta: m } : {}) };
  });
  return {
    data: outcome.decoded?.data ?? null,
    normalized: outcome.decoded?.normalized ?? null,
    warnings: outcome.ok ? outcome.warnings : (outcome.warnings ?? []),
    errors: outcome.ok ? [] : [outcome.reason === 'codec_errors' ? outcome.error : `${outcome.reason}: ${outcome.error}`],
    readings,
  };
}

export async function testDownlink(codec: JsCodec, input: { data: unknown; fPort: number | null; variables: Record<string, string> }): Promise<{ ok: boolean; result: DownlinkTestResult }> {
  const r = await codec.encodeDownlink({ data: input.data, fPort: input.fPort, variables: input.variables });
  if (!r.ok) {
    const ran = r.reason === 'codec_errors' || r.reason === 'bad_output';
    return { ok: ran, result: { bytes: null, fPort: null, decoded: null, warnings: r.warnings ?? [], errors: [r.reason === 'codec_errors' ? r.error : `${r.reason}: ${r.error}`] } };
  }
  const decoded = await codec.decodeDownlink(r.bytes, r.fPort, input.variables);
  return { ok: true, result: { bytes: Buffer.from(r.bytes).toString('hex'), fPort: r.fPort, decoded, warnings: r.warnings, errors: [] } };
}
