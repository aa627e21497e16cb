// The long-running verbs (the daemon, the sink) run until SIGTERM or SIGINT, then stop cleanly and
// exit 0, or 1 when the stop failed. A second signal during a slow stop is ignored: the service
// manager escalates to SIGKILL on its own schedule, and the journal is built for that.
import type { Logger } from 'pino';

export function runUntilSignal(service: { stop(): Promise<void> }, log: Logger): Promise<number> {
  // An idle service (no driver, the uplink drained, every timer unref'd) holds nothing that keeps
  // Node's event loop alive and would exit unasked; this handle does, until a signal stops it.
  const alive = setInterval(() => undefined, 2 ** 30);
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      clearInterval(alive);
      log.info({ signal }, 'stopping');
      service.stop().then(
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
}
