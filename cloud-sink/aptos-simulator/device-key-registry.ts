// The device key registry of move/sources/anchor.move as the simulator runs it: the same rules,
// checked in the same order, aborting with the same codes, over one registry per account. Only
// the signer's own registry is ever changed, as on chain.
import { addressBytes } from './address.ts';
import { isValidatedPublicKey, verifyStrict } from './ed25519-strict.ts';

/** u64::MAX: a key not rotated out / not revoked */
export const NO_END = 2n ** 64n - 1n;
const MAX_KEYS_PER_DEVICE = 64;
/** the module's check_device_name, byte by byte: ASCII letters and digits, then also . _ : - */
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const ROTATION_DOMAIN = Buffer.from('FIELDPROOF::DeviceKeyRotation', 'ascii');

/** A Move abort: the constant's name and its code (std::error category << 16 | reason). */
export class MoveAbort extends Error {
  readonly constant: string;
  readonly code: number;

  constructor(constant: string, code: number) {
    super(`${constant}(0x${code.toString(16)})`);
    this.constant = constant;
    this.code = code;
  }
}

const abort = {
  invalidKey: () => new MoveAbort('E_INVALID_KEY', 0x10005),
  deviceName: () => new MoveAbort('E_DEVICE_NAME', 0x10006),
  deviceExists: () => new MoveAbort('E_DEVICE_EXISTS', 0x80007),
  deviceNotFound: () => new MoveAbort('E_DEVICE_NOT_FOUND', 0x60008),
  keyNotFound: () => new MoveAbort('E_KEY_NOT_FOUND', 0x60009),
  keyReused: () => new MoveAbort('E_KEY_REUSED', 0x8000a),
  rotationTime: () => new MoveAbort('E_ROTATION_TIME', 0x1000b),
  badEndorsement: () => new MoveAbort('E_BAD_ENDORSEMENT', 0x5000c),
  keyRevoked: () => new MoveAbort('E_KEY_REVOKED', 0x3000d),
  alreadyRevoked: () => new MoveAbort('E_ALREADY_REVOKED', 0x3000e),
  tooManyKeys: () => new MoveAbort('E_TOO_MANY_KEYS', 0x9000f),
  timeNoEnd: () => new MoveAbort('E_TIME_NO_END', 0x10010),
};

export interface KeyEntry {
  key: Buffer;
  validFromMs: bigint;
  validUntilMs: bigint;
  revokedFromMs: bigint;
  registeredAtUs: bigint;
  revokedAtUs: bigint;
  endorsed: boolean;
}

/** An event the module emits: its struct name and its fields as the REST API prints them. */
export interface ModuleEvent {
  name: string;
  data: Record<string, unknown>;
}

const hex = (b: Buffer) => '0x' + b.toString('hex');

function uleb128(n: number): Buffer {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.from(out);
}

/** rotation_message of the module, built from the BCS rules. */
export function rotationMessage(operator: string, device: string, oldKey: Buffer, newKey: Buffer, validFromMs: bigint): Buffer {
  const name = Buffer.from(device, 'utf8');
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(validFromMs);
  return Buffer.concat([ROTATION_DOMAIN, addressBytes(operator), uleb128(name.length), name, oldKey, newKey, time]);
}

/** DeviceKey as a view returns it in JSON. */
export function keyEntryJson(k: KeyEntry): Record<string, unknown> {
  return {
    key: hex(k.key), valid_from_ms: k.validFromMs.toString(), valid_until_ms: k.validUntilMs.toString(), revoked_from_ms: k.revokedFromMs.toString(),
    registered_at_us: k.registeredAtUs.toString(), revoked_at_us: k.revokedAtUs.toString(), endorsed: k.endorsed,
  };
}

export class SimulatedDeviceKeys {
  /** operator -> device -> keys, oldest first */
  private readonly registries = new Map<string, Map<string, KeyEntry[]>>();

  register(operator: string, device: string, key: Buffer, validFromMs: bigint, nowUs: bigint): ModuleEvent {
    if (!DEVICE_NAME.test(device)) throw abort.deviceName();
    checkKey(key);
    const registry = this.registries.get(operator) ?? new Map<string, KeyEntry[]>();
    if (registry.has(device)) throw abort.deviceExists();
    registry.set(device, [entry(key, validFromMs, false, nowUs)]);
    this.registries.set(operator, registry);
    return { name: 'DeviceKeyRegistered', data: { operator, device, key: hex(key), valid_from_ms: validFromMs.toString() } };
  }

  rotate(operator: string, device: string, newKey: Buffer, validFromMs: bigint, endorsement: Buffer, nowUs: bigint): ModuleEvent {
    checkKey(newKey);
    const keys = this.keysOrAbort(operator, device);
    const current = keys[keys.length - 1]!;
    if (current.revokedFromMs !== NO_END) throw abort.keyRevoked();
    const message = rotationMessage(operator, device, current.key, newKey, validFromMs);
    if (!verifyStrict(endorsement, current.key, message)) throw abort.badEndorsement();
    pushSuccessor(keys, newKey, validFromMs, true, nowUs);
    return rotated(operator, device, current.key, newKey, validFromMs, true);
  }

  replace(operator: string, device: string, newKey: Buffer, validFromMs: bigint, nowUs: bigint): ModuleEvent {
    checkKey(newKey);
    const keys = this.keysOrAbort(operator, device);
    const oldKey = keys[keys.length - 1]!.key;
    pushSuccessor(keys, newKey, validFromMs, false, nowUs);
    return rotated(operator, device, oldKey, newKey, validFromMs, false);
  }

  revoke(operator: string, device: string, key: Buffer, revokedFromMs: bigint, nowUs: bigint): ModuleEvent {
    if (revokedFromMs === NO_END) throw abort.timeNoEnd();
    const keys = this.keysOrAbort(operator, device);
    const k = keys.find((e) => e.key.equals(key));
    if (!k) throw abort.keyNotFound();
    if (k.revokedFromMs !== NO_END) throw abort.alreadyRevoked();
    k.revokedFromMs = revokedFromMs;
    k.revokedAtUs = nowUs;
    return { name: 'DeviceKeyRevoked', data: { operator, device, key: hex(key), revoked_from_ms: revokedFromMs.toString() } };
  }

  /** the device_keys view: copies, oldest first */
  keys(operator: string, device: string): KeyEntry[] {
    return (this.registries.get(operator)?.get(device) ?? []).map((k) => ({ ...k }));
  }

  keyValidAt(operator: string, device: string, key: Buffer, timeMs: bigint): boolean {
    const k = this.registries.get(operator)?.get(device)?.find((e) => e.key.equals(key));
    return k !== undefined && k.validFromMs <= timeMs && timeMs < k.validUntilMs && timeMs < k.revokedFromMs;
  }

  private keysOrAbort(operator: string, device: string): KeyEntry[] {
    const keys = this.registries.get(operator)?.get(device);
    if (!keys) throw abort.deviceNotFound();
    return keys;
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== 32 || !isValidatedPublicKey(key)) throw abort.invalidKey();
}

function entry(key: Buffer, validFromMs: bigint, endorsed: boolean, nowUs: bigint): KeyEntry {
  return { key, validFromMs, validUntilMs: NO_END, revokedFromMs: NO_END, registeredAtUs: nowUs, revokedAtUs: 0n, endorsed };
}

function pushSuccessor(keys: KeyEntry[], newKey: Buffer, validFromMs: bigint, endorsed: boolean, nowUs: bigint): void {
  if (keys.some((k) => k.key.equals(newKey))) throw abort.keyReused();
  if (validFromMs === NO_END) throw abort.timeNoEnd();
  const current = keys[keys.length - 1]!;
  if (validFromMs <= current.validFromMs) throw abort.rotationTime();
  if (keys.length >= MAX_KEYS_PER_DEVICE) throw abort.tooManyKeys();
  current.validUntilMs = validFromMs;
  keys.push(entry(newKey, validFromMs, endorsed, nowUs));
}

function rotated(operator: string, device: string, oldKey: Buffer, newKey: Buffer, validFromMs: bigint, endorsed: boolean): ModuleEvent {
  return { name: 'DeviceKeyRotated', data: { operator, device, old_key: hex(oldKey), new_key: hex(newKey), valid_from_ms: validFromMs.toString(), endorsed } };
}
