// `fieldproof sink` as a child process, for the benches and the tests that need the sink in a
// process of its own (its memory and CPU apart, signals, a real start from a config file): start
// it, learn its URL from its "sink listening" log line, keep its log lines, stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));

export interface SinkProcess {
  child: ChildProcess;
  url: string;
  /** the log lines so far, parsed (pino JSON) */
  logs: Record<string, unknown>[];
  /** resolves with the first log line, from now on, whose msg matches */
  nextLog(msg: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startSinkProcess(configFile: string, env: Record<string, string> = {}): Promise<SinkProcess> {
  const child = spawn(process.execPath, [BIN, 'sink', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FIELDPROOF_LOG_LEVEL: 'info', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const logs: Record<string, unknown>[] = [];
  const waiting = new Set<{ msg: RegExp; resolve: (l: Record<string, unknown>) => void }>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (logs.length < 10_000) logs.push(entry);
    for (const w of waiting) {
      if (w.msg.test(String(entry.msg))) {
        waiting.delete(w);
        w.resolve(entry);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const nextLog = (msg: RegExp, timeoutMs = 30_000) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const w = { msg, resolve };
    waiting.add(w);
    const timer = setTimeout(() => {
      waiting.delete(w);
      reject(new Error(`the sink logged no ${msg} within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    void exited.then((code) => reject(new Error(`the sink exited (${code}): ${stderr.trim().split('\n').pop() ?? ''}`)));
  });
  const listening = await nextLog(/^sink listening$/);
  return {
    child, url: String(listening.url), logs, nextLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
