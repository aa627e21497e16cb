import { isHex } from '../../protocol/hash.ts';
import { endorseRotation } from '../../protocol/key-rotation.ts';
import { isValidName } from '../../protocol/records.ts';
import { loadKey, loadOrCreateKey } from '../../runtime/device-key.ts';
import { parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';
import { dataDirFrom } from './data-dir.ts';

export const command: Command = {
  summary: 'create or show the device key',
  help: `usage: fieldproof keys init --data-dir DIR [--json]
       fieldproof keys show --data-dir DIR [--json]
       fieldproof keys endorse --data-dir DIR --device ID --operator ADDR --new-key HEX --valid-from MS [--json]

init  makes the device's Ed25519 key (<DIR>/device.key, mode 0600) unless one exists.
show  prints the public key, making the key first if there is none yet, so that a script can
      register the device with a sink before it first runs. --json prints {"key":"<hex>"}.
endorse  signs, with the key in DIR, the rotation of device ID to --new-key from --valid-from in
      the registry of operator account ADDR: the endorsement fieldproof sink-devices rotate takes.
      --json prints {"endorsement","oldKey","newKey"}.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      'data-dir': { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' },
      device: { type: 'string' }, operator: { type: 'string' }, 'new-key': { type: 'string' }, 'valid-from': { type: 'string' },
    }, true);
    const [sub, ...extra] = positionals;
    if (sub !== 'init' && sub !== 'show' && sub !== 'endorse') throw new UsageError('name a sub-verb: init, show or endorse');
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const dir = dataDirFrom(values);
    if (sub === 'endorse') return endorse(dir, values);
    const existed = loadKey(dir) !== null;
    const { key } = loadOrCreateKey(dir);
    if (values.json) printJson(sub === 'init' ? { key: key.public, created: !existed } : { key: key.public });
    else process.stdout.write(sub === 'init' && existed ? `key exists: ${key.public}\n` : `${key.public}\n`);
    return 0;
  },
};

/** The old key's endorsement of its successor; the old key must exist (an endorsement never makes one). */
function endorse(dir: string, v: Record<string, string | boolean | undefined>): number {
  if (!isValidName(v.device)) throw new UsageError('--device must name the device');
  if (typeof v.operator !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(v.operator)) throw new UsageError('--operator must be the operator\'s Aptos account address');
  if (!isHex(v['new-key'], 32)) throw new UsageError('--new-key must be the new 64-digit lowercase hex Ed25519 public key');
  const validFromMs = Number(v['valid-from']);
  if (typeof v['valid-from'] !== 'string' || !Number.isSafeInteger(validFromMs) || validFromMs < 0) throw new UsageError('--valid-from must be a time in integer ms since the epoch');
  const old = loadKey(dir);
  if (!old) throw new UsageError(`no device key in ${dir} to endorse with`);
  const endorsement = endorseRotation(old, { operator: v.operator, device: v.device, newKey: v['new-key'], validFromMs });
  if (v.json) printJson({ endorsement, oldKey: old.public, newKey: v['new-key'] });
  else process.stdout.write(`${endorsement}\n`);
  return 0;
}
