import { loadSinkConfig } from '../../cloud-sink/config.ts';
import { Sink } from '../../cloud-sink/sink.ts';
import { createLogger } from '../../kernel/log.ts';
import { CommandFailure, parseFlags, requireFlag, type Command } from '../../kernel/command.ts';
import { runUntilSignal } from '../run-until-signal.ts';

export const command: Command = {
  summary: 'run the cloud sink',
  help: `usage: fieldproof sink --config FILE

Runs the cloud sink: POST /v1/batches (verified, stored once), GET /v1/proofs/DEVICE/SEQ,
GET /v1/reports/DEVICE?from=&to=[&format=csv], GET /v1/devices/DEVICE/head, the device registry
under /v1/devices (admin token), /metrics and /healthz. Anchors on Aptos when anchor.mode is aptos.
Logs are pino JSON on stdout. SIGTERM or SIGINT stop it cleanly.`,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' } });
    const config = loadSinkConfig(requireFlag(values.config, 'config'));
    const log = createLogger('fieldproof-sink');
    const sink = new Sink(config, { log });
    try {
      await sink.start();
    } catch (err) {
      throw new CommandFailure((err as Error).message);
    }
    return runUntilSignal(sink, log);
  },
};
