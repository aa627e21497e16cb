// `fieldproof downlink send|list --config FILE ...`: queue a downlink to a LoRaWAN device of the
// running daemon, or list the queue, through the daemon's local HTTP API (the queue lives in the
// daemon, which sends each downlink in its device's next receive window).
import { loadDeviceConfig } from '../config/device-config.ts';
import { parseListen } from '../../runtime/http/config.ts';
import { CommandFailure, parseFlags, printJson, requireFlag, UsageError, type Command } from '../../kernel/command.ts';

const HELP = `usage: fieldproof downlink send --config FILE --device ID (--data JSON | --bytes HEX) [--fport N] [--confirmed] [--json]
       fieldproof downlink list --config FILE [--device ID] [--json]

Queues a downlink for a LoRaWAN device of the running daemon (its config's http: section must be
there; the daemon's local API takes it). --data goes through the device codec's encodeDownlink
(or a legacy Encode/Encoder); --bytes (hex) is sent as it is, on --fport. The downlink goes out
in the receive window after the device's next uplink; each step (queued, sent, acknowledged,
not_acknowledged, refused, failed) is journaled as a "downlink" reading of the device.`;

async function call(configFile: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const config = loadDeviceConfig(configFile);
  if (!config.http) throw new CommandFailure(`${configFile} has no http: section, so the daemon has no local API to queue downlinks through`);
  const addr = parseListen(config.http.listen)!;
  const host = addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...(config.http.token ? { Authorization: `Bearer ${config.http.token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new CommandFailure(`cannot reach the daemon at ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  let json: Record<string, unknown>;
  try {
    json = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new CommandFailure(`the daemon at ${url} answered ${res.status} without JSON`);
  }
  return { status: res.status, json };
}

export const command: Command = {
  summary: 'queue a downlink to a LoRaWAN device of the running daemon, or list the queue',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'send') {
      const { values } = parseFlags(rest, { config: { type: 'string' }, device: { type: 'string' }, data: { type: 'string' }, bytes: { type: 'string' }, fport: { type: 'string' }, confirmed: { type: 'boolean' }, json: { type: 'boolean' } });
      const config = requireFlag(values.config, 'config');
      const device = requireFlag(values.device, 'device');
      if ((values.data === undefined) === (values.bytes === undefined)) throw new UsageError('give either --data JSON or --bytes HEX');
      let data: unknown;
      if (values.data !== undefined) {
        try {
          data = JSON.parse(values.data);
        } catch (err) {
          throw new UsageError(`--data is not JSON: ${(err as Error).message}`);
        }
      }
      if (values.bytes !== undefined && !/^(?:[0-9a-fA-F]{2})+$/.test(values.bytes)) throw new UsageError('--bytes must be hex');
      let fPort: number | undefined;
      if (values.fport !== undefined) {
        fPort = Number(values.fport);
        if (!Number.isInteger(fPort) || fPort < 1 || fPort > 223) throw new UsageError('--fport must be an integer 1..223');
      } else if (values.bytes !== undefined) throw new UsageError('--bytes needs --fport');
      const r = await call(config, 'POST', '/api/downlinks', { device, ...(data !== undefined ? { data } : {}), ...(values.bytes ? { bytes: values.bytes } : {}), ...(fPort !== undefined ? { fPort } : {}), confirmed: values.confirmed === true });
      if (r.status !== 202) throw new CommandFailure(`the daemon refused the downlink (${r.status}): ${String(r.json.error ?? 'no reason given')}`);
      const d = r.json.downlink as { id: string; bytes: string; fPort: number; confirmed: boolean };
      if (values.json) printJson(d);
      else process.stdout.write(`queued ${d.id} for ${device}: ${d.bytes} on port ${d.fPort}${d.confirmed ? ', confirmed' : ''}; it goes out after the device's next uplink\n`);
      return 0;
    }
    if (sub === 'list') {
      const { values } = parseFlags(rest, { config: { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean' } });
      const r = await call(requireFlag(values.config, 'config'), 'GET', `/api/downlinks${values.device ? `?device=${encodeURIComponent(values.device)}` : ''}`);
      if (r.status !== 200) throw new CommandFailure(`the daemon answered ${r.status}: ${String(r.json.error ?? '')}`);
      const list = (r.json.downlinks ?? []) as { id: string; device: string; state: string; bytes: string; fPort: number }[];
      if (values.json) printJson(list);
      else for (const d of list) process.stdout.write(`${d.id}  ${d.device}  ${d.state.padEnd(16)}  port ${d.fPort}  ${d.bytes}\n`);
      return 0;
    }
    throw new UsageError(sub === undefined ? 'missing sub-verb: send or list' : `unknown sub-verb ${JSON.stringify(sub)}; one of: send, list`);
  },
};
