import { loadKey, loadOrCreateKey } from '../../runtime/device-key.ts';
import { parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';
import { dataDirFrom } from './data-dir.ts';

export const command: Command = {
  summary: 'create or show the device key',
  help: `usage: fieldproof keys init --data-dir DIR [--json]
       fieldproof keys show --data-dir DIR [--json]

init  makes the device's Ed25519 key (<DIR>/device.key, mode 0600) unless one exists.
show  prints the public key, making the key first if there is none yet, so that a script can
      register the device with a sink before it first runs. --json prints {"key":"<hex>"}.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { 'data-dir': { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [sub, ...extra] = positionals;
    if (sub !== 'init' && sub !== 'show') throw new UsageError('name a sub-verb: init or show');
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const dir = dataDirFrom(values);
    const existed = loadKey(dir) !== null;
    const { key } = loadOrCreateKey(dir);
    if (values.json) printJson(sub === 'init' ? { key: key.public, created: !existed } : { key: key.public });
    else process.stdout.write(sub === 'init' && existed ? `key exists: ${key.public}\n` : `${key.public}\n`);
    return 0;
  },
};
