// The group commit's queue. Readings wait here for the next commit, which starts once
// commitMaxRecords are queued, after commitMaxWaitMs of waiting for company, or at the next turn
// of the event loop for an urgent (flagged) reading. While one commit runs, the queue fills for
// the next: under load every commit takes all that arrived during the one before it.
import type { PlanInput } from '../../protocol/plan.ts';
import type { ReadingInput } from '../../protocol/records.ts';

/** A reading waiting for its commit, and who to tell of the outcome (nobody, on the pipeline's path). */
export interface Pending {
  /** a reading, or a meter's monitoring plan */
  input: ReadingInput | PlanInput;
  resolve?: (seq: number) => void;
  reject?: (err: Error) => void;
}

export interface CommitQueueOptions {
  maxWaitMs: number;
  maxRecords: number;
  /** commit one group (the journal runs it in its write chain) */
  commit: (group: Pending[]) => Promise<void>;
}

export class CommitQueue {
  private queue: Pending[] = [];
  private waitTimer: NodeJS.Timeout | null = null;
  /** a commit due at the next turn of the event loop (an urgent reading, or no wait configured) */
  private soon: NodeJS.Immediate | null = null;
  private committing: Promise<void> | null = null;

  private readonly opts: CommitQueueOptions;

  constructor(opts: CommitQueueOptions) {
    this.opts = opts;
  }

  /** How many readings wait for the next commit: the pipeline's backpressure signal. */
  get length(): number {
    return this.queue.length;
  }

  push(p: Pending, urgent: boolean): void {
    this.queue.push(p);
    if (this.committing) return; // the running commit picks the queue up when it ends
    if (this.queue.length >= this.opts.maxRecords) this.start();
    else if (urgent || this.opts.maxWaitMs === 0) this.soon ??= setImmediate(() => this.start());
    else if (!this.waitTimer) this.waitTimer = setTimeout(() => this.start(), this.opts.maxWaitMs);
  }

  /** Commit everything queued so far, without waiting for the timer. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.committing) {
      if (!this.committing) this.start();
      await this.committing;
    }
  }

  private start(): void {
    if (this.waitTimer) {
      clearTimeout(this.waitTimer);
      this.waitTimer = null;
    }
    if (this.soon) {
      clearImmediate(this.soon);
      this.soon = null;
    }
    if (this.committing) return;
    this.committing = this.drain().finally(() => {
      this.committing = null;
      // A reading queued after the loop's last check but before this point saw a commit running
      // and left the scheduling to it.
      if (this.queue.length > 0) this.start();
    });
  }

  private async drain(): Promise<void> {
    const max = this.opts.maxRecords;
    while (this.queue.length > 0) {
      const group = this.queue.length <= max ? this.queue : this.queue.slice(0, max);
      this.queue = group === this.queue ? [] : this.queue.slice(max);
      await this.opts.commit(group);
    }
  }
}
