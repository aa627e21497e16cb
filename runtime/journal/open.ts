// Opening a journal's LevelDB, and every check that keeps a wrong data dir from being used or,
// worse, silently started afresh: not a directory, not LevelDB, not ours, another device's or
// key's, in use by another process, corrupt.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Level } from 'level';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { LevelOpenError, openLevel } from '../../kernel/level-open.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { JournalOpenError } from './errors.ts';
import { FORMAT, META_KEY, STATE_KEY, type JournalMeta, type JournalState } from './layout.ts';

export interface OpenRequest {
  dir: string;
  device: string;
  key: DeviceKey;
  readOnly?: boolean;
}

export interface OpenedDatabase {
  db: Level<string, string>;
  state: JournalState;
  meta: JournalMeta;
  path: string;
}

export async function openJournalDatabase(req: OpenRequest): Promise<OpenedDatabase> {
  const path = join(req.dir, 'journal');
  if (existsSync(req.dir) && !statSync(req.dir).isDirectory()) {
    throw new JournalOpenError(`data dir ${req.dir} is not a directory`);
  }
  if (existsSync(path)) {
    const entries = readdirSync(path);
    if (entries.length > 0 && !entries.includes('CURRENT')) {
      throw new JournalOpenError(`${path} is not a fieldproof journal (no LevelDB files in it); refusing to start afresh over it`);
    }
  }
  if (req.readOnly && !existsSync(join(path, 'CURRENT'))) throw new JournalOpenError(`there is no journal in ${req.dir}`);
  let db: Level<string, string>;
  try {
    db = await openLevel(path);
  } catch (err) {
    throw new JournalOpenError(describeOpenError(req.dir, path, err));
  }
  try {
    const { meta, state } = await readIdentityAndState(db, req, path);
    return { db, state, meta, path };
  } catch (err) {
    await db.close().catch(() => undefined);
    if (err instanceof JournalOpenError) throw err;
    throw new JournalOpenError(`${path}: cannot read the journal: ${(err as Error).message}`);
  }
}

async function readIdentityAndState(db: Level<string, string>, req: OpenRequest, path: string): Promise<{ meta: JournalMeta; state: JournalState }> {
  const metaText = await db.get(META_KEY);
  if (metaText === undefined && req.readOnly) throw new JournalOpenError(`${path} holds no fieldproof journal`);
  if (metaText === undefined) {
    for await (const _ of db.keys({ limit: 1 })) {
      throw new JournalOpenError(`${path} holds a LevelDB that is not a fieldproof journal (no identity record); refusing to start afresh over it`);
    }
    const meta: JournalMeta = { format: FORMAT, device: req.device, key: req.key.public, created: Date.now() };
    const state = emptyState();
    await db.batch([
      { type: 'put', key: META_KEY, value: JSON.stringify(meta) },
      { type: 'put', key: STATE_KEY, value: JSON.stringify(state) },
    ], { sync: true });
    return { meta, state };
  }
  const meta = parseJson<JournalMeta>(metaText, `${path}: the identity record is corrupt`);
  if (meta.format !== FORMAT) throw new JournalOpenError(`${path} has journal format ${meta.format}; this fieldproof reads format ${FORMAT}`);
  if (!req.readOnly) {
    if (meta.device !== req.device) {
      throw new JournalOpenError(`${path} belongs to device ${meta.device}, but the config says ${req.device}`);
    }
    if (meta.key !== req.key.public) {
      throw new JournalOpenError(`${path} was signed with key ${meta.key}, but the device key is ${req.key.public}: restore the original device.key`);
    }
  }
  const stateText = await db.get(STATE_KEY);
  if (stateText === undefined) throw new JournalOpenError(`${path}: the state record is missing; the journal is damaged`);
  return { meta, state: parseJson<JournalState>(stateText, `${path}: the state record is corrupt`) };
}

function emptyState(): JournalState {
  return { lastSeq: 0, sealedSeq: 0, lastBatch: 0, lastHeaderHash: ZERO_HASH, ackedBatch: 0, ackedSeq: 0, ackedHeaderHash: ZERO_HASH, bytes: 0, pendingGap: null, tailOpenedAt: null };
}

export function parseJson<T>(text: string, problem: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new JournalOpenError(problem);
  }
}

function describeOpenError(dir: string, path: string, err: unknown): string {
  if (!(err instanceof LevelOpenError)) return `cannot open the journal at ${path}: ${(err as Error).message}`;
  if (err.locked) return `data dir ${dir} is in use by another fieldproof process (stop it first, e.g. the running daemon)`;
  if (err.corrupt) return `${path} is corrupt (${err.message}); restore it from a backup or move it aside`;
  return `cannot open the journal at ${path}: ${err.message}`;
}
