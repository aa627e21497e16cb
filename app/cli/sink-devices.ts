import { request } from 'undici';
import { isHex } from '../../protocol/hash.ts';
import { isValidName } from '../../protocol/records.ts';
import { redactUrl } from '../../kernel/redact.ts';
import { loadSinkConfig } from '../../cloud-sink/config.ts';
import { CommandFailure, parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';

const HELP = `usage: fieldproof sink-devices add --id ID --key HEX [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices list [--url URL] [--token T] [--config FILE]

Registers a device's Ed25519 public key with a running sink, or lists the registered devices, as
JSON. The sink's URL and admin token come from --url and --token, or from the sink's --config
(its listen address and adminToken); FIELDPROOF_SINK_ADMIN_TOKEN also gives the token.
A device's key comes from: fieldproof keys show --data-dir DIR --json`;

export const command: Command = {
  summary: 'register or list device keys on a running sink',
  help: HELP,
  handlesHelp: true,
  async run(argv) {
    const [verb, ...rest] = argv;
    if (verb === undefined || verb === '--help' || verb === '-h' || rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(HELP + '\n');
      return verb === undefined ? 2 : 0;
    }
    if (verb !== 'add' && verb !== 'list') throw new UsageError(`unknown sub-verb ${JSON.stringify(verb)}; add or list`);
    const { values } = parseFlags(rest, {
      id: { type: 'string' }, key: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, config: { type: 'string', short: 'c' },
    });
    let url = values.url;
    let token = values.token ?? process.env.FIELDPROOF_SINK_ADMIN_TOKEN;
    if (values.config) {
      const c = loadSinkConfig(values.config);
      url ??= `${c.tls ? 'https' : 'http'}://${c.listen}`;
      token ??= c.adminToken;
    }
    if (!url) throw new UsageError('missing --url (or --config)');
    if (!token) throw new UsageError('missing --token (or FIELDPROOF_SINK_ADMIN_TOKEN, or adminToken in --config)');
    const base = url.replace(/\/+$/, '');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let res;
    try {
      if (verb === 'add') {
        if (!isValidName(values.id)) throw new UsageError('--id must be 1-128 letters, digits, dot, dash, colon or underscore');
        if (!isHex(values.key, 32)) throw new UsageError('--key must be a 64-digit lowercase hex Ed25519 public key');
        res = await request(`${base}/v1/devices`, { method: 'POST', headers, body: JSON.stringify({ id: values.id, key: values.key }) });
      } else {
        res = await request(`${base}/v1/devices`, { method: 'GET', headers });
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new CommandFailure(`cannot reach the sink at ${redactUrl(base)}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CommandFailure(`the sink answered ${res.statusCode} with something that is not JSON`);
    }
    if (res.statusCode >= 400) throw new CommandFailure(`the sink refused: ${String(body.error ?? res.statusCode)}`);
    printJson(body);
    return 0;
  },
};
