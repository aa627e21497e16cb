// Whether a sink's answer is an acknowledgement the device may delete on: a receipt the trusted
// sink key signed for exactly this batch and header hash (sink-trust.ts). Anything else is
// counted by reason, logged, and shown on the status board; nothing is deleted on it.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { StatusBoard } from '../../kernel/component.ts';
import type { SinkTrust } from './sink-trust.ts';

export interface ReceiptGateDeps {
  trust: SinkTrust;
  device: string;
  log: Logger;
  board?: StatusBoard | undefined;
  refused: Counter<'reason'>;
  errors: Counter<'reason'>;
}

export class ReceiptGate {
  private readonly deps: ReceiptGateDeps;

  constructor(deps: ReceiptGateDeps) {
    this.deps = deps;
  }

  /** A receipt the device may delete on; otherwise counted, logged and false. */
  holds(receipt: unknown, batch: number, header: string, answer: 'batch' | 'head'): boolean {
    const { trust, device, log, refused, errors } = this.deps;
    let verdict;
    try {
      verdict = trust.accept(receipt, { device, batch, header });
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
    this.deps.board?.set('uplink.lastError', { at: Date.now(), batch, status: 200, error: verdict.detail });
    return false;
  }
}
