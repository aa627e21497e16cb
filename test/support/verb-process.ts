// Long-running `fieldproof` verbs (run, sink) as child processes, for the end-to-end tests: started
// until their log says they are ready, stopped by a signal, all killed when the test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { BIN } from './cli.ts';

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Start a verb and resolve once its log says `ready`. */
export function startVerb(args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes(`"msg":"${ready}"`)) resolve(child);
      if (buf.length > 1e6) buf = buf.slice(-1000);
    });
    child.once('exit', (code) => reject(new Error(`fieldproof ${args[0]} exited with ${code}: ${stderr.trim().split('\n').pop()}`)));
  });
}

/** Send `signal` and wait for the exit. */
export async function signalVerb(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
  children.delete(child);
}

/** Every verb still running, killed. */
export async function killVerbs(): Promise<void> {
  for (const c of [...children]) await signalVerb(c, 'SIGKILL');
}
