// Application downlinks waiting for their device's next receive window. A class A device listens
// only right after it sends, so a downlink asked for now goes out after the device's next uplink.
// Every step of a downlink's life is journaled as a `downlink` reading of its device, with the
// step in `state` (queued, sent, acknowledged, not_acknowledged, refused, failed): what was asked
// of a field device is part of the signed record, like what it said.
import { randomBytes } from 'node:crypto';
import type { JsonValue } from '../protocol/canonical.ts';
import type { ReadingInput } from '../protocol/records.ts';
import type { DownlinkAsk, DownlinkView } from '../kernel/component.ts';
import type { Codec } from './codecs/codec.ts';

/** Downlinks waiting per device; more are refused (a device sends rarely; a long queue is a mistake). */
export const MAX_QUEUED_PER_DEVICE = 8;
/** Tries of one downlink the gateway refused or could not take before it is given up. */
export const MAX_ATTEMPTS = 3;
/** Largest application payload queued, bytes (the most any region allows at its fastest data rate). */
export const MAX_DOWNLINK_BYTES = 242;
/** Finished downlinks kept per device for the API's list. */
const RECENT_PER_DEVICE = 16;

export interface QueuedDownlink {
  id: string;
  device: string;
  fPort: number;
  bytes: Buffer;
  confirmed: boolean;
  queuedAt: number;
  attempts: number;
  state: DownlinkView['state'];
  /** what was asked, when it went through the codec's encoder */
  data?: JsonValue;
  warnings?: string[];
  /** the frame counter it went out with, once sent */
  fCntDown?: number;
}

interface DeviceQueue {
  waiting: QueuedDownlink[];
  /** a confirmed downlink sent, whose acknowledgement the device's next uplink carries */
  awaitingAck: QueuedDownlink | null;
  recent: QueuedDownlink[];
}

export class DownlinkQueue {
  private readonly devices = new Map<string, DeviceQueue>();

  private readonly emit: (reading: ReadingInput) => void;
  private readonly now: () => number;

  constructor(
    emit: (reading: ReadingInput) => void,
    now: () => number = Date.now,
  ) {
    this.emit = emit;
    this.now = now;
  }

  private of(device: string): DeviceQueue {
    let q = this.devices.get(device);
    if (!q) this.devices.set(device, (q = { waiting: [], awaitingAck: null, recent: [] }));
    return q;
  }

  /** Queue a downlink; false when the device's queue is full. */
  add(d: NewDownlink): QueuedDownlink | null {
    const q = this.of(d.device);
    if (q.waiting.length >= MAX_QUEUED_PER_DEVICE) return null;
    const item: QueuedDownlink = { ...d, id: randomBytes(6).toString('hex'), queuedAt: this.now(), attempts: 0, state: 'queued' };
    q.waiting.push(item);
    this.journal(item, 'queued', item.data !== undefined ? { data: item.data } : {});
    return item;
  }

  /** The next downlink for the device's receive window, taken off the queue. */
  take(device: string): { item: QueuedDownlink; more: boolean } | null {
    const q = this.devices.get(device);
    const item = q?.waiting.shift();
    if (!item) return null;
    item.attempts++;
    return { item, more: q!.waiting.length > 0 };
  }

  /** Handed to a gateway for the window. */
  sent(item: QueuedDownlink, fCntDown: number, info: { gateway: string; window: string }): void {
    item.fCntDown = fCntDown;
    item.state = 'sent';
    this.journal(item, 'sent', { fcnt: fCntDown, gateway: info.gateway, window: info.window, attempt: item.attempts });
    const q = this.of(item.device);
    if (item.confirmed) {
      if (q.awaitingAck && q.awaitingAck !== item) this.settle(q, false);
      q.awaitingAck = item;
    } else this.remember(q, item);
  }

  /** The gateway refused it or could not take it: back to the front of the queue, or given up. */
  notSent(item: QueuedDownlink, error: string): void {
    const q = this.of(item.device);
    if (q.awaitingAck === item) q.awaitingAck = null;
    if (item.attempts < MAX_ATTEMPTS) {
      item.state = 'queued';
      this.journal(item, 'refused', { error, attempt: item.attempts });
      q.waiting.unshift(item);
      return;
    }
    item.state = 'failed';
    this.journal(item, 'failed', { error, attempts: item.attempts });
    this.remember(q, item);
  }

  /**
   * The device's uplink after a confirmed downlink says whether it got it (the ACK bit). As
   * ChirpStack does, a confirmed downlink is not sent again when the answer is no.
   */
  uplinkHeard(device: string, ack: boolean): void {
    const q = this.devices.get(device);
    if (q?.awaitingAck) this.settle(q, ack);
  }

  private settle(q: DeviceQueue, ack: boolean): void {
    const item = q.awaitingAck!;
    q.awaitingAck = null;
    item.state = ack ? 'acknowledged' : 'not_acknowledged';
    this.journal(item, item.state, { fcnt: item.fCntDown ?? null });
    this.remember(q, item);
  }

  pending(device: string): number {
    return this.devices.get(device)?.waiting.length ?? 0;
  }

  list(device?: string): DownlinkView[] {
    const out: DownlinkView[] = [];
    for (const [id, q] of this.devices) {
      if (device !== undefined && id !== device) continue;
      for (const d of [...q.waiting, ...(q.awaitingAck ? [q.awaitingAck] : []), ...q.recent]) out.push(view(d));
    }
    return out;
  }

  private remember(q: DeviceQueue, item: QueuedDownlink): void {
    if (q.recent.includes(item)) return;
    q.recent.unshift(item);
    if (q.recent.length > RECENT_PER_DEVICE) q.recent.length = RECENT_PER_DEVICE;
  }

  private journal(item: QueuedDownlink, state: string, extra: { [k: string]: JsonValue }): void {
    this.emit({
      sensor: item.device,
      metric: 'downlink',
      ts: this.now(),
      value: null,
      unit: '',
      state,
      meta: { id: item.id, fport: item.fPort, payload: item.bytes.toString('hex'), confirmed: item.confirmed, ...extra },
    });
  }
}

export function view(d: QueuedDownlink): DownlinkView {
  return {
    id: d.id, device: d.device, fPort: d.fPort, bytes: d.bytes.toString('hex'), confirmed: d.confirmed, state: d.state,
    queuedAt: d.queuedAt, attempts: d.attempts,
    ...(d.data !== undefined ? { data: d.data } : {}), ...(d.warnings && d.warnings.length > 0 ? { warnings: d.warnings } : {}),
  };
}

type NewDownlink = Omit<QueuedDownlink, 'id' | 'queuedAt' | 'attempts' | 'state'>;

/**
 * A downlink as asked for, made ready to queue: `bytes` (hex) as they are, or `data` through the
 * device codec's encoder (which may choose the port). The reasons it cannot be are one line each,
 * with the HTTP status the local API answers.
 */
export async function prepareDownlink(ask: DownlinkAsk, device: { id: string; codec: Codec; variables: Record<string, string> }): Promise<{ ok: true; downlink: NewDownlink } | { ok: false; status: number; error: string }> {
  let bytes: Buffer;
  let fPort: number | null = ask.fPort ?? null;
  let warnings: string[] = [];
  if (ask.bytes !== undefined) {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(ask.bytes)) return { ok: false, status: 400, error: 'bytes must be hex' };
    bytes = Buffer.from(ask.bytes, 'hex');
  } else {
    const codec = device.codec;
    if (!codec.encodeDownlink) return { ok: false, status: 422, error: `codec ${codec.name} of ${device.id} cannot encode downlinks; send bytes (hex) instead` };
    const r = await codec.encodeDownlink({ data: ask.data ?? null, fPort, variables: device.variables });
    if (!r.ok) return { ok: false, status: 422, error: `encodeDownlink: ${r.error}` };
    bytes = Buffer.from(r.bytes);
    fPort = r.fPort;
    warnings = r.warnings;
  }
  if (fPort === null || !Number.isInteger(fPort) || fPort < 1 || fPort > 223) return { ok: false, status: 400, error: 'fPort must be 1..223' };
  if (bytes.length > MAX_DOWNLINK_BYTES) return { ok: false, status: 422, error: `payload of ${bytes.length} bytes; at most ${MAX_DOWNLINK_BYTES}` };
  return {
    ok: true,
    downlink: {
      device: device.id, fPort, bytes, confirmed: ask.confirmed === true,
      ...(ask.bytes === undefined ? { data: (ask.data ?? null) as JsonValue } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    },
  };
}
