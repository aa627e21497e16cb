import { loadSinkConfig } from '../../cloud-sink/config.ts';
import { Sink } from '../../cloud-sink/sink.ts';
import { createLogger } from '../../kernel/log.ts';
import { CommandFailure, parseFlags, requireFlag, type Command } from '../../kernel/command.ts';
import { runUntilSignal } from '../run-until-signal.ts';
import { UserError } from '../../kernel/user-error.ts';

export const command: Command = {
  summary: 'run the cloud sink',
  help: `usage: fieldproof sink --config FILE

Runs the cloud sink: POST /v1/batches (verified, stored once), GET /v1/proofs/DEVICE/SEQ,
GET /v1/reports/DEVICE?from=&to=[&format=csv], GET /v1/devices/DEVICE/head, the device registry
under /v1/devices (admin token), /metrics and /healthz. Anchors on Aptos when anchor.mode is aptos.
Beyond loopback it serves HTTPS (tls: {cert, key}), or plain HTTP with insecure: true behind a TLS
proxy. Logs are pino JSON on stdout. SIGHUP reloads the TLS certificate and key without closing
the listener; SIGTERM or SIGINT stop it cleanly.`,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' } });
    const config = loadSinkConfig(requireFlag(values.config, 'config'));
    const log = createLogger('fieldproof-sink');
    const sink = new Sink(config, { log });
    try {
      await sink.start();
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new CommandFailure((err as Error).message);
    }
    // SIGHUP reloads the TLS certificate and key without dropping the listener.
    const reload = () => {
      if (!config.tls) log.warn('SIGHUP: the sink serves no TLS, nothing to reload');
      else sink.reloadTls();
    };
    process.on('SIGHUP', reload);
    return runUntilSignal(sink, log).finally(() => process.off('SIGHUP', reload));
  },
};
