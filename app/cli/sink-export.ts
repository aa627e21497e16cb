import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSinkConfig } from '../../cloud-sink/config.ts';
import { createStore } from '../../cloud-sink/store/index.ts';
import { CommandFailure, parseFlags, requireFlag, type Command } from '../../kernel/command.ts';

export const command: Command = {
  summary: 'print what the sink stored, as NDJSON batches',
  help: `usage: fieldproof sink-export --config FILE [--device ID]

Prints one JSON line per stored batch, {"header": ..., "records": [...]}, in batch order per device
(devices in name order); a batch the device dropped before sending is {"header": ..., "records": [],
"pruned": true, "cover": ...}, with the device's signed gap record that names it. Reads the store named in the config. A LevelDB store is locked by a running sink:
stop it first, or use a PostgreSQL store, which any number of readers share.`,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, device: { type: 'string' } });
    const config = loadSinkConfig(requireFlag(values.config, 'config'));
    if (config.store.kind === 'level' && !existsSync(join(config.dataDir, 'store', 'CURRENT'))) {
      throw new CommandFailure(`there is no sink store in ${config.dataDir} (has the sink run with this config?)`);
    }
    const store = await createStore(config);
    try {
      await store.open();
    } catch (err) {
      throw new CommandFailure((err as Error).message);
    }
    try {
      const devices = values.device ? [values.device] : (await store.devices()).sort();
      for (const device of devices) {
        // Each recovery epoch is a chain of its own, batches numbered from 1: epoch by epoch, in order.
        for (const epoch of await store.epochs(device)) {
          for await (const { row, lines } of store.batches(device, 1, epoch)) {
            // A pruned batch keeps its cover, so that the line replays through POST /v1/batches as it is.
            const pruned = row.pruned ? `,"pruned":true${row.cover ? `,"cover":${JSON.stringify(row.cover)}` : ''}` : '';
            const line = `{"header":${JSON.stringify(row.header)},"records":[${lines.join(',')}]${pruned}}\n`;
            if (!process.stdout.write(line)) await once(process.stdout, 'drain');
          }
        }
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};
