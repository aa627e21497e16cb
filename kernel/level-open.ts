import { mkdir } from 'node:fs/promises';
import { Level } from 'level';

/** Why a LevelDB would not open, sorted into the cases a caller words differently for its user. */
export class LevelOpenError extends Error {
  override name = 'LevelOpenError';
  /** another process holds the database's lock */
  readonly locked: boolean;
  /** LevelDB reports corruption */
  readonly corrupt: boolean;

  constructor(
    message: string,
    locked: boolean,
    corrupt: boolean,
  ) {
    super(message);
    this.locked = locked;
    this.corrupt = corrupt;
  }
}

/** Make the folder and open a string-keyed, string-valued LevelDB in it. */
export async function openLevel(path: string): Promise<Level<string, string>> {
  await mkdir(path, { recursive: true });
  const db = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: Error & { code?: string } }).cause;
    const text = (cause?.message ?? (err as Error).message).split('\n')[0]!;
    throw new LevelOpenError(text, cause?.code === 'LEVEL_LOCKED' || /lock/i.test(text), /corrupt/i.test(text));
  }
  return db;
}
