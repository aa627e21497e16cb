// The hostile side of `fieldproof bench attack`, in a process of its own: told the sink's
// address, it builds its bombs, says it is ready, and sends hostile requests from several
// loopback addresses at full speed until told to stop (or its deadline), then reports its tally.
import { emptyTally, runAttack, type AttackPlan, type AttackTally } from './hostile/attack.ts';
import { ShotBook } from './hostile/shots.ts';

export interface AttackOrder {
  host: string;
  port: number;
  /** local addresses to send from: each stands for another hostile client */
  addresses: string[];
  workers: number;
  /** a device registered with the sink (its name is no secret; its key the attacker does not have) */
  registered: string;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  bombBytes: number;
  maxSeconds: number;
  seed: number;
}

export type AttackerMessage = { type: 'ready' } | { type: 'tally'; tally: AttackTally; seconds: number };

const SLOW_KINDS = ['slowloris', 'slow_body', 'idle', 'lying_length_short'];

async function attack(order: AttackOrder): Promise<void> {
  const book = new ShotBook({
    registered: order.registered, headersTimeoutMs: order.headersTimeoutMs, requestTimeoutMs: order.requestTimeoutMs, bombBytes: order.bombBytes,
  });
  await book.prepare();
  const plan: AttackPlan = {
    targets: order.addresses.map((localAddress) => ({ host: order.host, port: order.port, localAddress })),
    kinds: book.attackKinds(), workers: order.workers, maxShots: Number.MAX_SAFE_INTEGER, untilMs: Infinity, seed: order.seed,
    rareKinds: SLOW_KINDS,
  };
  const tally = emptyTally();
  const started = performance.now();
  // the shots still in flight when told to stop (slow ones hold for seconds) are not waited for
  const report = () => process.send!({ type: 'tally', tally, seconds: (performance.now() - started) / 1000 } satisfies AttackerMessage, () => process.exit(0));
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') report();
  });
  plan.untilMs = started + order.maxSeconds * 1000;
  process.send!({ type: 'ready' } satisfies AttackerMessage);
  await runAttack(book, plan, tally);
  report();
}

process.once('message', (order: AttackOrder) => {
  attack(order).catch((err) => {
    process.stderr.write(`attacker failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
});
