// The anchorer's rule for device keys: a batch goes into an anchor only if its header's key is
// valid on chain, in the operator's registry, at the batch's `created` time, and not revoked; any
// other batch would fail a verifier's check against the operator's account, so anchoring it would
// only hide the problem. The keys are read once per anchor, for the devices it would cover.
import type { BatchHeader } from '../../protocol/batch.ts';
import type { AnchorAdmission } from './anchorer.ts';
import { judgeKey, type OnChainKey } from './device-keys.ts';

export interface KeySource {
  /** the device's keys on chain (registering the sink's key first when there are none) */
  ensure(device: string): Promise<OnChainKey[]>;
}

export class OnChainKeyAdmission implements AnchorAdmission {
  private keys = new Map<string, OnChainKey[]>();
  private asOfUs = 0n;

  private readonly source: KeySource;
  private readonly operator: string;
  private readonly now: () => number;

  constructor(source: KeySource, operator: string, now: () => number = Date.now) {
    this.source = source;
    this.operator = operator;
    this.now = now;
  }

  async prepare(devices: readonly string[]): Promise<void> {
    const next = new Map<string, OnChainKey[]>();
    for (const d of devices) next.set(d, await this.source.ensure(d));
    this.keys = next;
    this.asOfUs = BigInt(this.now()) * 1000n;
  }

  holdBack(header: BatchHeader): string | null {
    const keys = this.keys.get(header.device);
    if (!keys) return `the keys of device ${header.device} on chain were not read for this anchor (the batch arrived as it began); it waits for the next`;
    const verdict = judgeKey(keys, { operator: this.operator, device: header.device, key: header.key, createdMs: header.created, anchoredAtUs: this.asOfUs });
    return verdict.ok ? null : verdict.detail;
  }
}
