// The anchor module's view functions, asked of one full node: read-only, no key needed. The sink
// asks them about its own account; a verifier about the operator account it was given.
import type { Aptos, MoveModule } from '@aptos-labs/ts-sdk';
import { loadAnchorAbi, viewFunctionAbi } from './abi.ts';
import { parseDeviceKeys, type OnChainKey } from './device-keys.ts';

type FunctionId = `${string}::${string}::${string}`;

export class AnchorModuleViews {
  /**
   * @param module the published module, `<long address>::anchor`
   */
  private readonly aptos: Aptos;
  readonly module: string;
  private readonly abi: MoveModule;

  constructor(aptos: Aptos, module: string, abi: MoveModule = loadAnchorAbi()) {
    this.aptos = aptos;
    this.module = module;
    this.abi = abi;
  }

  private async call(name: string, functionArguments: unknown[]): Promise<unknown> {
    const out = await this.aptos.view({
      payload: { function: `${this.module}::${name}` as FunctionId, functionArguments: functionArguments as never, abi: viewFunctionAbi(this.abi, name) },
    });
    if (!Array.isArray(out) || out.length !== 1) throw new Error(`${name} answered ${JSON.stringify(out).slice(0, 200)}, not one value`);
    return out[0];
  }

  /** anchored_at: microseconds since the epoch, 0n when `anchorer` never recorded `rootHex`. */
  async anchoredAt(anchorer: string, rootHex: string): Promise<bigint> {
    const v = await this.call('anchored_at', [anchorer, Buffer.from(rootHex, 'hex')]);
    if (typeof v !== 'string' || !/^[0-9]{1,20}$/.test(v)) throw new Error(`anchored_at answered ${JSON.stringify(v)}, not a u64`);
    return BigInt(v);
  }

  async keyValidAt(operator: string, device: string, keyHex: string, timeMs: number): Promise<boolean> {
    const v = await this.call('key_valid_at', [operator, device, Buffer.from(keyHex, 'hex'), BigInt(timeMs)]);
    if (typeof v !== 'boolean') throw new Error(`key_valid_at answered ${JSON.stringify(v)}, not a bool`);
    return v;
  }

  async deviceKeys(operator: string, device: string): Promise<OnChainKey[]> {
    return parseDeviceKeys(await this.call('device_keys', [operator, device]));
  }
}
