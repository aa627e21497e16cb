import { pino, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, redactPaths, scrubObject, scrubSecrets } from './redact.ts';

export type { Logger };

/**
 * What every fieldproof logger is built with: fields named like secrets are blanked (redact.ts
 * lists them), and credentials inside any string (a URL with a password in an error message) are
 * masked, so that a call site that forgets to redact still writes no secret.
 */
export function loggerOptions(name: string, level: string): LoggerOptions {
  return {
    name,
    level,
    base: { pid: process.pid },
    redact: { paths: redactPaths(), censor: REDACTED },
    formatters: { log: (obj) => scrubObject(obj) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>);
      },
    },
  };
}

export function logLevelFromEnv(): string {
  return process.env.FIELDPROOF_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info';
}

/** pino JSON on stdout; FIELDPROOF_LOG_LEVEL (or LOG_LEVEL) picks the level. */
export function createLogger(name = 'fieldproof', level = logLevelFromEnv(), destination?: pino.DestinationStream): Logger {
  const options = loggerOptions(name, level);
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing: for tests and for CLI verbs whose stdout is a JSON contract. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
