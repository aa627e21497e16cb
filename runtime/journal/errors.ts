import { UserError } from '../../kernel/user-error.ts';

/** The journal cannot be opened as asked: a user-facing, one-line problem (wrong dir, in use, foreign). */
export class JournalOpenError extends UserError {
  override name = 'JournalOpenError';
}

/** A reading was refused: the disk bound is reached under `reject-new`, or the write failed. */
export class JournalFullError extends Error {
  override name = 'JournalFullError';
}

export class JournalClosedError extends Error {
  override name = 'JournalClosedError';
  constructor() {
    super('the journal is closed');
  }
}
