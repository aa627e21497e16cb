// Picks the store the config names, and imports only that one: pg is not loaded by a sink that
// keeps its batches in LevelDB.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SinkConfig } from '../config.ts';
import { ConfigError } from '../../kernel/config/errors.ts';
import type { SinkStore } from './types.ts';

export async function createStore(config: SinkConfig, log?: Logger): Promise<SinkStore> {
  if (config.store.kind === 'postgres') {
    const url = process.env.FIELDPROOF_SINK_PG ?? config.store.url;
    if (!url) throw new ConfigError('store: postgres needs url (or FIELDPROOF_SINK_PG)');
    const { PostgresSinkStore } = await import('./postgres-store.ts');
    return new PostgresSinkStore({ url, poolSize: config.store.poolSize, readings: config.readings, ...(log ? { log } : {}), ...(config.store.schema ? { schema: config.store.schema } : {}) });
  }
  const { LevelSinkStore } = await import('./level-store.ts');
  return new LevelSinkStore(join(config.dataDir, 'store'), { readings: config.readings.enabled, ...(log ? { log } : {}) });
}
