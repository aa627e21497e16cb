// Stopping the uplink for good, until an operator acts. An equivocation (the sink holds another
// batch under a number this device signed), a wrong_key refusal, or a bad_restart (the sink will
// not take this epoch's first batch as the restart it knows) will not change by sending again:
// retrying would only hammer the sink. The uplink stops sending, says so once (an error log, the
// status board's `uplink.halted`, which the alerts raise as `uplink_halted`), and remembers it in
// <dataDir>/uplink-halted.json across restarts. The journal keeps everything meanwhile.
// `fieldproof uplink resume --data-dir DIR` removes the file (docs/durability.md).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../kernel/atomic-file.ts';
import type { StatusBoard } from '../../kernel/component.ts';

export const HALT_FILE = 'uplink-halted.json';

/** Why sending stopped: the sink's refusal and what it was about. */
export interface Halt {
  code: 'equivocation' | 'wrong_key' | 'bad_restart';
  epoch: number;
  batch: number;
  error: string;
  at: number;
}

export function readHalt(dataDir: string): Halt | null {
  const file = join(dataDir, HALT_FILE);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Halt;
  } catch {
    // A damaged marker still means "stopped": what it said is lost, not that it was said.
    return { code: 'equivocation', epoch: 0, batch: 0, error: `${file} is damaged`, at: 0 };
  }
}

export function writeHalt(dataDir: string, halt: Halt): void {
  writeFileAtomic(join(dataDir, HALT_FILE), JSON.stringify(halt) + '\n');
}

/** Remove the marker; true when there was one. */
export function clearHalt(dataDir: string): boolean {
  const file = join(dataDir, HALT_FILE);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}

export interface HaltSwitchDeps {
  dataDir: string;
  log: Logger;
  board?: StatusBoard | undefined;
}

/** The uplink's stop: loaded at start, set on a refusal that sending again cannot change. */
export class HaltSwitch {
  private current: Halt | null = null;
  private readonly deps: HaltSwitchDeps;

  constructor(deps: HaltSwitchDeps) {
    this.deps = deps;
  }

  get halted(): Halt | null {
    return this.current;
  }

  /** A stop from before the restart still holds. */
  load(): void {
    this.current = readHalt(this.deps.dataDir);
    if (this.current) this.announce();
  }

  stop(h: Halt): void {
    if (this.current) return;
    this.current = h;
    try {
      writeHalt(this.deps.dataDir, h);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'cannot remember that the uplink stopped; it stops until the daemon restarts');
    }
    this.announce();
  }

  private announce(): void {
    const h = this.current!;
    this.deps.log.error({ ...h }, `uplink stopped: the sink refused batch ${h.batch} (${h.code}); the journal keeps everything. Resolve it, then: fieldproof uplink resume --data-dir DIR`);
    this.deps.board?.set('uplink.halted', h);
    this.deps.board?.set('uplink.state', { state: 'halted', ...h });
  }
}
