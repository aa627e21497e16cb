// Which sink key the device believes. With `uplink.sinkKey` configured, that key and no other;
// without it, trust on first use as ssh does: the key of the first valid receipt is pinned in
// <dataDir>/sink-key.json (written atomically, logged once), and from then on a receipt under any
// other key is refused as a swapped sink. Nothing is deleted on a receipt this does not accept.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { checkReceipt, type ReceiptCheck, type ReceiptClaim } from '../../protocol/receipt.ts';
import { isHex } from '../../protocol/hash.ts';
import { writeFileAtomic } from '../../kernel/atomic-file.ts';
import { UserError } from '../../kernel/user-error.ts';

export const PIN_FILE = 'sink-key.json';

export type TrustVerdict =
  | { ok: true }
  | { ok: false; reason: Exclude<ReceiptCheck, { ok: true }>['reason'] | 'sink_key_changed'; detail: string };

export interface SinkTrustDeps {
  /** uplink.sinkKey, when the operator gave it */
  configuredKey?: string | undefined;
  /** the device's data folder, where a first-use pin is kept */
  dataDir: string;
  /** the sink's URL, recorded with a pin for the operator's information */
  url: string;
  log: Logger;
}

export class SinkTrust {
  private key: string | null = null;
  private readonly pinFile: string;
  private readonly deps: SinkTrustDeps;

  constructor(deps: SinkTrustDeps) {
    this.deps = deps;
    this.pinFile = join(deps.dataDir, PIN_FILE);
  }

  /** The key receipts must be signed with, or null while none is pinned yet. */
  get trustedKey(): string | null {
    return this.key;
  }

  start(): void {
    const { configuredKey, log } = this.deps;
    if (configuredKey) {
      this.key = configuredKey;
      log.info({ sinkKey: configuredKey }, 'receipts must be signed by the configured sink key (uplink.sinkKey)');
      return;
    }
    this.key = this.readPin();
    if (this.key) log.info({ sinkKey: this.key, file: this.pinFile }, 'receipts must be signed by the sink key pinned on first use');
    else log.info('no sink key configured (uplink.sinkKey) or pinned yet: the key of the first valid receipt will be pinned');
  }

  /** Is `raw` a receipt for exactly `claim` from the sink this device trusts? Pins the key on first use. */
  accept(raw: unknown, claim: ReceiptClaim): TrustVerdict {
    const check = checkReceipt(raw, claim);
    if (!check.ok) return { ok: false, reason: check.reason, detail: check.detail };
    const { sink } = check.receipt;
    if (this.key === null) this.pin(sink);
    else if (sink !== this.key) {
      const how = this.deps.configuredKey ? 'uplink.sinkKey' : `the key pinned in ${this.pinFile}`;
      return { ok: false, reason: 'sink_key_changed', detail: `the receipt is signed by sink key ${sink}, not ${this.key} (${how})` };
    }
    return { ok: true };
  }

  private readPin(): string | null {
    if (!existsSync(this.pinFile)) return null;
    let key: unknown;
    try {
      key = (JSON.parse(readFileSync(this.pinFile, 'utf8')) as { key?: unknown }).key;
    } catch (err) {
      throw new UserError(`${this.pinFile}: cannot read the pinned sink key (${(err as Error).message}); delete it to pin again, or set uplink.sinkKey`);
    }
    if (!isHex(key, 32)) throw new UserError(`${this.pinFile} holds no 64-hex sink key; delete it to pin again, or set uplink.sinkKey`);
    return key;
  }

  private pin(key: string): void {
    mkdirSync(this.deps.dataDir, { recursive: true });
    writeFileAtomic(this.pinFile, JSON.stringify({ v: 1, key, url: this.deps.url, pinnedAt: new Date().toISOString() }) + '\n');
    this.key = key;
    this.deps.log.warn({ sinkKey: key, file: this.pinFile, url: this.deps.url }, 'pinned the sink key on first use: receipts under any other key will be refused (set uplink.sinkKey to choose the key yourself)');
  }
}
