// Device vendors' payload decoders (`function decodeUplink(input)`, as ChirpStack v4 and The Things
// Stack run them) in a node:vm context of their own, with a time limit per uplink (ChirpStack's
// 100 ms). What keeps a codec from hanging or crashing the daemon:
//   - its context holds only JavaScript's own built-ins: no require, process, Buffer or host objects,
//     string eval and WebAssembly switched off, Atomics (which can block a thread) removed;
//   - every call runs under vm's timeout, promise jobs included (microtaskMode 'afterEvaluate');
//   - its result is turned into JSON inside the context, under the same limit, so that no getter,
//     toJSON or Proxy trap of the codec's can run later on the host's time;
//   - inputs go in as JSON text, results come out as strings: no object crosses between realms.
// A codec that keeps timing out is switched off for a while (and reported), so one broken script
// costs its own device's data, not the site's throughput. vm is isolation against faulty code, not a
// security boundary against hostile code: configure only codecs you would run yourself.
import { readFileSync } from 'node:fs';
import { Script, createContext, type Context } from 'node:vm';
import { readingsFromDecoded, type Codec, type CodecOutcome, type UplinkInput } from './codec.ts';

export class CodecLoadError extends Error {
  override name = 'CodecLoadError';
}

export interface JsCodecOptions {
  /** per uplink, ms */
  timeoutMs?: number;
  /** consecutive timeouts after which the codec is switched off for `cooldownMs` (doubling each time) */
  maxConsecutiveTimeouts?: number;
  cooldownMs?: number;
  now?: () => number;
}

/** Set up before the codec's own code runs, so the codec cannot replace what the harness relies on. */
const HARNESS = `
'use strict';
for (const name of ['Atomics', 'SharedArrayBuffer', 'WebAssembly']) delete globalThis[name];
{
  const noop = () => {};
  globalThis.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop };
}
{
  const parse = JSON.parse, stringify = JSON.stringify, now = Date.now, DateCtor = Date, U8 = Uint8Array, StringCtor = String;
  Object.defineProperty(globalThis, '__fieldproofRun', {
    writable: false, configurable: false, enumerable: false,
    value: function (batchJson, progress) {
      const inputs = parse(batchJson);
      for (let i = progress.done; i < inputs.length; i++) {
        progress.current = i;
        progress.startedAt = now();
        const input = inputs[i];
        let out;
        try {
          const r = decodeUplink({ bytes: Array.from(new U8(input.bytes)), fPort: input.fPort, recvTime: new DateCtor(input.recvTime), variables: {} });
          out = 'o' + stringify(r === undefined ? null : r);
        } catch (e) {
          let m;
          try { m = StringCtor(e && typeof e === 'object' && 'message' in e ? e.message : e); } catch { m = 'an unprintable value'; }
          out = 'e' + m;
        }
        progress.results[i] = out;
        progress.done = i + 1;
      }
    },
  });
}
`;

const RUN = new Script('__fieldproofRun(__fieldproofInput, __fieldproofProgress)', { filename: 'fieldproof-codec-harness.js' });
const NEW_PROGRESS = new Script('({ done: 0, current: -1, startedAt: 0, results: [] })');

interface Progress {
  done: number;
  current: number;
  startedAt: number;
  results: string[];
}

export class JsCodec implements Codec {
  private readonly context: Context;
  private readonly timeoutMs: number;
  private readonly maxTimeouts: number;
  private readonly cooldownBase: number;
  private readonly now: () => number;
  private consecutiveTimeouts = 0;
  private disabledUntil = 0;
  private cooldown: number;
  /** what happened last, for the device status */
  lastProblem: string | null = null;

  readonly name: string;

  /** Compile a codec; a syntax error or a missing decodeUplink is a CodecLoadError naming the file. */
  constructor(name: string, source: string, opts: JsCodecOptions = {}) {
    this.name = name;
    this.timeoutMs = opts.timeoutMs ?? 100;
    this.maxTimeouts = opts.maxConsecutiveTimeouts ?? 3;
    this.cooldownBase = opts.cooldownMs ?? 60_000;
    this.cooldown = this.cooldownBase;
    this.now = opts.now ?? Date.now;
    // A null-prototype sandbox: an ordinary {} would bring the host's Object.prototype into the
    // context, and through its constructor the host's Function, and so `process`.
    this.context = createContext(Object.create(null), { name: `codec ${name}`, codeGeneration: { strings: false, wasm: false }, microtaskMode: 'afterEvaluate' });
    new Script(HARNESS, { filename: 'fieldproof-codec-harness.js' }).runInContext(this.context);
    let script: Script;
    try {
      script = new Script(withoutExportKeywords(source), { filename: name });
    } catch (err) {
      throw new CodecLoadError(`codec ${name}: ${(err as Error).message}`);
    }
    try {
      // Top-level code runs under the limit too: a codec may not loop while loading either.
      script.runInContext(this.context, { timeout: this.timeoutMs * 10 });
    } catch (err) {
      throw new CodecLoadError(`codec ${name}: failed while loading: ${(err as Error).message}`);
    }
    if (new Script('typeof decodeUplink').runInContext(this.context, { timeout: this.timeoutMs }) !== 'function') {
      throw new CodecLoadError(`codec ${name}: defines no function decodeUplink(input)`);
    }
  }

  static fromFile(file: string, opts?: JsCodecOptions): JsCodec {
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CodecLoadError(`codec ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return new JsCodec(file, source, opts);
  }

  get disabled(): boolean {
    return this.now() < this.disabledUntil;
  }

  decodeBatch(inputs: readonly UplinkInput[]): CodecOutcome[] {
    if (this.disabled) {
      const error = `codec switched off until ${new Date(this.disabledUntil).toISOString()} after ${this.maxTimeouts} timeouts in a row`;
      return inputs.map(() => ({ ok: false, reason: 'disabled', error }));
    }
    const json = JSON.stringify(inputs.map((i) => ({ bytes: Array.from(i.bytes), fPort: i.fPort, recvTime: i.recvTime })));
    const ctx = this.context as Record<string, unknown>;
    ctx.__fieldproofInput = json;
    const progress = NEW_PROGRESS.runInContext(this.context) as Progress;
    ctx.__fieldproofProgress = progress;
    const timedOut = new Set<number>();
    let lastCutShort = -1;
    while (progress.done < inputs.length) {
      try {
        RUN.runInContext(this.context, { timeout: this.timeoutMs });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
          // The harness itself failed (the codec broke a built-in it shares): fail the rest of the batch.
          const error = `codec failed: ${(err as Error).message}`;
          for (let i = progress.done; i < inputs.length; i++) progress.results[i] = 'e' + error;
          break;
        }
        // The limit covers the whole batch; blame only an uplink that used up the limit on its own
        // (or was cut short twice), and resume after it. The context's clock is the real one.
        const i = progress.current;
        const ranOut = Date.now() - progress.startedAt >= this.timeoutMs * 0.9 || i === lastCutShort;
        lastCutShort = i;
        if (i >= progress.done && ranOut) {
          timedOut.add(i);
          progress.results[i] = 't';
          progress.done = i + 1;
          if (this.noteTimeout()) {
            for (let j = progress.done; j < inputs.length; j++) {
              timedOut.add(j);
              progress.results[j] = 'd';
            }
            break;
          }
        }
      }
    }
    ctx.__fieldproofInput = undefined;
    ctx.__fieldproofProgress = undefined;
    if (timedOut.size === 0) this.consecutiveTimeouts = 0;
    const out: CodecOutcome[] = [];
    for (let i = 0; i < inputs.length; i++) out.push(this.outcome(String(progress.results[i] ?? 'e(no result)')));
    return out;
  }

  /** Count a timeout; returns true when the codec has just been switched off. */
  private noteTimeout(): boolean {
    this.consecutiveTimeouts++;
    this.lastProblem = `decodeUplink ran past ${this.timeoutMs} ms and was stopped`;
    if (this.consecutiveTimeouts < this.maxTimeouts) return false;
    this.disabledUntil = this.now() + this.cooldown;
    this.lastProblem = `decodeUplink timed out ${this.consecutiveTimeouts} times in a row; switched off for ${Math.round(this.cooldown / 1000)} s`;
    this.cooldown = Math.min(this.cooldown * 2, 3_600_000);
    this.consecutiveTimeouts = 0;
    return true;
  }

  private outcome(r: string): CodecOutcome {
    switch (r[0]) {
      case 'o': {
        let parsed: unknown;
        try {
          parsed = JSON.parse(r.slice(1));
        } catch {
          return { ok: false, reason: 'bad_output', error: 'decodeUplink returned something JSON cannot hold' };
        }
        const outcome = readingsFromDecoded(parsed);
        if (outcome.ok) this.cooldown = this.cooldownBase;
        return outcome;
      }
      case 't':
        return { ok: false, reason: 'timeout', error: `decodeUplink ran past ${this.timeoutMs} ms and was stopped` };
      case 'd':
        return { ok: false, reason: 'disabled', error: this.lastProblem ?? 'codec switched off' };
      default:
        return { ok: false, reason: 'threw', error: `decodeUplink threw: ${r.slice(1, 300)}` };
    }
  }
}

/**
 * Vendor repositories ship some codecs as ES modules (`export function decodeUplink`); the
 * function is the same, so the keyword is dropped and the file runs as a plain script.
 */
function withoutExportKeywords(source: string): string {
  return source.replace(/^(\s*)export\s+(?:default\s+)?(?=(?:async\s+)?function\b|const\b|let\b|var\b|class\b)/gm, '$1');
}
