// A strict BCS reader for the parts of an Aptos signed transaction the simulator needs. Written
// from the BCS rules (little-endian fixed-width integers, ULEB128 lengths and enum tags) rather
// than taken from the SDK, so that the simulator checks what the SDK produced instead of agreeing
// with it by construction.
export class BcsError extends Error {
  override name = 'BcsError';
}

export class BcsReader {
  pos = 0;
  readonly buf: Buffer;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new BcsError(`BCS input ends inside ${what}`);
  }

  uleb(what = 'a length'): number {
    let n = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1, what);
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (i > 0 && b === 0) throw new BcsError(`non-canonical ULEB128 in ${what}`);
        if (n > 0xffffffff) throw new BcsError(`ULEB128 out of range in ${what}`);
        return n;
      }
      shift += 7;
    }
    throw new BcsError(`ULEB128 too long in ${what}`);
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    return this.bytes(1, what)[0]!;
  }

  u64(what: string): bigint {
    return this.bytes(8, what).readBigUInt64LE();
  }

  /** unsigned little-endian integer of `size` bytes */
  uint(size: number, what: string): bigint {
    const b = this.bytes(size, what);
    let n = 0n;
    for (let i = size - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
    return n;
  }

  vecBytes(what: string): Buffer {
    return this.bytes(this.uleb(`the length of ${what}`), what);
  }

  str(what: string): string {
    const b = this.vecBytes(what);
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) throw new BcsError(`${what} is not valid UTF-8`);
    return s;
  }

  address(what: string): string {
    return '0x' + this.bytes(32, what).toString('hex');
  }

  end(what: string): void {
    if (this.pos !== this.buf.length) throw new BcsError(`${this.buf.length - this.pos} trailing bytes after ${what}`);
  }
}

export interface EntryFunctionCall {
  moduleAddress: string;
  moduleName: string;
  functionName: string;
  typeArgCount: number;
  args: Buffer[];
}

export interface DecodedSignedTransaction {
  raw: Buffer;
  sender: string;
  sequenceNumber: bigint;
  call: EntryFunctionCall;
  maxGasAmount: bigint;
  gasUnitPrice: bigint;
  expirationSecs: bigint;
  chainId: number;
  /** the key that must hash to the sender's authentication key, and the scheme byte to hash it with */
  authKeyPreimage: Buffer;
  publicKey: Buffer;
  signature: Buffer;
  scheme: 'ed25519' | 'single_key_ed25519';
}

export function readEntryFunction(r: BcsReader): EntryFunctionCall {
  const moduleAddress = r.address('the module address');
  const moduleName = r.str('the module name');
  const functionName = r.str('the function name');
  const typeArgCount = r.uleb('the type argument count');
  if (typeArgCount > 0) throw new BcsError('type arguments are not supported by this simulator (the anchor module has none)');
  const n = r.uleb('the argument count');
  const args: Buffer[] = [];
  for (let i = 0; i < n; i++) args.push(r.vecBytes(`argument ${i}`));
  return { moduleAddress, moduleName, functionName, typeArgCount, args };
}

export function decodeSignedTransaction(buf: Buffer): DecodedSignedTransaction {
  const r = new BcsReader(buf);
  const sender = r.address('the sender');
  const sequenceNumber = r.u64('the sequence number');
  const payloadTag = r.uleb('the payload tag');
  if (payloadTag !== 2) throw new BcsError(`payload kind ${payloadTag} is not an entry function (2)`);
  const call = readEntryFunction(r);
  const maxGasAmount = r.u64('max_gas_amount');
  const gasUnitPrice = r.u64('gas_unit_price');
  const expirationSecs = r.u64('expiration_timestamp_secs');
  const chainId = r.u8('the chain id');
  const raw = buf.subarray(0, r.pos);
  const authTag = r.uleb('the authenticator tag');
  let publicKey: Buffer;
  let signature: Buffer;
  let authKeyPreimage: Buffer;
  let scheme: DecodedSignedTransaction['scheme'];
  if (authTag === 0) {
    publicKey = r.vecBytes('the Ed25519 public key');
    signature = r.vecBytes('the Ed25519 signature');
    authKeyPreimage = Buffer.concat([publicKey, Buffer.from([0x00])]);
    scheme = 'ed25519';
  } else if (authTag === 4) {
    // SingleSender(AccountAuthenticator::SingleKey(AnyPublicKey::Ed25519, AnySignature::Ed25519))
    if (r.uleb('the account authenticator tag') !== 2) throw new BcsError('only SingleKey account authenticators are supported');
    const keyStart = r.pos;
    if (r.uleb('the public key kind') !== 0) throw new BcsError('only Ed25519 single keys are supported');
    publicKey = r.vecBytes('the Ed25519 public key');
    const anyKey = buf.subarray(keyStart, r.pos);
    if (r.uleb('the signature kind') !== 0) throw new BcsError('only Ed25519 signatures are supported');
    signature = r.vecBytes('the Ed25519 signature');
    authKeyPreimage = Buffer.concat([anyKey, Buffer.from([0x02])]);
    scheme = 'single_key_ed25519';
  } else {
    throw new BcsError(`authenticator kind ${authTag} is not supported by this simulator (Ed25519 or SingleSender Ed25519)`);
  }
  if (publicKey.length !== 32) throw new BcsError('an Ed25519 public key is 32 bytes');
  if (signature.length !== 64) throw new BcsError('an Ed25519 signature is 64 bytes');
  r.end('the signed transaction');
  return { raw, sender, sequenceNumber, call, maxGasAmount, gasUnitPrice, expirationSecs, chainId, authKeyPreimage, publicKey, signature, scheme };
}

/** Decode one BCS-encoded argument of a Move type, exactly: every byte must be used. */
export function decodeMoveArgument(type: string, bytes: Buffer): string | boolean | number[] {
  const r = new BcsReader(bytes);
  let v: string | boolean | number[];
  const sizes: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, u128: 16, u256: 32 };
  if (type in sizes) v = r.uint(sizes[type]!, type).toString();
  else if (type === 'bool') {
    const b = r.u8('bool');
    if (b > 1) throw new BcsError('a bool is 0 or 1');
    v = b === 1;
  } else if (type === 'address') v = r.address('an address');
  else if (type === 'vector<u8>') v = '0x' + r.vecBytes('a vector<u8>').toString('hex');
  else if (type === '0x1::string::String') v = r.str('a string');
  else throw new BcsError(`argument type ${type} is not supported by this simulator`);
  r.end(`a ${type} argument`);
  return v;
}
