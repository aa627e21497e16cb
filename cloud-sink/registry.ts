// The device registry: the keys listed in the config plus those added through the admin API,
// which the store keeps. A lookup miss reads the store, so a device registered (or re-keyed)
// through another sink process over the same database is found.
import type { Logger } from 'pino';
import type { RegisteredDevice, SinkStore } from './store/types.ts';

/** Told of each device added at runtime (to register its key on chain). */
export interface DeviceKeyPublisher {
  deviceAdded(id: string, key: string): void;
}

export class DeviceRegistry {
  private keys = new Map<string, RegisteredDevice>();

  private readonly store: SinkStore;
  private readonly configured: readonly { id: string; key: string }[];
  private readonly log: Logger;
  private readonly publisher: DeviceKeyPublisher | null;

  constructor(
    store: SinkStore,
    configured: readonly { id: string; key: string }[],
    log: Logger,
    publisher: DeviceKeyPublisher | null = null,
  ) {
    this.store = store;
    this.configured = configured;
    this.log = log;
    this.publisher = publisher;
  }

  async load(): Promise<void> {
    const next = new Map<string, RegisteredDevice>();
    for (const d of await this.store.registeredDevices()) next.set(d.id, d);
    // The config wins over an earlier API registration: it is what the operator wrote last.
    // A key rotated or revoked through the sink wins over the config: it is the later decision.
    for (const d of this.configured) {
      const had = next.get(d.id);
      if (had?.changedAt !== undefined) {
        if (had.key !== d.key) this.log.warn({ device: d.id }, 'the device\'s key was rotated through the sink; the config still gives the old one (update the config)');
        continue;
      }
      if (had && had.key !== d.key) this.log.warn({ device: d.id }, 'the config gives a device another key than the one registered through the API; using the config');
      next.set(d.id, { id: d.id, key: d.key, addedAt: had?.addedAt ?? 0 });
    }
    this.keys = next;
  }

  async keyOf(device: string, offered?: string): Promise<string | null> {
    return (await this.entry(device, offered))?.key ?? null;
  }

  /**
   * The device's entry: its key, the keys it had, the keys revoked. A device this process does
   * not know, or knows with a key other than the `offered` one, is looked up in the store: another
   * sink process over the same database may have registered, rotated or revoked it since. One
   * indexed read, and a header that gets this far and is still refused counts toward its client's
   * refusal limit.
   */
  async entry(device: string, offered?: string): Promise<RegisteredDevice | null> {
    const known = this.keys.get(device);
    if (known && (offered === undefined || known.key === offered)) return known;
    const stored = await this.store.registeredDevice(device);
    if (!stored) return known ?? null;
    // the config wins over the store, unless the key was rotated or revoked through a sink (load)
    if (known && stored.changedAt === undefined && this.configured.some((d) => d.id === device)) return known;
    this.keys.set(device, stored);
    return stored;
  }

  /** Write a changed entry (a rotation, a revocation) and read the registry again. */
  async change(device: RegisteredDevice): Promise<void> {
    await this.store.putDevice(device);
    await this.load();
  }

  async add(id: string, key: string): Promise<'added' | 'exists' | 'conflict'> {
    const configured = this.configured.find((d) => d.id === id);
    if (configured) return configured.key === key ? 'exists' : 'conflict';
    const outcome = await this.store.addDevice({ id, key, addedAt: Date.now() });
    if (outcome !== 'conflict') await this.load();
    if (outcome === 'added') this.publisher?.deviceAdded(id, key);
    return outcome;
  }

  /** Registered as far as this process knows now (no store lookup). */
  has(id: string): boolean {
    return this.keys.has(id);
  }

  list(): RegisteredDevice[] {
    return [...this.keys.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}

export type KeyVerdict = 'ok' | 'wrong_key' | 'revoked_key';

/**
 * Whether a batch signed with `key` and created at `createdMs` is the device's to send: its
 * current key, or a key it had before that rotation's validFrom; never a key revoked through the
 * sink (the thief of a key can write any `created`, so a revoked key sends nothing new).
 */
export function keyVerdict(entry: RegisteredDevice, key: string, createdMs: number): KeyVerdict {
  if (entry.revoked?.some((r) => r.key === key)) return 'revoked_key';
  if (entry.key === key) return 'ok';
  return entry.previous?.some((p) => p.key === key && createdMs < p.until) ? 'ok' : 'wrong_key';
}
