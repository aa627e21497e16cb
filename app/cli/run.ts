import { flushCompileCache } from 'node:module';
import { loadDeviceConfig } from '../config/device-config.ts';
import { Daemon } from '../daemon.ts';
import { runUntilSignal } from '../run-until-signal.ts';
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
    return runUntilSignal(daemon, log);
  },
};
