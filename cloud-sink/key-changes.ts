// A device's key changed through the sink (admin API, `fieldproof sink-devices rotate|revoke`):
// on chain first, through the operator registry's entry functions (rotate_device_key with the old
// key's endorsement, replace_device_key on the operator's word when the old key is lost,
// revoke_device_key), then in the sink's own registry, so that what the sink accepts never runs
// ahead of what a verifier will find on chain. Without anchoring there is no chain to write.
import type { Logger } from 'pino';
import { isHex } from '../protocol/hash.ts';
import { endorsementHolds } from '../protocol/key-rotation.ts';
import type { ChainReceipt, DeviceKeyChain } from './anchor/device-key-chain.ts';
import type { DeviceRegistry } from './registry.ts';

export interface KeyChangeReply {
  status: number;
  body: Record<string, unknown>;
}

export interface KeyChangesDeps {
  registry: DeviceRegistry;
  /** the operator's registry on chain; null when the sink does not anchor */
  chain: DeviceKeyChain | null;
  log: Logger;
  now?: () => number;
}

const refuse = (status: number, code: string, error: string): KeyChangeReply => ({ status, body: { error, code } });
const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export class DeviceKeyChanges {
  private readonly deps: KeyChangesDeps;

  constructor(deps: KeyChangesDeps) {
    this.deps = deps;
  }

  /**
   * `{"key": new, "validFrom": ms, "endorsement"?: hex}`: with the endorsement (the current key's
   * signature over the rotation message), a rotation; without, the operator alone replaces a lost key.
   */
  async rotate(device: string, body: Record<string, unknown>): Promise<KeyChangeReply> {
    const entry = await this.deps.registry.entry(device);
    if (!entry) return refuse(404, 'unknown_device', `device ${device} is not registered with this sink`);
    const { key, validFrom, endorsement } = body;
    if (!isHex(key, 32)) return refuse(400, 'bad_body', 'key must be the new 64-digit lowercase hex Ed25519 public key');
    if (!isTime(validFrom)) return refuse(400, 'bad_body', 'validFrom must be a time in ms since the epoch');
    if (endorsement !== undefined && !isHex(endorsement, 64)) return refuse(400, 'bad_body', 'endorsement must be 128 lowercase hex digits (an Ed25519 signature)');
    if (key === entry.key) return refuse(409, 'same_key', `device ${device} has this key already`);
    if (entry.revoked?.some((r) => r.key === key) || entry.previous?.some((p) => p.key === key)) return refuse(409, 'key_used', 'a key the device had before cannot come back');
    const { chain } = this.deps;
    if (endorsement !== undefined && chain && !endorsementHolds({ operator: chain.operator, device, oldKey: entry.key, newKey: key, validFromMs: validFrom }, endorsement)) {
      return refuse(422, 'bad_endorsement', `the endorsement is not the current key's (${entry.key}) signature over this rotation`);
    }
    if (endorsement === undefined && body.operatorAlone !== true) {
      return refuse(400, 'bad_body', 'give the current key\'s endorsement, or operatorAlone: true when that key is lost');
    }
    const onChain = await this.onChain(() => (endorsement !== undefined ? chain!.rotate(device, key, validFrom, endorsement) : chain!.replace(device, key, validFrom)));
    if ('status' in onChain) return onChain;
    const now = (this.deps.now ?? Date.now)();
    await this.deps.registry.change({ ...entry, key, previous: [...(entry.previous ?? []), { key: entry.key, until: validFrom }], changedAt: now });
    const mode = endorsement !== undefined ? 'endorsed' : 'operator';
    this.deps.log.warn({ device, key, previousKey: entry.key, validFrom, mode, ...onChain }, 'device key rotated');
    return { status: 200, body: { device, key, previousKey: entry.key, validFrom, mode, ...onChain } };
  }

  /** `{"key"?: hex (the current key when absent), "from": ms}`: no new batch of that key is accepted. */
  async revoke(device: string, body: Record<string, unknown>): Promise<KeyChangeReply> {
    const entry = await this.deps.registry.entry(device);
    if (!entry) return refuse(404, 'unknown_device', `device ${device} is not registered with this sink`);
    const key = body.key ?? entry.key;
    const { from } = body;
    if (!isHex(key, 32)) return refuse(400, 'bad_body', 'key must be a 64-digit lowercase hex Ed25519 public key');
    if (!isTime(from)) return refuse(400, 'bad_body', 'from must be a time in ms since the epoch');
    if (key !== entry.key && !entry.previous?.some((p) => p.key === key)) return refuse(404, 'unknown_key', `${key} is not a key of device ${device}`);
    if (entry.revoked?.some((r) => r.key === key)) return refuse(409, 'already_revoked', `${key} of device ${device} is revoked already`);
    const onChain = await this.onChain(() => this.deps.chain!.revoke(device, key, from));
    if ('status' in onChain) return onChain;
    const now = (this.deps.now ?? Date.now)();
    await this.deps.registry.change({ ...entry, revoked: [...(entry.revoked ?? []), { key, fromMs: from, at: now }], changedAt: now });
    this.deps.log.warn({ device, key, from, ...onChain }, 'device key revoked: no new batch of it is accepted');
    return { status: 200, body: { device, key, revokedFrom: from, ...onChain } };
  }

  /** Run the chain call when there is a chain: its transaction, a refusal naming the chain's reason, or nothing. */
  private async onChain(call: () => Promise<ChainReceipt>): Promise<{ chain?: ChainReceipt } | KeyChangeReply> {
    if (!this.deps.chain) return {};
    try {
      return { chain: await call() };
    } catch (err) {
      const abort = (err as { abort?: string | null }).abort;
      const message = (err as Error).message.split('\n')[0]!;
      return abort ? refuse(409, 'chain_refused', `the registry on chain refused: ${abort}`) : refuse(502, 'chain_failed', `the chain call failed: ${message}`);
    }
  }
}
