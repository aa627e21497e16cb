// The device's Ed25519 key: made on first start, kept in <dataDir>/device.key with mode 0600.
import { join } from 'node:path';
import type { DeviceKey } from '../protocol/signature.ts';
import { loadKeyFile, loadOrCreateKeyFile } from '../kernel/key-file.ts';

export { KeyFileError } from '../kernel/key-file.ts';

export const KEY_FILE = 'device.key';

export function keyPath(dataDir: string): string {
  return join(dataDir, KEY_FILE);
}

export function loadKey(dataDir: string): DeviceKey | null {
  return loadKeyFile(keyPath(dataDir));
}

/** Load the key, or make one: written to a temp file, synced, renamed, so a crash never leaves half a key. */
export function loadOrCreateKey(dataDir: string): { key: DeviceKey; created: boolean } {
  return loadOrCreateKeyFile(keyPath(dataDir));
}
