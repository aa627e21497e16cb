// Picks the store the config names.
import { join } from 'node:path';
import type { SinkConfig } from '../config.ts';
import { ConfigError } from '../../runtime/config/errors.ts';
import { LevelSinkStore } from './level-store.ts';
import { PostgresSinkStore } from './postgres-store.ts';
import type { SinkStore } from './types.ts';

export function createStore(config: SinkConfig): SinkStore {
  if (config.store.kind === 'postgres') {
    const url = process.env.FIELDPROOF_SINK_PG ?? config.store.url;
    if (!url) throw new ConfigError('store: postgres needs url (or FIELDPROOF_SINK_PG)');
    return new PostgresSinkStore({ url, poolSize: config.store.poolSize, ...(config.store.schema ? { schema: config.store.schema } : {}) });
  }
  return new LevelSinkStore(join(config.dataDir, 'store'));
}
