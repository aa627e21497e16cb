// What the sink does with a batch of an epoch other than the device's current one
// (docs/spec/wire.md#recovery-epochs). Batch 1 of a later epoch opens with the device's signed
// restart record: the sink checks it names a batch the sink holds, notes the restart once, and
// refuses the new chain (restart_pending) until an admin accepts it with
// `fieldproof sink-devices accept-restart`. A batch of an earlier, closed epoch that the sink does not
// hold is refused (epoch_closed): that chain ended where the next epoch joined it.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter } from '../kernel/metrics.ts';
import { epochOf, headerHash, type BatchHeader } from '../protocol/batch.ts';
import { recordProblem } from '../protocol/records.ts';
import { restartPlacementProblem, type RestartRecord } from '../protocol/restart.ts';
import type { Head, SinkStore } from './store/types.ts';
import type { DecodedBatch } from './wire/errors.ts';

export type EpochVerdict =
  | { kind: 'current' }
  | { kind: 'refuse'; status: number; code: 'restart_pending' | 'epoch_closed' | 'bad_restart' | 'too_many_restarts'; error: string };

/**
 * Restarts of one device that may wait for an admin at once. A device that restarts again while
 * one waits asks for the same epoch (which replaces it); epoch numbers are the device's choice,
 * though, so a key that signs restart batches for epoch after epoch would add a row each.
 */
export const MAX_PENDING_RESTARTS = 8;

export interface RestartGateDeps {
  store: SinkStore;
  log: Logger;
  metrics: Registry;
  now: () => number;
}

export class RestartGate {
  private readonly restarts;
  private readonly deps: RestartGateDeps;

  constructor(deps: RestartGateDeps) {
    this.deps = deps;
    this.restarts = counter(deps.metrics, 'fieldproof_sink_restarts_total', 'Restart records of new epochs offered, by outcome: noted for the admin, or refused', ['outcome']);
  }

  /** Before the records are read: is this batch's epoch the device's current one? */
  async beforeRecords(header: BatchHeader, head: Head): Promise<EpochVerdict> {
    const epoch = epochOf(header);
    if (epoch === head.epoch) return this.firstOfAccepted(header, head);
    if (epoch < head.epoch) return closed(header, head);
    // Batch 1 carries the restart record: let its records be read and checked, then note it.
    if (header.batch === 1) return { kind: 'current' };
    return pending(header);
  }

  /** Batch 1 of a later epoch, its records checked against its root: note the restart it opens with. */
  async noteRestart(header: BatchHeader, decoded: DecodedBatch): Promise<EpochVerdict> {
    const first = firstRecord(decoded);
    const problem = first === null ? 'batch 1 of a new epoch must open with a restart record' : await this.restartProblem(first, header);
    if (problem) {
      this.restarts.inc({ outcome: 'refused' });
      this.deps.log.warn({ device: header.device, epoch: epochOf(header), problem }, 'restart refused');
      return { kind: 'refuse', status: 422, code: 'bad_restart', error: `epoch ${epochOf(header)} of ${header.device}: ${problem}` };
    }
    const r = first as RestartRecord;
    const waiting = (await this.deps.store.restarts(header.device)).filter((w) => w.acceptedAt === null);
    if (waiting.length >= MAX_PENDING_RESTARTS && !waiting.some((w) => w.epoch === r.epoch)) {
      // counted here; logged, throttled, with the sink's other refusals
      this.restarts.inc({ outcome: 'too_many' });
      return {
        kind: 'refuse', status: 409, code: 'too_many_restarts',
        error: `${waiting.length} restarts of ${header.device} wait for an admin already (epochs ${waiting.map((w) => w.epoch).join(', ')}); epoch ${r.epoch} is not noted`,
      };
    }
    const noted = await this.deps.store.noteRestart({
      device: header.device, epoch: r.epoch, reason: r.reason, from: r.from, ts: r.ts, rejournaled: r.rejournaled, header,
      seenAt: this.deps.now(), acceptedAt: null,
    });
    if (noted) this.restarts.inc({ outcome: 'noted' });
    if (noted) this.deps.log.warn({ device: header.device, epoch: r.epoch, reason: r.reason, from: r.from }, 'device asks for a new epoch; it waits for an admin (sink-devices accept-restart)');
    return pending(header);
  }

  private async restartProblem(rec: unknown, header: BatchHeader): Promise<string | null> {
    const rp = recordProblem(rec);
    if (rp) return rp;
    const r = rec as RestartRecord;
    if (r.kind !== 'restart') return 'batch 1 of a new epoch must open with a restart record';
    const placement = restartPlacementProblem(r, header);
    if (placement) return placement;
    const joined = await this.deps.store.batch(header.device, r.from.batch, r.from.epoch);
    if (joined?.hash !== r.from.hash) return `the restart names batch ${r.from.batch} of epoch ${r.from.epoch}, which the sink does not hold with that hash`;
    const head = await this.deps.store.head(header.device);
    if (r.from.epoch < head.epoch) return `the restart joins epoch ${r.from.epoch}, but the device is in epoch ${head.epoch} already`;
    return null;
  }

  /** Batch 1 of an accepted epoch must be the very batch the admin accepted, restart record and all. */
  private async firstOfAccepted(header: BatchHeader, head: Head): Promise<EpochVerdict> {
    if (head.epoch === 1 || header.batch !== 1) return { kind: 'current' };
    const accepted = (await this.deps.store.restarts(header.device)).find((r) => r.epoch === head.epoch);
    if (accepted && headerHash(accepted.header) === headerHash(header)) return { kind: 'current' };
    return { kind: 'refuse', status: 422, code: 'bad_restart', error: `batch 1 of epoch ${head.epoch} of ${header.device} is not the batch whose restart was accepted` };
  }
}

function pending(header: BatchHeader): EpochVerdict {
  const epoch = epochOf(header);
  return {
    kind: 'refuse', status: 409, code: 'restart_pending',
    error: `epoch ${epoch} of ${header.device} waits for an admin to accept its restart (fieldproof sink-devices accept-restart --device ${header.device} --epoch ${epoch})`,
  };
}

function closed(header: BatchHeader, head: Head): EpochVerdict {
  return {
    kind: 'refuse', status: 409, code: 'epoch_closed',
    error: `batch ${header.batch} of epoch ${epochOf(header)} of ${header.device} is not held, and that epoch is closed: the device is in epoch ${head.epoch}`,
  };
}

function firstRecord(decoded: DecodedBatch): unknown {
  if (decoded.lines) {
    const line = decoded.lines[0];
    return line === undefined ? null : JSON.parse(line);
  }
  return Array.isArray(decoded.records) ? decoded.records[0] ?? null : null;
}
