// The sink's certificate and key, read from the files the config names, checked as a pair before
// they are used: at start (a bad pair is a config error) and on SIGHUP (a bad pair keeps the
// certificate in use).
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../../kernel/config/errors.ts';

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`tls.${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const material = { cert: readPem(files.cert, 'cert'), key: readPem(files.key, 'key') };
  try {
    createSecureContext(material);
  } catch (err) {
    throw new ConfigError(`tls: ${files.cert} and ${files.key} are not a usable certificate and key: ${(err as Error).message.split('\n')[0]}`);
  }
  return material;
}
