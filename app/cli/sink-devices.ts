import { request } from 'undici';
import { isHex } from '../../protocol/hash.ts';
import { isValidName } from '../../protocol/records.ts';
import { redactUrl } from '../../kernel/redact.ts';
import { loadSinkConfig } from '../../cloud-sink/config.ts';
import { CommandFailure, parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';
import { loadOperatorKey } from '../../cloud-sink/mrv/note-key.ts';
import { NOTE_EVENT_KINDS, signNote, type NoteEventKind } from '../../cloud-sink/mrv/notes.ts';

const HELP = `usage: fieldproof sink-devices add --id ID --key HEX [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices list [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices note --device ID --sensor METER --event-ts MS --event-kind KIND --text TEXT
                                    --operator NAME --operator-key DIR|FILE [--no-credit] [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices notes --device ID [--url URL] [--config FILE]
       fieldproof sink-devices rotate --id ID --key NEWHEX --valid-from MS (--endorsement HEX | --operator-alone)
                                      [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices revoke --id ID [--key HEX] --from MS [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices pending-restarts [--device ID] [--all] [--url URL] [--token T] [--config FILE]
       fieldproof sink-devices accept-restart --device ID [--epoch N] [--url URL] [--token T] [--config FILE]

Registers a device's Ed25519 public key with a running sink, or lists the registered devices, as
JSON. The sink's URL and admin token come from --url and --token, or from the sink's --config
(its listen address and adminToken); FIELDPROOF_SINK_ADMIN_TOKEN also gives the token.
A device's key comes from: fieldproof keys show --data-dir DIR --json

note   explains a meter event of the MRV report (the event's reading time and kind as the report
       lists them; KIND: ${NOTE_EVENT_KINDS.join(', ')}), signed here with the operator's key
       (made with fieldproof keys init --data-dir DIR; its public key goes in the sink config's
       report.operators). The sink keeps every note with the data; it lets the event's interval
       be credited only when its signer is listed there. --no-credit records the explanation only.
notes  lists a device's notes and whether each counts.
rotate gives the device a new key, valid for batches created from --valid-from on; the old key
       stays valid for the batches created before. --endorsement is the old key's signature over
       the rotation (fieldproof keys endorse, run where the old key is); --operator-alone replaces
       a key that is lost, on the operator's word alone. A sink that anchors on Aptos records it in
       the operator's registry on chain first (rotate_device_key or replace_device_key).
revoke revokes a key of the device (its current key unless --key) from --from: the sink accepts no
       new batch of it (refused revoked_key) and anchors none; on chain, revoke_device_key, after
       which a verifier refuses a batch of that key created from --from on, or anchored after.

pending-restarts  lists the new epochs devices asked for (a device that lost its journal, or found it
       behind the sink, starts a new chain with a signed restart record) that no admin accepted yet;
       --all lists the accepted ones too. Until its restart is accepted the device's new batches
       are refused (restart_pending) and it keeps journaling.
accept-restart  makes the device's pending epoch (--epoch N when it asked for several) its current
       one: the sink then stores the new chain, joined to the batch the restart record names, and
       keeps the old chain as it is. Check first that the device was restored on purpose.`;

export const command: Command = {
  summary: 'register, list, rotate or revoke device keys on a running sink, and accept their restarts',
  help: HELP,
  handlesHelp: true,
  async run(argv) {
    const [verb, ...rest] = argv;
    if (verb === undefined || verb === '--help' || verb === '-h' || rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(HELP + '\n');
      return verb === undefined ? 2 : 0;
    }
    const verbs = ['add', 'list', 'note', 'notes', 'rotate', 'revoke', 'pending-restarts', 'accept-restart'];
    if (!verbs.includes(verb)) throw new UsageError(`unknown sub-verb ${JSON.stringify(verb)}; add, list, note, notes, rotate, revoke, pending-restarts or accept-restart`);
    const { values } = parseFlags(rest, {
      'valid-from': { type: 'string' }, endorsement: { type: 'string' }, 'operator-alone': { type: 'boolean' }, from: { type: 'string' },
      id: { type: 'string' }, key: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, config: { type: 'string', short: 'c' },
      device: { type: 'string' }, sensor: { type: 'string' }, 'event-ts': { type: 'string' }, 'event-kind': { type: 'string' }, text: { type: 'string' },
      operator: { type: 'string' }, 'operator-key': { type: 'string' }, 'no-credit': { type: 'boolean' }, epoch: { type: 'string' }, all: { type: 'boolean' },
    });
    let url = values.url;
    let token = values.token ?? process.env.FIELDPROOF_SINK_ADMIN_TOKEN;
    if (values.config) {
      const c = loadSinkConfig(values.config);
      url ??= `${c.tls ? 'https' : 'http'}://${c.listen}`;
      token ??= c.adminToken;
    }
    if (!url) throw new UsageError('missing --url (or --config)');
    if (verb === 'notes' || verb === 'note' || verb === 'accept-restart' || (verb === 'pending-restarts' && values.device !== undefined)) {
      if (!isValidName(values.device)) throw new UsageError('--device must be a device id');
    }
    if (!token && verb !== 'notes') throw new UsageError('missing --token (or FIELDPROOF_SINK_ADMIN_TOKEN, or adminToken in --config)');
    const base = url.replace(/\/+$/, '');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let res;
    try {
      if (verb === 'pending-restarts' || verb === 'accept-restart') {
        res = await restartRequest(verb, base, headers, values);
      } else if (verb === 'note') {
        res = await request(`${base}/v1/devices/${values.device}/notes`, { method: 'POST', headers, body: JSON.stringify(noteFrom(values)) });
      } else if (verb === 'notes') {
        res = await request(`${base}/v1/devices/${values.device}/notes`, { method: 'GET' });
      } else if (verb === 'rotate' || verb === 'revoke') {
        const [path, body] = keyChange(verb, values);
        res = await request(`${base}/v1/devices/${encodeURIComponent(values.id as string)}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      } else if (verb === 'add') {
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
    if (verb === 'pending-restarts' && !values.all) body = { restarts: (body.restarts as { acceptedAt: number | null }[]).filter((r) => r.acceptedAt === null) };
    printJson(body);
    return 0;
  },
};

/** The signed note the flags describe; every mistake is a one-line usage error. */
function noteFrom(v: Record<string, string | boolean | undefined>) {
  const eventTs = Number(v['event-ts']);
  if (!Number.isSafeInteger(eventTs) || eventTs <= 0) throw new UsageError('--event-ts must be the event\'s reading time, integer ms since the epoch, as the report lists it');
  const kind = v['event-kind'] as NoteEventKind;
  if (!NOTE_EVENT_KINDS.includes(kind)) throw new UsageError(`--event-kind must be one of ${NOTE_EVENT_KINDS.join(', ')}`);
  if (!isValidName(v.sensor)) throw new UsageError('--sensor must name the meter (its sensor id)');
  if (typeof v.text !== 'string' || v.text.trim() === '') throw new UsageError('--text must say what happened and what shows it');
  if (!isValidName(v.operator)) throw new UsageError('--operator must be the operator id the sink config lists');
  if (typeof v['operator-key'] !== 'string') throw new UsageError('missing --operator-key (a folder made by fieldproof keys init, or its device.key)');
  const key = loadOperatorKey(v['operator-key']);
  if (typeof key === 'string') throw new UsageError(`--operator-key: ${key}`);
  return signNote({
    device: v.device as string, sensor: v.sensor, eventTs, eventKind: kind, credit: !v['no-credit'], text: v.text, operator: v.operator, at: Date.now(),
  }, key);
}

/** A rotation or revocation as the flags give it; every mistake is a one-line usage error. */
function keyChange(verb: 'rotate' | 'revoke', v: Record<string, string | boolean | undefined>): [string, Record<string, unknown>] {
  if (!isValidName(v.id)) throw new UsageError('--id must name the device');
  const time = (flag: string) => {
    const t = Number(v[flag]);
    if (typeof v[flag] !== 'string' || !Number.isSafeInteger(t) || t < 0) throw new UsageError(`--${flag} must be a time in integer ms since the epoch`);
    return t;
  };
  if (verb === 'revoke') {
    if (v.key !== undefined && !isHex(v.key, 32)) throw new UsageError('--key must be a 64-digit lowercase hex Ed25519 public key');
    return ['revoke', { ...(v.key !== undefined ? { key: v.key } : {}), from: time('from') }];
  }
  if (!isHex(v.key, 32)) throw new UsageError('--key must be the new 64-digit lowercase hex Ed25519 public key');
  const validFrom = time('valid-from');
  if ((v.endorsement === undefined) === (v['operator-alone'] !== true)) throw new UsageError('give --endorsement HEX (the old key\'s signature) or --operator-alone (the old key is lost), one of the two');
  if (v.endorsement !== undefined && !isHex(v.endorsement, 64)) throw new UsageError('--endorsement must be 128 lowercase hex digits');
  return ['rotate', { key: v.key, validFrom, ...(v.endorsement !== undefined ? { endorsement: v.endorsement } : { operatorAlone: true }) }];
}

type Headers = Record<string, string>;

/**
 * The restart sub-verbs. `accept-restart` without --epoch accepts the device's one pending epoch;
 * with none pending, or several, it says so rather than guess.
 */
async function restartRequest(verb: string, base: string, headers: Headers, v: Record<string, string | boolean | undefined>) {
  const query = v.device ? `?device=${v.device as string}` : '';
  if (verb === 'pending-restarts') return request(`${base}/v1/restarts${query}`, { method: 'GET', headers });
  let epoch = v.epoch === undefined ? null : Number(v.epoch);
  if (epoch !== null && (!Number.isSafeInteger(epoch) || epoch < 2)) throw new UsageError('--epoch must be an integer >= 2');
  if (epoch === null) {
    const res = await request(`${base}/v1/restarts${query}`, { method: 'GET', headers });
    if (res.statusCode !== 200) return res;
    const pending = ((await res.body.json()) as { restarts: { epoch: number; acceptedAt: number | null }[] }).restarts.filter((r) => r.acceptedAt === null);
    if (pending.length === 0) throw new CommandFailure(`device ${v.device as string} has no pending restart`);
    if (pending.length > 1) throw new UsageError(`device ${v.device as string} asked for epochs ${pending.map((r) => r.epoch).join(', ')}: say which with --epoch`);
    epoch = pending[0]!.epoch;
  }
  return request(`${base}/v1/devices/${v.device as string}/restarts/${epoch}/accept`, { method: 'POST', headers });
}
