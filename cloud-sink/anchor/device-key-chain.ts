// The operator's device key registry on chain, as the sink (and the key verbs) change and read
// it: one entry function per change, each sent in turn from the operator's account and waited
// for; reads through the module's views. Times are milliseconds since the epoch, as batch
// headers carry them.
import { Hex } from '@aptos-labs/ts-sdk';
import { isHex } from '../../protocol/hash.ts';
import { isValidName } from '../../protocol/records.ts';
import type { AptosOperatorAccount } from './aptos-operator.ts';
import type { OnChainKey } from './device-keys.ts';

export interface ChainReceipt {
  tx: string;
  version: number;
}

/** What the sink needs of the registry; the Aptos one below, or a test's own. */
export interface DeviceKeyChain {
  /** the operator's account address, long form */
  readonly operator: string;
  deviceKeys(device: string): Promise<OnChainKey[]>;
  register(device: string, key: string, validFromMs: number): Promise<ChainReceipt>;
  /** `endorsementHex`: the current key's signature over the rotation message (protocol/key-rotation.ts) */
  rotate(device: string, newKey: string, validFromMs: number, endorsementHex: string): Promise<ChainReceipt>;
  /** a new key on the operator's word alone, when the current key is lost */
  replace(device: string, newKey: string, validFromMs: number): Promise<ChainReceipt>;
  revoke(device: string, key: string, revokedFromMs: number): Promise<ChainReceipt>;
}

function checkArgs(device: string, key: string, timeMs: number): void {
  if (!isValidName(device)) throw new Error(`not a device name: ${device}`);
  if (!isHex(key, 32)) throw new Error('a device key is 64 lowercase hex digits');
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new Error('a time is a non-negative integer of milliseconds');
}

const bytes = (hex: string) => Hex.fromHexInput(hex).toUint8Array();

export class AptosDeviceKeyChain implements DeviceKeyChain {
  private readonly account: AptosOperatorAccount;

  constructor(account: AptosOperatorAccount) {
    this.account = account;
  }

  get operator(): string {
    return this.account.address;
  }

  deviceKeys(device: string): Promise<OnChainKey[]> {
    return this.account.views.deviceKeys(this.operator, device);
  }

  register(device: string, key: string, validFromMs: number): Promise<ChainReceipt> {
    checkArgs(device, key, validFromMs);
    return this.account.call('register_device_key', [device, bytes(key), validFromMs]);
  }

  rotate(device: string, newKey: string, validFromMs: number, endorsementHex: string): Promise<ChainReceipt> {
    checkArgs(device, newKey, validFromMs);
    if (!isHex(endorsementHex, 64)) throw new Error('an endorsement is an Ed25519 signature: 128 lowercase hex digits');
    return this.account.call('rotate_device_key', [device, bytes(newKey), validFromMs, bytes(endorsementHex)]);
  }

  replace(device: string, newKey: string, validFromMs: number): Promise<ChainReceipt> {
    checkArgs(device, newKey, validFromMs);
    return this.account.call('replace_device_key', [device, bytes(newKey), validFromMs]);
  }

  revoke(device: string, key: string, revokedFromMs: number): Promise<ChainReceipt> {
    checkArgs(device, key, revokedFromMs);
    return this.account.call('revoke_device_key', [device, bytes(key), revokedFromMs]);
  }
}
