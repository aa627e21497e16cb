import type { z } from 'zod';
import { UserError } from '../user-error.ts';

/** A user mistake in a config file: the CLI prints the message as one line and exits non-zero. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
  constructor(message: string) {
    super(message, 2);
  }
}

/** One line naming the first offending key, e.g. `drivers.0.intervalMs: expected number, received string`. */
export function describeZodError(file: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `${file}: invalid config`;
  const path = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? `${path}.` : '';
    return `${file}: unknown key ${issue.keys.map((k) => where + k).join(', ')}`;
  }
  return `${file}: ${path}: ${issue.message}`;
}
