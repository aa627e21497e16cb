// One published copy of move/sources/anchor.move as the simulator runs it: the roots each
// account anchored and each account's device key registry, the entry functions' rules and
// events, and the view functions' answers in the REST API's JSON. Each published address has its
// own state, as resources of two modules of the same name at two addresses are two resources.
import { normalizeAddress } from './address.ts';
import { keyEntryJson, MoveAbort, rotationMessage, SimulatedDeviceKeys, type ModuleEvent } from './device-key-registry.ts';

/** A Move value as the simulator decodes an argument: integers as decimal strings, bytes as 0x hex. */
export type MoveArgument = string | boolean | number[];

interface AnchorEntry {
  anchoredAtUs: bigint;
  batchCount: bigint;
  firstTs: bigint;
  lastTs: bigint;
  index: bigint;
}

const bytes = (v: MoveArgument) => Buffer.from(String(v).slice(2), 'hex');
const u64 = (v: MoveArgument) => BigInt(String(v));

/** A view's answer as a module its account upgraded would give it instead: the arguments in, the values out. */
export type ViewOverride = (args: MoveArgument[]) => unknown[];

export class SimulatedAnchorModule {
  private readonly anchors = new Map<string, Map<string, AnchorEntry>>();
  readonly deviceKeys = new SimulatedDeviceKeys();
  /** views answered otherwise, as after an upgrade by the account (the package's policy is "compatible") */
  readonly upgradedViews = new Map<string, ViewOverride>();

  readonly address: string;

  constructor(address: string) {
    this.address = address;
  }

  /** Run an entry function for `sender`: the events it emits, or a MoveAbort thrown with nothing changed. */
  execute(fn: string, sender: string, args: MoveArgument[], nowUs: bigint): ModuleEvent[] {
    const a = args;
    switch (fn) {
      case 'record_root':
        return [this.recordRoot(sender, String(a[0]), u64(a[1]!), u64(a[2]!), u64(a[3]!), nowUs)];
      case 'register_device_key':
        return [this.deviceKeys.register(sender, String(a[0]), bytes(a[1]!), u64(a[2]!), nowUs)];
      case 'rotate_device_key':
        return [this.deviceKeys.rotate(sender, String(a[0]), bytes(a[1]!), u64(a[2]!), bytes(a[3]!), nowUs)];
      case 'replace_device_key':
        return [this.deviceKeys.replace(sender, String(a[0]), bytes(a[1]!), u64(a[2]!), nowUs)];
      case 'revoke_device_key':
        return [this.deviceKeys.revoke(sender, String(a[0]), bytes(a[1]!), u64(a[2]!), nowUs)];
      default:
        throw new Error(`the simulator does not execute ${fn}`);
    }
  }

  /** A view function's return values, as POST /v1/view answers them. */
  view(fn: string, args: MoveArgument[]): unknown[] {
    const upgraded = this.upgradedViews.get(fn);
    if (upgraded) return upgraded(args);
    const a = args;
    switch (fn) {
      case 'anchored_at':
        return [this.anchoredAt(String(a[0]), String(a[1])).toString()];
      case 'anchor_count':
        return [String(this.anchors.get(normalizeAddress(String(a[0])))?.size ?? 0)];
      case 'key_valid_at':
        return [this.deviceKeys.keyValidAt(normalizeAddress(String(a[0])), String(a[1]), bytes(a[2]!), u64(a[3]!))];
      case 'device_keys':
        return [this.deviceKeys.keys(normalizeAddress(String(a[0])), String(a[1])).map(keyEntryJson)];
      case 'rotation_message':
        return ['0x' + rotationMessage(String(a[0]), String(a[1]), bytes(a[2]!), bytes(a[3]!), u64(a[4]!)).toString('hex')];
      default:
        throw new Error(`the simulator does not evaluate ${fn}`);
    }
  }

  anchoredAt(anchorer: string, rootHex: string): bigint {
    return this.anchors.get(normalizeAddress(anchorer))?.get(rootHex.replace(/^0x/, '').toLowerCase())?.anchoredAtUs ?? 0n;
  }

  private recordRoot(sender: string, root: string, batchCount: bigint, firstTs: bigint, lastTs: bigint, nowUs: bigint): ModuleEvent {
    const rootHex = root.slice(2);
    const mine = this.anchors.get(sender) ?? new Map<string, AnchorEntry>();
    if (rootHex.length !== 64) throw new MoveAbort('E_ROOT_LENGTH', 0x10001);
    if (batchCount === 0n) throw new MoveAbort('E_NO_BATCHES', 0x10003);
    if (firstTs > lastTs) throw new MoveAbort('E_TIME_ORDER', 0x10004);
    if (mine.has(rootHex)) throw new MoveAbort('E_ALREADY_ANCHORED', 0x80002);
    const entry: AnchorEntry = { anchoredAtUs: nowUs, batchCount, firstTs, lastTs, index: BigInt(mine.size) };
    mine.set(rootHex, entry);
    this.anchors.set(sender, mine);
    return {
      name: 'RootAnchored',
      data: {
        anchorer: sender, root, batch_count: batchCount.toString(), first_ts: firstTs.toString(), last_ts: lastTs.toString(),
        anchored_at_us: nowUs.toString(), index: entry.index.toString(),
      },
    };
  }
}
