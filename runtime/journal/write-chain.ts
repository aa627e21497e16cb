// Every write to the journal's LevelDB (group commits, sealing by age, acknowledgements) runs in
// this chain, one at a time, so that each builds its state on what the one before it left. A
// write that fails does not stop the ones after it.
export class WriteChain {
  private last: Promise<unknown> = Promise.resolve();

  run<T>(write: () => Promise<T>): Promise<T> {
    const run = this.last.then(write);
    this.last = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every write queued so far has ended. */
  idle(): Promise<unknown> {
    return this.last;
  }
}
