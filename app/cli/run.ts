import { flushCompileCache } from 'node:module';
import { loadDeviceConfig } from '../config/device-config.ts';
import { Daemon } from '../daemon.ts';
import { createLogger } from '../../kernel/log.ts';
import { parseFlags, positiveInt, requireFlag, type Command } from '../../kernel/command.ts';

export const command: Command = {
  summary: 'run the device daemon',
  help: `usage: fieldproof run --config FILE [--progress-ms N]

Runs the device: drivers, gateway, validation, journal, batches, uplink, alerts, local HTTP, as
the config says. Logs are pino JSON on stdout; a "progress" line every --progress-ms (default
5000) names the last seq made durable. SIGTERM or SIGINT stop it cleanly: sources stop, queued
readings are committed and the last batch is sealed.`,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, 'progress-ms': { type: 'string' } });
    const config = loadDeviceConfig(requireFlag(values.config, 'config'));
    const log = createLogger();
    const daemon = new Daemon(config, log, { progressMs: positiveInt(values['progress-ms'], 'progress-ms', 5000) });
    await daemon.start();
    // A device is more often cut off (power, SIGKILL) than stopped: keep what its start compiled now,
    // not only at a clean exit, so that the next start finds it.
    flushCompileCache();
    // A daemon whose parts are all idle (no driver, the uplink drained, every timer unref'd) holds
    // nothing that keeps Node's event loop alive, and would exit unasked; this handle does, until
    // a signal stops it.
    const alive = setInterval(() => undefined, 2 ** 30);
    return new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        clearInterval(alive);
        log.info({ signal }, 'stopping');
        daemon.stop().then(
          () => resolve(0),
          (err) => {
            log.error({ err: (err as Error).message }, 'stop failed');
            resolve(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  },
};
