// The sink's routes for recovery epochs (docs/spec/wire.md#recovery-epochs): the head answer with
// its epoch and signed header (which a device checks with its own key to learn that its journal is
// behind), one held batch's header by number (where a restored journal and the sink part ways),
// and, for admins, the restarts devices asked for and their acceptance.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { deviceParam, epochParam, positiveInteger } from './params.ts';
import type { ReceiptSigner } from '../receipts.ts';
import type { Head, SinkStore } from '../store/types.ts';
import { HttpError, send } from './replies.ts';
import { WorkSlots } from './work-slots.ts';

/** held batches read with their records at once, and how many more may wait (beyond: 429) */
const RECORD_READS_AT_ONCE = 2;
const RECORD_READS_WAITING = 64;

export interface EpochRoutesDeps {
  store: SinkStore;
  receipts: ReceiptSigner;
  log: Logger;
  knownHead: (device: string) => Promise<Head>;
  requireAdmin: (req: IncomingMessage) => void;
  now?: () => number;
}

export class EpochRoutes {
  /** a held batch's records are its whole text (up to maxDecodedBytes), read for whoever asks */
  private readonly recordReads = new WorkSlots(RECORD_READS_AT_ONCE, RECORD_READS_WAITING, () => new HttpError(429, `${RECORD_READS_AT_ONCE + RECORD_READS_WAITING} held batches are being read with their records or waiting; retry after 1 s`, 'records_busy', { 'retry-after': '1' }));
  private readonly deps: EpochRoutesDeps;

  constructor(deps: EpochRoutesDeps) {
    this.deps = deps;
  }

  /**
   * `GET /v1/devices/D/head`. The head is signed as a receipt for its batch (saying whether it is
   * held as pruned): a device deletes what it names through it. Its header, signed by the device's own key, lets the device check the
   * head without trusting the sink about what it signed.
   */
  async head(res: ServerResponse, device: string, head: Head): Promise<void> {
    const { store, receipts } = this.deps;
    const row = head.batch > 0 ? await store.batch(device, head.batch, head.epoch) : null;
    // and says whether the sink holds that batch as pruned (its header alone)
    const receipt = row ? receipts.sign({ device, batch: head.batch, header: head.hash, pruned: row.pruned }) : undefined;
    send(res, 200, {
      device, epoch: head.epoch, batch: head.batch, hash: head.hash, last: head.last,
      ...(row ? { header: row.header } : {}), ...(receipt ? { receipt } : {}),
    });
  }

  /** True when the request was one of these routes (and is answered). */
  async route(method: string, parts: string[], url: URL, req: IncomingMessage, res: ServerResponse, name: (r: string) => void): Promise<boolean> {
    const { store, receipts, log } = this.deps;
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 5 && parts[3] === 'batches') {
      name('held_batch');
      const device = deviceParam(parts[2]!);
      const batch = positiveInteger(parts[4]);
      if (batch === null) throw new HttpError(400, 'usage: GET /v1/devices/DEVICE/batches/N[?epoch=E] with N a positive integer', 'bad_query');
      const epoch = epochParam(url);
      await this.deps.knownHead(device);
      const row = await store.batch(device, batch, epoch);
      if (!row) throw new HttpError(404, `the sink holds no batch ${batch} of epoch ${epoch} of ${device}`, 'not_held');
      // With ?records=true its records too (as a proof would give them, one by one): a restored
      // device compares them with its own to carry over only what the sink does not hold.
      const answer = { device, epoch, batch, hash: row.hash, header: row.header };
      const receipt = receipts.sign({ device, batch, header: row.hash, pruned: row.pruned });
      if (url.searchParams.get('records') !== 'true') send(res, 200, { ...answer, receipt });
      // a client that left while its request waited for a slot gets nothing read
      else {
        await this.recordReads.run(async () => {
          if (!req.socket.destroyed) send(res, 200, { ...answer, lines: await store.records(device, batch, epoch), receipt });
        });
      }
      return true;
    }
    if (method === 'GET' && url.pathname === '/v1/restarts') {
      name('restarts');
      this.deps.requireAdmin(req);
      const device = url.searchParams.get('device');
      send(res, 200, { restarts: await store.restarts(device === null ? undefined : deviceParam(device)) });
      return true;
    }
    if (method === 'POST' && parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 6 && parts[3] === 'restarts' && parts[5] === 'accept') {
      name('accept_restart');
      this.deps.requireAdmin(req);
      req.resume();
      const device = deviceParam(parts[2]!);
      const epoch = positiveInteger(parts[4]);
      if (epoch === null || epoch < 2) throw new HttpError(400, 'usage: POST /v1/devices/DEVICE/restarts/EPOCH/accept with EPOCH an integer >= 2', 'bad_query');
      const outcome = await store.acceptRestart(device, epoch, (this.deps.now ?? Date.now)());
      if (outcome.status !== 'accepted') throw new HttpError(409, outcome.reason, 'not_pending');
      log.warn({ device, epoch, joins: outcome.head.hash }, 'restart accepted: the device continues in a new epoch');
      send(res, 200, { device, epoch, status: 'accepted', head: outcome.head });
      return true;
    }
    return false;
  }
}
