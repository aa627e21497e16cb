// An Ed25519 key in a file of its own (the device's key, the sink's receipt key): JSON
// {"v":1,"seed","public"}, mode 0600, made with an atomic write so a crash never leaves half a key.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKey, keyFromSeed, type DeviceKey } from '../protocol/signature.ts';
import { isHex } from '../protocol/hash.ts';
import { createFileAtomic } from './atomic-file.ts';
import { UserError } from './user-error.ts';

export class KeyFileError extends UserError {
  override name = 'KeyFileError';
}

export function loadKeyFile(file: string): DeviceKey | null {
  if (!existsSync(file)) return null;
  let parsed: { v?: number; seed?: unknown; public?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new KeyFileError(`${file} is not a fieldproof key file (not JSON)`);
  }
  if (parsed.v !== 1 || !isHex(parsed.seed, 32)) throw new KeyFileError(`${file} is not a fieldproof key file (no 32-byte seed)`);
  const key = keyFromSeed(parsed.seed);
  if (parsed.public !== undefined && parsed.public !== key.public) throw new KeyFileError(`${file} is damaged: its public key does not match its seed`);
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600); // tighten a key file someone copied in with loose permissions
  return key;
}

/**
 * Load the key, or make one: written to a temp file, synced, linked to its name. Of two processes
 * making it at once (two sink processes sharing a data folder) one wins and both use its key.
 */
export function loadOrCreateKeyFile(file: string): { key: DeviceKey; created: boolean } {
  const existing = loadKeyFile(file);
  if (existing) return { key: existing, created: false };
  const key = generateKey();
  try {
    mkdirSync(dirname(file), { recursive: true });
    if (createFileAtomic(file, JSON.stringify({ v: 1, seed: key.secret, public: key.public }) + '\n', { mode: 0o600 })) return { key, created: true };
  } catch (err) {
    // A data dir given as a file, a read-only or foreign folder: the operator's to mend, so one line.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new KeyFileError(`cannot create key file ${file}: ${dirname(file)} is not a directory`);
    if (code) throw new KeyFileError(`cannot create key file ${file}: ${code}`);
    throw err;
  }
  return { key: loadKeyFile(file)!, created: false };
}
