import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from './user-error.ts';
import { printable } from './printable.ts';

/** A mistake in how a verb was called: printed as one line, exit code 2. */
export class UsageError extends UserError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}

/** A verb that ran and found a problem (a failed check, an unreachable device): one line, exit code 1. */
export class CommandFailure extends UserError {
  override name = 'CommandFailure';
}

export interface Command {
  /** one line for `fieldproof --help` */
  summary: string;
  /** the full `--help` text */
  help: string;
  run(argv: string[]): Promise<number>;
  /** set by verbs with sub-verbs, which print the sub-verb's own help */
  handlesHelp?: boolean;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with errors turned into one-line UsageErrors. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    // parseArgs spreads some messages over lines ("argument is ambiguous", then how to give a value
    // starting with a dash): keep all of it, on one line.
    throw new UsageError((err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' '));
  }
}

export function requireFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing --${flag}`);
  return value;
}

export function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * One line of JSON. JSON.stringify escapes C0 controls but leaves C1 and bidirectional overrides
 * as they are, which a terminal may act on: they go out as \uXXXX escapes, the same string to
 * any JSON reader (outside strings, JSON has no such characters).
 */
export function printJson(value: unknown): void {
  process.stdout.write(printable(JSON.stringify(value)) + '\n');
}
