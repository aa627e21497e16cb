/**
 * A problem the user can fix (a wrong flag, a bad config, a data dir in use): the CLI prints its
 * message as one line, without a stack, and exits with `exitCode`.
 */
export class UserError extends Error {
  override name = 'UserError';
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}
