import { pino, type Logger } from 'pino';

export type { Logger };

/** pino JSON on stdout; FIELDPROOF_LOG_LEVEL (or LOG_LEVEL) picks the level. */
export function createLogger(name = 'fieldproof', level = process.env.FIELDPROOF_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A logger that writes nothing: for tests and for CLI verbs whose stdout is a JSON contract. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
