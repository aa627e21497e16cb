// Decrypted uplinks through their devices' codecs and on to the pipeline as readings. Codecs run
// off the main thread (JavaScript ones in the isolated engine), so decoding is asynchronous: each
// codec gets its uplinks of a batch at once, and its results come back in order. Nothing is lost
// on the way: an uplink no codec could decode is journaled with its payload, flagged; values the
// codec gave that could not become readings are counted, journaled in a `codec_unmapped` record
// with the payload, and shown in the device's status.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../kernel/source.ts';
import type { JsonValue } from '../protocol/canonical.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { counter, gauge } from '../kernel/metrics.ts';
import type { Codec, CodecOutcome, UplinkInput } from './codecs/codec.ts';
import { outcomeReadings } from './codecs/outcome-readings.ts';
import type { ThrottledWarn } from '../kernel/log-throttle.ts';

/** Uplinks waiting for a codec beyond which new ones are journaled undecoded at once. */
export const MAX_DECODING = 50_000;

export interface DecodingDevice {
  id: string;
  codec: Codec;
  status: DriverStatus;
}

export interface DecodeItem {
  device: DecodingDevice;
  input: UplinkInput;
  meta: { [key: string]: JsonValue };
  receivedAt: number;
}

export interface UplinkDecoderDeps {
  emit(reading: ReadingInput): void;
  /** the device's status changed (force) or moved on (readings counted) */
  statusChanged(device: DecodingDevice, at: number, force: boolean): void;
  warn: ThrottledWarn;
  log: Logger;
  metrics: Registry;
}

export class UplinkDecoder {
  private decoding = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly m;

  private readonly deps: UplinkDecoderDeps;

  constructor(deps: UplinkDecoderDeps) {
    this.deps = deps;
    const reg = deps.metrics;
    this.m = {
      readings: counter(reg, 'fieldproof_gateway_readings_total', 'Readings handed to the pipeline from decoded uplinks'),
      codecFailures: counter(reg, 'fieldproof_gateway_codec_failures_total', 'Uplinks a codec could not decode, by device and reason', ['device', 'reason']),
      unmapped: counter(reg, 'fieldproof_gateway_codec_unmapped_total', 'Values a codec returned that could not become readings, by device and reason', ['device', 'reason']),
      decoding: gauge(reg, 'fieldproof_gateway_decoding_uplinks', 'Uplinks handed to codecs and not yet decoded'),
    };
  }

  /** Decode a batch; readings are emitted as each codec answers. */
  decode(items: readonly DecodeItem[]): void {
    const byCodec = new Map<Codec, DecodeItem[]>();
    for (const it of items) {
      if (this.decoding >= MAX_DECODING) {
        this.emitOutcome(it, { ok: false, reason: 'overload', error: `more than ${MAX_DECODING} uplinks wait for their codecs` });
        continue;
      }
      this.decoding++;
      const list = byCodec.get(it.device.codec);
      if (list) list.push(it);
      else byCodec.set(it.device.codec, [it]);
    }
    for (const [codec, list] of byCodec) {
      const p = this.run(codec, list);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
    this.m.decoding.set(this.decoding);
  }

  /** Wait for every uplink handed over so far to be decoded and emitted. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async run(codec: Codec, list: DecodeItem[]): Promise<void> {
    let outcomes: CodecOutcome[];
    try {
      outcomes = await codec.decodeBatch(list.map((i) => i.input));
    } catch (err) {
      const error = `codec failed: ${(err as Error).message}`;
      outcomes = list.map(() => ({ ok: false, reason: 'threw', error }));
    }
    this.decoding -= list.length;
    this.m.decoding.set(this.decoding);
    for (let i = 0; i < list.length; i++) {
      try {
        this.emitOutcome(list[i]!, outcomes[i] ?? { ok: false, reason: 'bad_output', error: 'the codec gave no result for this uplink' });
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message, device: list[i]!.device.id }, 'emitting a decoded uplink failed');
      }
    }
  }

  private emitOutcome(item: DecodeItem, outcome: CodecOutcome): void {
    const { device, receivedAt } = item;
    const id = device.id;
    const readings = outcomeReadings(id, item.input.bytes, receivedAt, item.meta, outcome);
    for (const r of readings) this.deps.emit(r);
    if (!outcome.ok) {
      this.m.codecFailures.inc({ device: id, reason: outcome.reason });
      device.status.errors++;
      this.deps.warn.warn(`codec:${id}:${outcome.reason}`, { device: id, error: outcome.error }, 'codec could not decode an uplink; its raw payload is journaled');
      this.setState(device, 'degraded', `codec: ${outcome.error}`, receivedAt);
      return;
    }
    for (const u of outcome.unmapped) this.m.unmapped.inc({ device: id, reason: u.reason });
    this.m.readings.inc(readings.length);
    device.status.readings += readings.length;
    const first = outcome.unmapped[0];
    if (outcome.unmappedCount > 0) this.setState(device, 'degraded', `codec: ${outcome.unmappedCount} value(s) of the last uplink could not become readings${first ? ` (${first.path}: ${first.reason})` : ''}`, receivedAt);
    else this.setState(device, 'ok', undefined, receivedAt);
  }

  private setState(device: DecodingDevice, state: 'ok' | 'degraded', detail: string | undefined, at: number): void {
    const s = device.status;
    const changed = s.state !== state || s.detail !== detail;
    s.state = state;
    if (detail === undefined) delete s.detail;
    else s.detail = detail;
    s.lastReadingAt = at;
    this.deps.statusChanged(device, at, changed);
  }
}

