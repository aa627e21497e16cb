// Whether a sink's answer acknowledges a batch, and keeping the receipts that do. A receipt counts
// only for exactly the batch's header hash, under the key the device trusts (sink-trust.ts), and,
// while the device holds the batch's records, only when it does not say the sink holds a prune:
// otherwise nothing is deleted, and the refusal is counted and logged. A receipt that holds is
// kept in the journal beside its batch: the operator's evidence of the sink's acceptance.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Receipt } from '../../protocol/receipt.ts';
import type { StatusBoard } from '../../kernel/component.ts';
import type { Journal } from '../journal/journal.ts';
import type { SinkTrust } from './sink-trust.ts';

export interface ReceiptGateDeps {
  device: string;
  trust: SinkTrust;
  journal: Pick<Journal, 'keepReceipt'>;
  log: Logger;
  /** answers not taken as acknowledgements, and uplink errors, by reason */
  refused: Counter<'reason'>;
  errors: Counter<'reason'>;
  board?: StatusBoard | undefined;
}

export class ReceiptGate {
  private readonly deps: ReceiptGateDeps;

  constructor(deps: ReceiptGateDeps) {
    this.deps = deps;
  }

  /**
   * A receipt the device may delete on; otherwise counted, logged and false. `holdsRecords`: the
   * device still has the batch's records, so a receipt for a pruned batch does not do.
   */
  holds(receipt: unknown, batch: number, header: string, answer: 'batch' | 'head', holdsRecords: boolean): boolean {
    const { log, refused, errors, board } = this.deps;
    let verdict;
    try {
      verdict = this.deps.trust.accept(receipt, { device: this.deps.device, batch, header, ...(holdsRecords ? { pruned: false } : {}) });
    } catch (err) {
      log.error({ batch, err: (err as Error).message }, 'cannot pin the sink key; nothing is deleted until it can be');
      refused.inc({ reason: 'pin_failed' });
      return false;
    }
    if (verdict.ok) return true;
    refused.inc({ reason: verdict.reason });
    errors.inc({ reason: verdict.reason });
    const what = answer === 'head' ? 'the sink\'s head answer' : 'the sink\'s 200';
    if (verdict.reason === 'sink_key_changed') {
      log.error({ batch, reason: verdict.reason, err: verdict.detail }, `${what} is signed by another sink key than the one trusted: a swapped or impersonated sink; nothing is deleted and sending goes on backing off`);
    } else if (verdict.reason === 'no_receipt') {
      log.warn({ batch, reason: verdict.reason }, `${what} carries no receipt (an older sink, or something answering for it): not an acknowledgement; the batch stays and is sent again`);
    } else {
      log.error({ batch, reason: verdict.reason, err: verdict.detail }, `${what} carries a receipt that does not hold: not an acknowledgement; the batch stays and is sent again`);
    }
    board?.set('uplink.lastError', { at: Date.now(), batch, status: 200, error: verdict.detail });
    return false;
  }

  /** Keep a receipt that held, beside its batch; a failure to keep it is logged, never a reason to resend. */
  async keep(receipt: Receipt): Promise<void> {
    try {
      await this.deps.journal.keepReceipt(receipt);
    } catch (err) {
      this.deps.log.warn({ batch: receipt.batch, err: (err as Error).message }, 'cannot keep the sink\'s receipt in the journal');
    }
  }
}
