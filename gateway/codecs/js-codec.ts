// A vendor's JavaScript codec (The Things Stack, ChirpStack v4, and their legacy TTN v2 and
// ChirpStack v3 forms), run in the isolated engine (engine/): this is the gateway's handle on it.
// A codec that keeps timing out is switched off for a while (and reported), so that one broken
// script costs its own devices' data, not the site's throughput; their payloads are still
// journaled, undecoded.
import { readFile } from 'node:fs/promises';
import { outcomeFromDecoded, type Codec, type CodecFailure, type CodecOutcome, type DownlinkOutcome, type DownlinkRequest, type UplinkInput } from './codec.ts';
import type { CodecEngine } from './engine/host.ts';
import { DEFAULT_LIMITS, type EngineLimits, type EngineRequest, type EngineResult } from './engine/protocol.ts';
import { CodecLoadError } from './engine/quickjs-engine.ts';

export { CodecLoadError } from './engine/quickjs-engine.ts';

export interface JsCodecOptions {
  limits?: Partial<EngineLimits>;
  /** consecutive timeouts after which the codec is switched off for `cooldownMs` (doubling each time) */
  maxConsecutiveTimeouts?: number;
  cooldownMs?: number;
  now?: () => number;
}

/** Largest codec source accepted, bytes: vendor codecs are tens of kilobytes. */
export const MAX_CODEC_BYTES = 2 * 1024 * 1024;

export class JsCodec implements Codec {
  private consecutiveTimeouts = 0;
  private disabledUntil = 0;
  private cooldown: number;
  private readonly cooldownBase: number;
  private readonly maxTimeouts: number;
  private readonly now: () => number;
  /** what happened last, for the device status */
  lastProblem: string | null = null;

  readonly name: string;
  private readonly engine: CodecEngine;
  private readonly id: number;
  readonly entries: readonly string[];
  readonly limits: EngineLimits;

  private constructor(
    name: string,
    engine: CodecEngine,
    id: number,
    /** the entry points the codec defines */
    entries: readonly string[],
    limits: EngineLimits,
    opts: JsCodecOptions,
  ) {
    this.name = name;
    this.engine = engine;
    this.id = id;
    this.entries = entries;
    this.limits = limits;
    this.maxTimeouts = opts.maxConsecutiveTimeouts ?? 3;
    this.cooldownBase = opts.cooldownMs ?? 60_000;
    this.cooldown = this.cooldownBase;
    this.now = opts.now ?? Date.now;
  }

  /** Compile a codec; a syntax error or no known entry point is a CodecLoadError naming the file. */
  static async load(engine: CodecEngine, name: string, source: string, opts: JsCodecOptions = {}): Promise<JsCodec> {
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (source.length > MAX_CODEC_BYTES) throw new CodecLoadError(`codec ${name}: ${source.length} bytes, more than ${MAX_CODEC_BYTES}`);
    try {
      const { id, entries } = await engine.load(name, source, limits);
      return new JsCodec(name, engine, id, entries, limits, opts);
    } catch (err) {
      if (err instanceof CodecLoadError) throw new CodecLoadError(`codec ${name}: ${err.message}`);
      throw err;
    }
  }

  static async fromFile(engine: CodecEngine, file: string, opts?: JsCodecOptions): Promise<JsCodec> {
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch (err) {
      throw new CodecLoadError(`codec ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return JsCodec.load(engine, file, source, opts);
  }

  get disabled(): boolean {
    return this.now() < this.disabledUntil;
  }

  get canEncode(): boolean {
    return this.entries.some((e) => e === 'encodeDownlink' || e === 'Encode' || e === 'Encoder');
  }

  async decodeBatch(inputs: readonly UplinkInput[]): Promise<CodecOutcome[]> {
    if (this.disabled) {
      const error = `codec switched off until ${new Date(this.disabledUntil).toISOString()} after ${this.maxTimeouts} timeouts in a row`;
      return inputs.map(() => ({ ok: false, reason: 'disabled', error }));
    }
    const requests: EngineRequest[] = inputs.map((i) => ({ op: 'up', bytes: Array.from(i.bytes), fPort: i.fPort, recvTime: i.recvTime, variables: i.variables ?? {} }));
    const results = await this.engine.run(this.id, requests);
    let timedOut = false;
    const out = results.map((r, i): CodecOutcome => {
      if (r.ok) return outcomeFromDecoded(r.result, r.normalized, inputs[i]!.recvTime, r.entry);
      if (r.failure === 'timeout') timedOut = true;
      return this.failure(r);
    });
    if (timedOut) this.noteTimeout();
    else if (results.some((r) => r.ok)) {
      this.consecutiveTimeouts = 0;
      this.cooldown = this.cooldownBase;
    }
    return out;
  }

  async encodeDownlink(request: DownlinkRequest): Promise<DownlinkOutcome> {
    if (!this.canEncode) return { ok: false, reason: 'no_encoder', error: `codec ${this.name} defines no encodeDownlink(input), Encode or Encoder` };
    const [r] = await this.engine.run(this.id, [{ op: 'down', data: request.data, fPort: request.fPort, variables: request.variables ?? {} }]);
    if (!r!.ok) return this.failure(r!);
    const result = r!.result as { bytes?: unknown; fPort?: unknown; warnings?: unknown; errors?: unknown } | null;
    const warnings = Array.isArray(result?.warnings) ? result.warnings.slice(0, 16).map((w) => String(w).slice(0, 300)) : [];
    if (Array.isArray(result?.errors) && result.errors.length > 0) return { ok: false, reason: 'codec_errors', error: result.errors.map(String).join('; ').slice(0, 300), warnings };
    if (!Array.isArray(result?.bytes)) return { ok: false, reason: 'bad_output', error: 'the encoder returned no bytes', warnings };
    const fPort = typeof result.fPort === 'number' ? result.fPort : request.fPort;
    if (fPort === null || !Number.isInteger(fPort) || fPort < 1 || fPort > 223) {
      return { ok: false, reason: 'bad_output', error: fPort === null ? 'no fPort: give one, or the encoder must return one' : `fPort ${fPort} is not 1..223`, warnings };
    }
    return { ok: true, bytes: Uint8Array.from(result.bytes as number[]), fPort, warnings, entry: r!.entry };
  }

  /** decodeDownlink, for showing what a queued downlink says; null when the codec has none. */
  async decodeDownlink(bytes: Uint8Array, fPort: number, variables: Record<string, string> = {}): Promise<unknown> {
    if (!this.entries.includes('decodeDownlink')) return null;
    const [r] = await this.engine.run(this.id, [{ op: 'down-decode', bytes: Array.from(bytes), fPort, variables }]);
    return r!.ok ? r!.result : null;
  }

  private failure(r: Extract<EngineResult, { ok: false }>): { ok: false; reason: CodecFailure; error: string } {
    const error = r.failure === 'timeout' ? `ran past ${this.limits.timeoutMs} ms and was stopped` : r.error;
    this.lastProblem = error;
    return { ok: false, reason: r.failure, error };
  }

  /** Count a timed-out batch; after too many in a row the codec is switched off for a while. */
  private noteTimeout(): void {
    this.consecutiveTimeouts++;
    this.lastProblem = `ran past ${this.limits.timeoutMs} ms and was stopped`;
    if (this.consecutiveTimeouts < this.maxTimeouts) return;
    this.disabledUntil = this.now() + this.cooldown;
    this.lastProblem = `timed out ${this.consecutiveTimeouts} times in a row; switched off for ${Math.round(this.cooldown / 1000)} s`;
    this.cooldown = Math.min(this.cooldown * 2, 3_600_000);
    this.consecutiveTimeouts = 0;
  }

  unload(): void {
    this.engine.unload(this.id);
  }
}
