// Send shots at a sink from several workers at once, for a number of shots or a time, and tally
// what came back: statuses by kind, connections closed unanswered, and every answer that breaks
// the rules (a 5xx; a refusal whose body is not one line of JSON {"error", "code"}).
import { prng } from '../../kernel/prng.ts';
import { sendRaw, type RawTarget } from './raw-client.ts';
import type { ShotBook } from './shots.ts';

export interface AttackPlan {
  targets: RawTarget[];
  kinds: string[];
  workers: number;
  /** stop after this many shots, or at this time (performance.now() based), whichever first */
  maxShots: number;
  untilMs: number;
  seed: number;
  /** kinds sent less often (slow ones hold a worker for seconds) */
  rareKinds?: string[];
  /** worker w sends kinds[w], kinds[w + workers], ... in turn instead of drawing them */
  inTurn?: boolean;
}

export interface AttackTally {
  shots: number;
  byKind: Record<string, Record<string, number>>;
  /** answers that break the rules, described */
  violations: string[];
}

function tallyKey(a: { statuses: number[]; closedUnanswered: boolean; timedOut: boolean }): string {
  if (a.statuses.length > 0) return String(a.statuses[0]);
  return a.timedOut ? 'no_answer_in_time' : 'closed';
}

/** A refusal's body must be one line of JSON naming the error and its code. */
export function refusalBodyProblem(status: number, body: string): string | null {
  if (status < 400) return null;
  if (!body.endsWith('\n') || body.indexOf('\n') !== body.length - 1) return 'not one line';
  try {
    const j = JSON.parse(body) as { error?: unknown; code?: unknown };
    if (typeof j.error !== 'string' || typeof j.code !== 'string') return 'no error and code';
  } catch {
    return 'not JSON';
  }
  return null;
}

export function emptyTally(): AttackTally {
  return { shots: 0, byKind: {}, violations: [] };
}

/** Send until the plan says stop (set `plan.untilMs` to stop early); `tally` fills as answers come. */
export async function runAttack(book: ShotBook, plan: AttackPlan, tally: AttackTally = emptyTally()): Promise<AttackTally> {
  const rare = new Set(plan.rareKinds ?? []);
  let started = 0;
  const worker = async (w: number) => {
    const r = prng(plan.seed * 1000 + w);
    const target = plan.targets[w % plan.targets.length]!;
    for (let turn = 0; started < plan.maxShots && performance.now() < plan.untilMs; turn++) {
      let kind = plan.kinds[plan.inTurn ? (w + turn * plan.workers) % plan.kinds.length : Math.floor(r() * plan.kinds.length)]!;
      if (!plan.inTurn && rare.has(kind) && r() < 0.8) kind = plan.kinds[Math.floor(r() * plan.kinds.length)]!;
      started++;
      const shot = book.shot(kind, r);
      const a = await sendRaw(target, shot.pieces, { deadlineMs: shot.deadlineMs, responses: shot.responses });
      tally.shots++;
      const k = tallyKey(a);
      const byKind = (tally.byKind[kind] ??= {});
      byKind[k] = (byKind[k] ?? 0) + 1;
      for (const s of a.statuses) if (s >= 500) tally.violations.push(`${kind}: answered ${s}: ${a.body.slice(0, 200)}`);
      const problem = a.statuses.length > 0 && !shot.bodiless ? refusalBodyProblem(a.statuses[0]!, a.body) : null;
      if (problem) tally.violations.push(`${kind}: ${a.statuses[0]} body ${problem}: ${JSON.stringify(a.body.slice(0, 200))}`);
    }
  };
  await Promise.all(Array.from({ length: plan.workers }, (_, w) => worker(w)));
  return tally;
}
