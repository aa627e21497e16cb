// LoRaWAN 1.0.x frame cryptography on the uplink hot path: the MIC (AES-CMAC, RFC 4493) and the
// FRMPayload keystream (AES-128 in counter blocks A_i), both keyed by a session's keys.
//
// lora-packet computes the same things (crypto.test.ts checks both against each other and against the
// published vectors) but through crypto-js and hex strings, at about 80 µs per uplink; an AES-ECB
// cipher from node:crypto kept open per key does it in a few µs, which is what lets one small CPU
// keep up with a busy site. Joins are rare and go through lora-packet (join.ts).
import { createCipheriv, type Cipheriv } from 'node:crypto';

const BLOCK = 16;

/** AES-128 single-block encryption with one long-lived ECB cipher (ECB has no state between blocks). */
export class Aes128 {
  private readonly cipher: Cipheriv;

  readonly key: Buffer;

  constructor(key: Buffer) {
    this.key = key;
    if (key.length !== BLOCK) throw new RangeError(`AES-128 key must be 16 bytes, got ${key.length}`);
    this.cipher = createCipheriv('aes-128-ecb', key, null);
    this.cipher.setAutoPadding(false);
  }

  /** Encrypt a whole number of blocks. */
  encrypt(blocks: Buffer): Buffer {
    return this.cipher.update(blocks);
  }
}

/**
 * AES-CMAC (RFC 4493) under one key, with its subkeys computed once. The CBC-MAC runs through one
 * long-lived AES-CBC cipher in a single call per message: CBC carries its last output block into
 * the next message as the IV, so the first block of each message is XORed with that block first,
 * which is the same as starting from the zero IV the MAC needs.
 */
export class Cmac {
  private readonly cbc: Cipheriv;
  private readonly k1: Buffer;
  private readonly k2: Buffer;
  /** the CBC cipher's current chaining value: the last block it output */
  private readonly chain = Buffer.alloc(BLOCK);

  constructor(key: Buffer) {
    const l = new Aes128(key).encrypt(Buffer.alloc(BLOCK));
    this.k1 = shiftLeftXorRb(l);
    this.k2 = shiftLeftXorRb(this.k1);
    this.cbc = createCipheriv('aes-128-cbc', key, Buffer.alloc(BLOCK));
    this.cbc.setAutoPadding(false);
  }

  /** The first four bytes of CMAC(key, parts...), the LoRaWAN MIC, as an unsigned 32-bit integer (wire order, big-endian read). */
  mic(...parts: Buffer[]): number {
    return this.full(parts).readUInt32BE(0);
  }

  /** The data-frame MIC, with B0 written straight into the CMAC input (the hot path: one buffer, one cipher call). */
  micWithB0(dir: 0 | 1, devAddr: number, fCnt32: number, msg: Buffer): number {
    const total = BLOCK + msg.length;
    const n = Math.ceil(total / BLOCK);
    const m = Buffer.alloc(n * BLOCK);
    m[0] = 0x49;
    m[5] = dir;
    m.writeUInt32LE(devAddr >>> 0, 6);
    m.writeUInt32LE(fCnt32 >>> 0, 10);
    m[15] = msg.length;
    msg.copy(m, BLOCK);
    return this.finish(m, total).readUInt32BE(0);
  }

  full(parts: Buffer[]): Buffer {
    let total = 0;
    for (const p of parts) total += p.length;
    const n = total === 0 ? 1 : Math.ceil(total / BLOCK);
    const m = Buffer.alloc(n * BLOCK);
    let at = 0;
    for (const p of parts) at += p.copy(m, at);
    return this.finish(m, total);
  }

  /** Pad the last block (K1 or K2), undo the carried chaining value, run the CBC-MAC. */
  private finish(m: Buffer, total: number): Buffer {
    const n = m.length / BLOCK;
    const complete = total !== 0 && total % BLOCK === 0;
    const last = (n - 1) * BLOCK;
    if (complete) {
      for (let i = 0; i < BLOCK; i++) m[last + i]! ^= this.k1[i]!;
    } else {
      m[total] = 0x80;
      for (let i = 0; i < BLOCK; i++) m[last + i]! ^= this.k2[i]!;
    }
    for (let i = 0; i < BLOCK; i++) m[i]! ^= this.chain[i]!;
    const out = this.cbc.update(m);
    out.copy(this.chain, 0, out.length - BLOCK);
    return out.subarray(out.length - BLOCK);
  }
}

function shiftLeftXorRb(input: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((input[i]! << 1) | (i < BLOCK - 1 ? input[i + 1]! >> 7 : 0)) & 0xff;
  if (input[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

export const UP = 0;
export const DOWN = 1;

/**
 * MIC of a data frame: CMAC(NwkSKey, B0 | msg) with B0 = 0x49 | 4×0x00 | Dir | DevAddr | FCnt32 | 0x00 | len(msg)
 * (LoRaWAN 1.0.x section 4.4). `msg` is MHDR..FRMPayload, the PHYPayload without its MIC.
 */
export function dataMic(cmac: Cmac, dir: 0 | 1, devAddr: number, fCnt32: number, msg: Buffer): number {
  return cmac.micWithB0(dir, devAddr, fCnt32, msg);
}

/**
 * En- or decrypt a FRMPayload (the operation is its own inverse): XOR with AES(key, A_i),
 * A_i = 0x01 | 4×0x00 | Dir | DevAddr | FCnt32 | 0x00 | i, i from 1 (LoRaWAN 1.0.x section 4.3.3).
 */
export function cryptPayload(aes: Aes128, dir: 0 | 1, devAddr: number, fCnt32: number, data: Buffer): Buffer {
  const k = Math.ceil(data.length / BLOCK);
  if (k === 0) return Buffer.alloc(0);
  const a = Buffer.alloc(k * BLOCK);
  for (let i = 0; i < k; i++) {
    const o = i * BLOCK;
    a[o] = 0x01;
    a[o + 5] = dir;
    a.writeUInt32LE(devAddr >>> 0, o + 6);
    a.writeUInt32LE(fCnt32 >>> 0, o + 10);
    a[o + 15] = i + 1;
  }
  const s = aes.encrypt(a);
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ s[i]!;
  return out;
}

/** The per-session ciphers, built once when a session is loaded or joined. */
export interface SessionCrypto {
  nwk: Cmac;
  nwkAes: Aes128;
  app: Aes128;
}

export function sessionCrypto(nwkSKey: Buffer, appSKey: Buffer): SessionCrypto {
  return { nwk: new Cmac(nwkSKey), nwkAes: new Aes128(nwkSKey), app: new Aes128(appSKey) };
}
