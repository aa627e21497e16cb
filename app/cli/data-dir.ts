import { resolve } from 'node:path';
import { loadDeviceConfig } from '../config/device-config.ts';
import { UsageError } from '../../kernel/command.ts';

/** --data-dir DIR, or the dataDir of --config FILE, or $SNAP_DATA under a snap. */
export function dataDirFrom(values: { 'data-dir'?: string | undefined; config?: string | undefined }): string {
  if (values['data-dir']) return resolve(values['data-dir']);
  if (values.config) return loadDeviceConfig(values.config).dataDir;
  if (process.env.SNAP_DATA) return process.env.SNAP_DATA;
  throw new UsageError('missing --data-dir (or --config)');
}
