import { loadSinkConfig, sinkKeyFile } from '../../cloud-sink/config.ts';
import { loadOrCreateKeyFile } from '../../kernel/key-file.ts';
import { parseFlags, printJson, requireFlag, UsageError, type Command } from '../../kernel/command.ts';

export const command: Command = {
  summary: "show the sink's receipt key",
  help: `usage: fieldproof sink-key show --config FILE [--json]

Prints the public half of the sink's own Ed25519 key, which signs the receipts that let devices
delete what they sent (the file named by key: in the config, default <dataDir>/sink.key, mode
0600). The key is made first if there is none yet, so that devices can be given it (uplink.sinkKey)
before the sink first runs. --json prints {"key":"<hex>"}.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, true);
    const [sub, ...extra] = positionals;
    if (sub !== 'show') throw new UsageError('name a sub-verb: show');
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const config = loadSinkConfig(requireFlag(values.config, 'config'));
    const { key } = loadOrCreateKeyFile(sinkKeyFile(config));
    if (values.json) printJson({ key: key.public });
    else process.stdout.write(`${key.public}\n`);
    return 0;
  },
};
