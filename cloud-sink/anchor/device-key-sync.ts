// Keeps the operator's device key registry on chain in step with the sink's own registry: a
// device the sink knows (from its config, or added through the admin API) gets its key registered
// on chain. It works from what both registries hold, not from a memory of what it sent, so it is
// right after a restart and with several sink processes: a registration that never happened is
// found missing again. A device whose key on chain differs from the sink's is reported, never
// changed here: a rotation needs the old key's endorsement or the operator's decision.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { isHex } from '../../protocol/hash.ts';
import { counter } from '../../kernel/metrics.ts';
import type { DeviceKeyPublisher } from '../registry.ts';
import { ChainCallError } from './aptos-operator.ts';
import type { DeviceKeyChain } from './device-key-chain.ts';
import type { OnChainKey } from './device-keys.ts';

export interface DeviceKeySyncOptions {
  chain: DeviceKeyChain;
  /** the devices and keys the sink accepts batches from */
  devices: () => readonly { id: string; key: string }[];
  log: Logger;
  metrics: Registry;
  /** the first retry after a failure; doubles up to maxRetryMs */
  retryMs: number;
  maxRetryMs?: number;
}

export type SyncOutcome = 'registered' | 'present' | 'differs' | 'invalid';

/**
 * A device's first key counts from the beginning of time: a device journals (and signs) before
 * anyone adds it to a sink, and the sink cannot know when its key was made. An operator who knows
 * registers the key with a later time through DeviceKeyChain.register.
 */
export const REGISTERED_FROM_MS = 0;

export class DeviceKeySync implements DeviceKeyPublisher {
  private stopped = true;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private readonly toRetry = new Set<string>();
  /** one device at a time: the chain's account sends one transaction at a time anyway */
  private work: Promise<void> = Promise.resolve();
  private readonly synced;

  private readonly opts: DeviceKeySyncOptions;

  constructor(opts: DeviceKeySyncOptions) {
    this.opts = opts;
    this.synced = counter(opts.metrics, 'fieldproof_sink_device_key_sync_total', 'Device keys compared with the registry on chain, by outcome', ['outcome']);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.enqueue(this.opts.devices().map((d) => d.id));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.work;
  }

  deviceAdded(id: string): void {
    if (!this.stopped) this.enqueue([id]);
  }

  /** Wait until what is queued now is done (tests, and a caller that wants the chain in step). */
  settled(): Promise<void> {
    return this.work;
  }

  /** The device's keys on chain, after registering the sink's key for it when the chain has none. */
  async ensure(device: string): Promise<OnChainKey[]> {
    const keys = await this.opts.chain.deviceKeys(device);
    const mine = this.opts.devices().find((d) => d.id === device);
    if (keys.length > 0 || !mine || !isHex(mine.key, 32)) return keys;
    await this.register(device, mine.key);
    return this.opts.chain.deviceKeys(device);
  }

  private enqueue(devices: readonly string[]): void {
    this.work = this.work.then(async () => {
      for (const id of devices) {
        if (this.stopped) return;
        const key = this.opts.devices().find((d) => d.id === id)?.key;
        if (key === undefined) continue;
        try {
          this.synced.inc({ outcome: await this.syncOne(id, key) });
          this.toRetry.delete(id);
        } catch (err) {
          this.synced.inc({ outcome: 'failed' });
          this.opts.log.error({ device: id, err: (err as Error).message }, 'cannot bring the device key on chain in step; will retry');
          this.toRetry.add(id);
        }
      }
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.stopped || this.timer || this.toRetry.size === 0) {
      if (this.toRetry.size === 0) this.failures = 0;
      return;
    }
    this.failures++;
    const delay = Math.min(this.opts.maxRetryMs ?? 300_000, this.opts.retryMs * 2 ** Math.min(this.failures - 1, 10));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.enqueue([...this.toRetry]);
    }, delay);
    this.timer.unref();
  }

  private async syncOne(device: string, key: string): Promise<SyncOutcome> {
    const { chain, log } = this.opts;
    if (!isHex(key, 32)) {
      log.warn({ device }, 'the sink has no valid key for this device (a placeholder?); nothing registered on chain');
      return 'invalid';
    }
    const keys = await chain.deviceKeys(device);
    if (keys.length === 0) return (await this.register(device, key)) ? 'registered' : 'present';
    const current = keys[keys.length - 1]!;
    if (current.key === key) return 'present';
    log.warn({ device, sinkKey: key, chainKey: current.key, operator: chain.operator, earlier: keys.some((k) => k.key === key) },
      'the device\'s current key on chain is not the key the sink accepts; its batches are held back from anchoring until the two agree (rotate or replace the key on chain, or correct the sink\'s registry)');
    return 'differs';
  }

  /** True when this call registered the key; false when another process did first. */
  private async register(device: string, key: string): Promise<boolean> {
    try {
      const r = await this.opts.chain.register(device, key, REGISTERED_FROM_MS);
      this.opts.log.info({ device, key, operator: this.opts.chain.operator, tx: r.tx, version: r.version }, 'device key registered on chain');
      return true;
    } catch (err) {
      if (err instanceof ChainCallError && err.abort === 'E_DEVICE_EXISTS') return false;
      throw err;
    }
  }
}
