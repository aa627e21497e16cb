// What a payload codec is to the gateway: bytes and port in, readings out (and, for codecs that
// have an encoder, a downlink's data in, bytes out). Cayenne LPP is built in; vendors' JavaScript
// codecs run in the isolated engine (js-codec.ts). Both are asked for a whole batch of uplinks at
// once, so that the cost of a round trip to the engine is paid once per batch.
import { readingsFromNormalized } from './normalized.ts';
import { collectData, ReadingCollector, type CodecReading, type Unmapped } from './readings.ts';

export type { CodecReading, Unmapped } from './readings.ts';

export interface UplinkInput {
  bytes: Uint8Array;
  fPort: number;
  /** ms since the epoch */
  recvTime: number;
  /** the device's codec variables (ChirpStack's device variables) */
  variables?: Record<string, string>;
}

export type CodecFailure = 'threw' | 'timeout' | 'bad_output' | 'codec_errors' | 'disabled' | 'out_of_memory' | 'crashed' | 'overload';

export interface DecodedPayload {
  /** `data` as the codec returned it */
  data: unknown;
  /** normalizeUplink's result, or null */
  normalized: unknown;
  /** the entry point that decoded: decodeUplink, Decoder (TTN v2), Decode (ChirpStack v3), cayenne-lpp */
  entry: string | null;
}

export type CodecOutcome =
  | {
      ok: true;
      readings: CodecReading[];
      warnings: string[];
      /** what could not become a reading (at most a few listed) and how many there were */
      unmapped: Unmapped[];
      unmappedCount: number;
      decoded?: DecodedPayload;
    }
  | { ok: false; reason: CodecFailure; error: string; warnings?: string[]; decoded?: DecodedPayload };

export interface DownlinkRequest {
  /** what encodeDownlink gets as `data` */
  data: unknown;
  /** null: the codec chooses */
  fPort: number | null;
  variables?: Record<string, string>;
}

export type DownlinkOutcome =
  | { ok: true; bytes: Uint8Array; fPort: number; warnings: string[]; entry: string | null }
  | { ok: false; reason: CodecFailure | 'no_encoder'; error: string; warnings?: string[] };

export interface Codec {
  readonly name: string;
  decodeBatch(inputs: readonly UplinkInput[]): Promise<CodecOutcome[]>;
  /** absent for codecs that cannot encode */
  encodeDownlink?(request: DownlinkRequest): Promise<DownlinkOutcome>;
}

const MAX_WARNINGS = 16;

function textList(v: unknown): string[] {
  return Array.isArray(v) ? v.slice(0, MAX_WARNINGS).map((w) => (typeof w === 'string' ? w : JSON.stringify(w) ?? String(w)).slice(0, 300)) : [];
}

/**
 * Turn what the codec returned (`{data, warnings, errors}`, as ChirpStack v4 and The Things Stack
 * define it; legacy entry points' results arrive wrapped as `{data}`) and normalizeUplink's result
 * into readings.
 */
export function outcomeFromDecoded(result: unknown, normalized: unknown, recvTime: number, entry: string | null = null): CodecOutcome {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return { ok: false, reason: 'bad_output', error: 'the decoder did not return an object' };
  const r = result as { data?: unknown; warnings?: unknown; errors?: unknown };
  const decoded: DecodedPayload = { data: r.data ?? null, normalized: normalized ?? null, entry };
  const warnings = textList(r.warnings);
  const errors = textList(r.errors);
  if (errors.length > 0) return { ok: false, reason: 'codec_errors', error: errors.join('; ').slice(0, 300), warnings, decoded };
  if (typeof r.data !== 'object' || r.data === null) return { ok: false, reason: 'bad_output', error: 'the decoder returned no data object', warnings, decoded };
  const c = new ReadingCollector();
  collectData(c, r.data, '', 0);
  const n = readingsFromNormalized(normalized, recvTime);
  for (const w of n.warnings) warnings.push(`normalizeUplink: ${w}`);
  for (const e of n.errors) warnings.push(`normalizeUplink failed: ${e}`);
  const room = 2 * 64 - c.readings.length;
  const readings = [...c.readings, ...n.readings.slice(0, Math.max(0, room))];
  const unmapped = [...c.unmapped, ...n.unmapped].slice(0, 16);
  const unmappedCount = c.unmappedCount + n.unmappedCount + Math.max(0, n.readings.length - room);
  return { ok: true, readings, warnings: warnings.slice(0, MAX_WARNINGS), unmapped, unmappedCount, decoded };
}
