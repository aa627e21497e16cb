// `fieldproof probe mhz19|ion7550 ...`: read one device once and print what it said. The first thing
// a technician runs on site, so every failure names its cause in one line.
import { z } from 'zod';
import { parseFlags, positiveInt, printJson, requireFlag, UsageError, type Command } from '../../kernel/command.ts';
import { loadYamlConfig } from '../../kernel/config/load.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import { ion7550DriverSchema } from '../../drivers/ion7550/config.ts';
import { Ion7550Decoder, modbusTarget, readMap, type BlockResults } from '../../drivers/ion7550/ion7550.ts';
import { ModbusLink } from '../../drivers/ion7550/modbus-link.ts';
import { registerSchema } from '../../drivers/ion7550/register-map.ts';
import { Mhz19Client } from '../../drivers/mhz19/client.ts';
import { TimeoutError } from '../../drivers/poll/errors.ts';
import { deviceFailure } from './device-errors.ts';

const HELP = `usage: fieldproof probe mhz19 --port PATH [--timeout-ms N] [--json]
       fieldproof probe ion7550 (--tcp HOST:PORT | --port PATH [--baud N] [--parity none|even|odd])
                                --unit ID [--map FILE] [--timeout-ms N] [--json]

Reads the device once and prints what it answered.
  mhz19     CO2 and temperature (command 0x86), and the detection range and ABC setting where the
            sensor reports them. Serial 9600 8N1.
  ion7550   every register of the map (the factory map, or --map FILE: a YAML list of entries
            {metric, register, type, scale, unit}) in as few FC 03 requests as possible.

Exit codes: 0 read, 2 bad usage, 3 wrong port or host, 4 no answer, 5 garbled answer,
6 Modbus exception.`;

export const command: Command = {
  summary: 'read one MH-Z19 or ION7550 once and print what it said',
  help: HELP,
  async run(argv) {
    const [kind, ...rest] = argv;
    if (kind === 'mhz19') return probeMhz19(rest);
    if (kind === 'ion7550') return probeIon7550(rest);
    throw new UsageError(kind === undefined ? 'which device? probe mhz19 or probe ion7550' : `unknown device ${JSON.stringify(kind)}; one of: mhz19, ion7550`);
  },
};

async function probeMhz19(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { port: { type: 'string' }, 'timeout-ms': { type: 'string' }, json: { type: 'boolean' } });
  const path = requireFlag(values.port, 'port');
  const timeoutMs = positiveInt(values['timeout-ms'], 'timeout-ms', 1000);
  const client = new Mhz19Client(path, timeoutMs);
  const started = Date.now();
  try {
    await client.open();
    const reading = await client.readCo2();
    // older MH-Z19 firmware does not answer these two: leave them out rather than fail
    const optional = async <T>(read: () => Promise<T>): Promise<T | null> => {
      try {
        return await read();
      } catch (err) {
        if (err instanceof TimeoutError) return null;
        throw err;
      }
    };
    const rangePpm = await optional(() => client.getRange());
    const abc = await optional(() => client.getAbc());
    const result = { device: 'mhz19', port: path, co2Ppm: reading.co2Ppm, temperatureC: reading.temperatureC, status: reading.status, rangePpm, abc, ms: Date.now() - started };
    if (values.json) printJson(result);
    else {
      const extras = [rangePpm !== null ? `range ${rangePpm} ppm` : null, abc !== null ? `ABC ${abc ? 'on' : 'off'}` : null].filter(Boolean).join(', ');
      process.stdout.write(`MH-Z19 on ${path}: ${reading.co2Ppm} ppm CO2, ${reading.temperatureC} C${extras ? ` (${extras})` : ''}\n`);
    }
    return 0;
  } catch (err) {
    throw await deviceFailure(err, path);
  } finally {
    await client.close();
  }
}

function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`--tcp must be HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

async function probeIon7550(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    tcp: { type: 'string' },
    port: { type: 'string' },
    baud: { type: 'string' },
    parity: { type: 'string' },
    unit: { type: 'string' },
    map: { type: 'string' },
    'timeout-ms': { type: 'string' },
    json: { type: 'boolean' },
  });
  if ((values.tcp === undefined) === (values.port === undefined)) throw new UsageError('give exactly one of --tcp HOST:PORT or --port PATH');
  const unitText = requireFlag(values.unit, 'unit');
  const unit = Number(unitText);
  if (!Number.isInteger(unit) || unit < 0 || unit > 255) throw new UsageError(`--unit must be 0..255, got ${JSON.stringify(unitText)}`);
  if (values.parity !== undefined && !['none', 'even', 'odd'].includes(values.parity)) throw new UsageError(`--parity must be none, even or odd`);
  const timeoutMs = positiveInt(values['timeout-ms'], 'timeout-ms', 1000);
  const registers = values.map ? loadYamlConfig(values.map, z.array(registerSchema).min(1)) : undefined;
  const parsed = ion7550DriverSchema.safeParse({
    kind: 'ion7550',
    id: 'probe',
    unit,
    timeoutMs,
    ...(values.tcp ? { tcp: parseHostPort(values.tcp) } : { rtu: { port: values.port, baudRate: positiveInt(values.baud, 'baud', 19200), parity: values.parity ?? 'none' } }),
    ...(registers ? { registers } : {}),
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? 'invalid options');
  const config = parsed.data;
  const decoder = new Ion7550Decoder(config);
  const link = new ModbusLink(modbusTarget(config), timeoutMs);
  const started = Date.now();
  try {
    await link.connect();
    const results: BlockResults = new Array(decoder.blocks.length);
    await readMap(link, unit, decoder.blocks, results);
    const readings: ReadingInput[] = [];
    decoder.decode(results, started, 0, (r) => readings.push(r));
    const out: Record<string, { value: number | null; unit: string; flags?: string[] }> = {};
    for (const r of readings) out[r.metric] = { value: r.value, unit: r.unit, ...(r.quality?.flags.length ? { flags: r.quality.flags } : {}) };
    if (values.json) printJson({ device: 'ion7550', target: link.where, unit, requests: decoder.blocks.length, readings: out, ms: Date.now() - started });
    else {
      process.stdout.write(`ION7550 unit ${unit} at ${link.where} (${decoder.blocks.length} request${decoder.blocks.length > 1 ? 's' : ''}):\n`);
      const width = Math.max(...Object.keys(out).map((k) => k.length));
      for (const [metric, r] of Object.entries(out)) {
        process.stdout.write(`  ${metric.padEnd(width)}  ${r.value === null ? '-' : r.value} ${r.unit}${r.flags ? `  [${r.flags.join(', ')}]` : ''}\n`);
      }
    }
    return 0;
  } catch (err) {
    throw await deviceFailure(err, values.port);
  } finally {
    await link.close();
  }
}
