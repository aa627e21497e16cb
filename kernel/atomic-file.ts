// Files that must survive a power cut whole or not at all (the device key, a trained model, the
// snap's generated config): written to a temporary name, synced, renamed over the old one, and the
// folder synced so that the rename itself is durable.
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** permissions of the new file */
  mode?: number;
  /** checks the written temporary file before it replaces the old one; a throw leaves the old file */
  check?: (tmp: string) => void;
  /** sync the folder after the rename (default true); false where the caller syncs once for several files */
  syncFolder?: boolean;
}

/** The data in a temporary file beside `file`, synced; its name. */
function writeSyncedTemp(file: string, data: string | Uint8Array, mode: number): string {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

export function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = writeSyncedTemp(file, data, opts.mode ?? 0o644);
  try {
    opts.check?.(tmp);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (opts.syncFolder ?? true) syncFolder(dirname(file));
}

/**
 * Like writeFileAtomic, but never replaces a file that is there: the synced temporary file is
 * linked to its name, which fails when another process made the file first. False then, and the
 * caller reads what the other process wrote (two sink processes making the receipt key at once).
 */
export function createFileAtomic(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): boolean {
  const tmp = writeSyncedTemp(file, data, opts.mode ?? 0o644);
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  syncFolder(dirname(file));
  return true;
}

/** Makes the renames in a folder durable. Some filesystems refuse to open a folder for sync; a rename is still atomic there. */
export function syncFolder(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // as above: the filesystem does not sync folders
  } finally {
    closeSync(fd);
  }
}

/**
 * writeFileAtomic without blocking the event loop: for files of megabytes written while the
 * device takes readings (the page's history), where a synchronous fsync would stall ingestion.
 */
export async function writeFileAtomicAsync(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  syncFolder(dirname(file));
}
