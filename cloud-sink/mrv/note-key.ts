// The operator's signing key for notes: the same key file `fieldproof keys init --data-dir DIR`
// makes (DIR/device.key, {"v":1,"seed":...}), given as that folder or the file itself.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isHex } from '../../protocol/hash.ts';
import { keyFromSeed, type DeviceKey } from '../../protocol/signature.ts';

export function loadOperatorKey(path: string): DeviceKey | string {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'device.key') : path;
  let parsed: { v?: unknown; seed?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${file} does not exist (make one with: fieldproof keys init --data-dir DIR)` : `${file} is not a fieldproof key file`;
  }
  if (parsed.v !== 1 || !isHex(parsed.seed, 32)) return `${file} is not a fieldproof key file (no 32-byte seed)`;
  return keyFromSeed(parsed.seed);
}
