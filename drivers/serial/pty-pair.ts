// Two connected pseudo-terminals made by socat: what one end writes, the other reads, with the
// termios behaviour of a real serial line. Tests, the demo and the benchmarks put a simulated
// device on one end and a driver on the other. Stopping the pair removes both ends, which is what
// a driver sees when a USB serial adapter is unplugged; starting it again with the same paths is the
// adapter plugged back in.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPairOptions {
  /** folder for the two links; a fresh temp folder (removed on dispose) when absent */
  dir?: string;
  /** how long socat may take to create both ends */
  startTimeoutMs?: number;
}

export class PtyPair {
  /** the end a driver opens (a symlink to /dev/pts/N that stays the same across restarts) */
  readonly devicePath: string;
  /** the end the simulated device opens */
  readonly peerPath: string;
  private child: ChildProcess | undefined;
  private ownsDir: boolean;

  readonly dir: string;
  private readonly startTimeoutMs: number;

  private constructor(
    dir: string,
    ownsDir: boolean,
    startTimeoutMs: number,
  ) {
    this.dir = dir;
    this.startTimeoutMs = startTimeoutMs;
    this.devicePath = join(dir, 'device');
    this.peerPath = join(dir, 'peer');
    this.ownsDir = ownsDir;
  }

  /** Create a pair and start it. */
  static async open(opts: PtyPairOptions = {}): Promise<PtyPair> {
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'fieldproof-pty-')));
    const pair = new PtyPair(dir, ownsDir, opts.startTimeoutMs ?? 5000);
    await pair.start();
    return pair;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Start socat; resolves once both ends exist. */
  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${this.devicePath}`, `pty,raw,echo=0,link=${this.peerPath}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => fail(new Error(`socat did not create a pty pair within ${this.startTimeoutMs} ms: ${stderr.trim().split('\n').pop() ?? ''}`)), this.startTimeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.stderr?.removeAllListeners('data');
        child.kill('SIGKILL');
        this.child = undefined;
        reject(err);
      };
      child.once('error', (err) => fail(new Error(`cannot start socat: ${(err as NodeJS.ErrnoException).code ?? err.message} (is socat installed?)`)));
      child.once('exit', (code) => fail(new Error(`socat exited with code ${code}: ${stderr.trim().split('\n').pop() ?? ''}`)));
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        stderr += chunk;
        // socat logs this line once both ends are set up and it starts moving bytes
        if (stderr.includes('starting data transfer loop')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.removeAllListeners('error');
          child.stderr?.removeAllListeners('data');
          child.stderr?.resume();
          child.once('exit', () => {
            if (this.child === child) this.child = undefined;
          });
          resolve();
        }
      });
    });
  }

  /** Stop socat: both ends disappear, as when an adapter is unplugged. The pair can be started again. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Stop and remove the temp folder if this pair made it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) {
      this.ownsDir = false;
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
