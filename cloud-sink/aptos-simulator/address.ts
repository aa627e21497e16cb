/** Aptos's long address form: 0x and 64 hex digits; the special addresses 0x0..0xf stay short. */
export function normalizeAddress(a: string): string {
  const hex = a.toLowerCase().replace(/^0x/, '').replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new Error(`not an address: ${a}`);
  return hex.length === 1 && parseInt(hex, 16) < 16 ? `0x${hex}` : `0x${hex.padStart(64, '0')}`;
}

/** The 32 bytes of an address, as BCS writes it. */
export function addressBytes(a: string): Buffer {
  return Buffer.from(normalizeAddress(a).slice(2).padStart(64, '0'), 'hex');
}
