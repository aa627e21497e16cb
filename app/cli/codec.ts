// `fieldproof codec test FILE ...`: run a LoRaWAN payload codec once, in the same isolated engine
// and with the same mapping to readings as the gateway, and show what would be journaled.
import { testDownlink, testUplink, type DownlinkTestResult, type UplinkTestResult } from '../../gateway/codecs/codec-test.ts';
import { CodecEngine } from '../../gateway/codecs/engine/host.ts';
import { CodecLoadError, JsCodec, MAX_CODEC_BYTES } from '../../gateway/codecs/js-codec.ts';
import { parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';

const HELP = `usage: fieldproof codec test FILE --fport N --hex HEX [--variables JSON] [--json]
       fieldproof codec test FILE --downlink JSON [--fport N] [--variables JSON] [--json]

Runs a payload codec (The Things Stack / ChirpStack decodeUplink, normalizeUplink, encodeDownlink,
decodeDownlink; TTN v2 Decoder/Encoder; ChirpStack v3 Decode/Encode) once in the isolated engine.

Uplink: prints {"data","normalized","warnings","errors","readings"}: data as the decoder returned
it, normalized from normalizeUplink (or null), readings as the gateway would journal them.
Downlink (--downlink): prints {"bytes","fPort","decoded","warnings","errors"}.

  --fport N           the LoRaWAN port, 1..223 (for --downlink: the port asked for, if any)
  --hex HEX           the decrypted payload
  --downlink JSON     encode this object with the codec's encoder instead
  --variables JSON    the device's codec variables, an object of strings
  --timeout-ms N      limit per run (default 100, as the gateway's codecTimeoutMs)
  --json              print JSON

FILE - reads the codec from stdin.

Exit 0 when the codec ran (even when it returned errors), 1 when it failed to load, threw or
timed out, 2 on bad arguments.`;

interface Parsed {
  file: string;
  fPort: number | null;
  bytes: Buffer | null;
  downlink: unknown;
  variables: Record<string, string>;
  timeoutMs: number;
  json: boolean;
}

function parse(argv: string[]): Parsed {
  const [sub, ...rest] = argv;
  if (sub !== 'test') throw new UsageError(sub === undefined ? 'missing sub-verb; try fieldproof codec test --help' : `unknown sub-verb ${JSON.stringify(sub)}; the one there is: test`);
  const { values, positionals } = parseFlags(rest, {
    fport: { type: 'string' }, hex: { type: 'string' }, downlink: { type: 'string' }, variables: { type: 'string' },
    'timeout-ms': { type: 'string' }, json: { type: 'boolean' },
  }, true);
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing FILE, the codec' : 'one codec FILE only');
  const downlink = values.downlink !== undefined ? jsonFlag(values.downlink, 'downlink') : undefined;
  let fPort: number | null = null;
  if (values.fport !== undefined) {
    fPort = Number(values.fport);
    if (!Number.isInteger(fPort) || fPort < 1 || fPort > 223) throw new UsageError(`--fport must be an integer 1..223, got ${JSON.stringify(values.fport)}`);
  } else if (downlink === undefined) throw new UsageError('missing --fport');
  let bytes: Buffer | null = null;
  if (downlink === undefined) {
    if (values.hex === undefined) throw new UsageError('missing --hex (or --downlink JSON)');
    const hex = values.hex.replace(/\s+/g, '');
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new UsageError('--hex must be an even number of hex digits');
    bytes = Buffer.from(hex, 'hex');
  } else if (values.hex !== undefined) throw new UsageError('--hex and --downlink do not go together');
  const variables: Record<string, string> = {};
  if (values.variables !== undefined) {
    const v = jsonFlag(values.variables, 'variables');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('--variables must be a JSON object');
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new UsageError(`--variables: ${k} must be text (ChirpStack variables are strings)`);
      variables[k] = String(x);
    }
  }
  const timeoutMs = values['timeout-ms'] === undefined ? 100 : Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 10_000) throw new UsageError('--timeout-ms must be an integer 1..10000');
  return { file: positionals[0]!, fPort, bytes, downlink, variables, timeoutMs, json: values.json === true };
}

function jsonFlag(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${flag} is not JSON: ${(err as Error).message}`);
  }
}

function show(p: Parsed, result: UplinkTestResult | DownlinkTestResult): void {
  if (p.json) return printJson(result);
  const lines: string[] = [];
  if ('readings' in result) {
    lines.push(`data: ${JSON.stringify(result.data)}`);
    if (result.normalized !== null) lines.push(`normalized: ${JSON.stringify(result.normalized)}`);
    for (const r of result.readings) lines.push(`  ${r.metric} = ${r.value === null ? '-' : r.value}${r.unit ? ' ' + r.unit : ''}${r.state !== undefined ? `  (${JSON.stringify(r.state)})` : ''}${r.quality?.flags.length ? `  [${r.quality.flags.join(', ')}]` : ''}`);
  } else {
    lines.push(`bytes: ${result.bytes ?? '-'}  fPort: ${result.fPort ?? '-'}`);
    if (result.decoded !== null) lines.push(`decodeDownlink: ${JSON.stringify(result.decoded)}`);
  }
  for (const w of result.warnings) lines.push(`warning: ${w}`);
  for (const e of result.errors) lines.push(`error: ${e}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export const command: Command = {
  summary: 'run a LoRaWAN payload codec once and show the readings it would give',
  help: HELP,
  handlesHelp: false,
  async run(argv) {
    const p = parse(argv);
    const engine = new CodecEngine();
    await engine.start();
    try {
      let codec: JsCodec;
      try {
        const opts = { limits: { timeoutMs: p.timeoutMs } };
        codec = p.file === '-' ? await JsCodec.load(engine, 'stdin', await readStdin(), opts) : await JsCodec.fromFile(engine, p.file, opts);
      } catch (err) {
        if (!(err instanceof CodecLoadError)) throw err;
        const empty = p.downlink !== undefined
          ? { bytes: null, fPort: null, decoded: null, warnings: [], errors: [err.message] }
          : { data: null, normalized: null, warnings: [], errors: [err.message], readings: [] };
        if (p.json) printJson(empty);
        process.stderr.write(`fieldproof codec: ${err.message}\n`);
        return 1;
      }
      const run = p.downlink !== undefined
        ? await testDownlink(codec, { data: p.downlink, fPort: p.fPort, variables: p.variables })
        : await testUplink(codec, { bytes: p.bytes!, fPort: p.fPort!, variables: p.variables, recvTime: Date.now() });
      show(p, run.result);
      if (!run.ok) process.stderr.write(`fieldproof codec: ${run.result.errors[0]}\n`);
      return run.ok ? 0 : 1;
    } finally {
      await engine.stop();
    }
  },
};

/** The codec from stdin, read no further than one byte past the engine's size limit, which then refuses it. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > MAX_CODEC_BYTES) {
      process.stdin.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
