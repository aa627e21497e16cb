// The sink's receipt: its own Ed25519 key's statement that it holds batch `batch` of `device`
// whose header hash is `header`. The device deletes a batch only on such a receipt from the key
// it trusts (docs/spec/wire.md, "Acknowledgements"). The signature is over a domain prefix and
// the JCS bytes of the receipt without `sig`: the prefix makes a receipt signature unusable as a
// batch header signature (which signs bare JCS bytes), and the reverse, even under one key.
import { canonicalize } from './canonical.ts';
import { isHex } from './hash.ts';
import { isValidName } from './records.ts';
import { signBytes, verifyBytes, type DeviceKey } from './signature.ts';

/** Prepended to the canonical bytes a receipt signature covers. */
export const RECEIPT_DOMAIN = 'fieldproof receipt v1\n';

const FIELDS = ['accepted', 'batch', 'device', 'header', 'sig', 'sink', 'v'];
/** A receipt for a batch the sink holds as pruned (its header alone) says so, under the signature. */
const PRUNED_FIELDS = ['accepted', 'batch', 'device', 'header', 'pruned', 'sig', 'sink', 'v'];

export interface Receipt {
  v: 1;
  /** the sink's Ed25519 public key, 64 hex */
  sink: string;
  device: string;
  batch: number;
  /** the batch header's hash, 64 hex */
  header: string;
  /** when the sink signed, ms since the epoch by the sink's clock */
  accepted: number;
  /** present (true) when the sink holds the batch as pruned: its header without records */
  pruned?: true;
  sig: string;
}

/**
 * What a receipt must say. `pruned: false` demands a receipt for the batch with its records (a
 * device that still holds them must not delete them on the sink's word that it holds a prune).
 */
export type ReceiptClaim = Pick<Receipt, 'device' | 'batch' | 'header'> & { pruned?: boolean };

export function receiptSigningBytes(unsigned: Omit<Receipt, 'sig'>): Buffer {
  return Buffer.from(RECEIPT_DOMAIN + canonicalize(unsigned), 'utf8');
}

export function signReceipt(key: DeviceKey, claim: ReceiptClaim, accepted: number): Receipt {
  const unsigned: Omit<Receipt, 'sig'> = { v: 1 as const, sink: key.public, device: claim.device, batch: claim.batch, header: claim.header, accepted };
  if (claim.pruned) unsigned.pruned = true;
  return { ...unsigned, sig: signBytes(key, receiptSigningBytes(unsigned)) };
}

/** What is wrong with the shape of a receipt, or null when it is a well formed one. */
export function receiptProblem(r: unknown): string | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'the receipt is not an object';
  const x = r as Record<string, unknown>;
  const keys = Object.keys(x).sort();
  const fields = 'pruned' in x ? PRUNED_FIELDS : FIELDS;
  if (keys.length !== fields.length || keys.some((k, i) => k !== fields[i])) return `a receipt has exactly the members ${FIELDS.join(', ')} (and pruned: true for a pruned batch)`;
  if ('pruned' in x && x.pruned !== true) return 'receipt.pruned is true or absent';
  if (x.v !== 1) return 'receipt.v must be 1';
  if (!isHex(x.sink, 32)) return 'receipt.sink must be 64 lowercase hex';
  if (!isValidName(x.device)) return 'receipt.device is not a valid name';
  if (!Number.isSafeInteger(x.batch) || (x.batch as number) < 1) return 'receipt.batch must be an integer >= 1';
  if (!isHex(x.header, 32)) return 'receipt.header must be 64 lowercase hex';
  if (!Number.isSafeInteger(x.accepted) || (x.accepted as number) < 0) return 'receipt.accepted must be an integer >= 0';
  if (!isHex(x.sig, 64)) return 'receipt.sig must be 128 lowercase hex';
  return null;
}

export function verifyReceiptSignature(r: Receipt): boolean {
  const { sig, ...unsigned } = r;
  return verifyBytes(r.sink, receiptSigningBytes(unsigned), sig);
}

export type ReceiptCheck =
  | { ok: true; receipt: Receipt }
  | { ok: false; reason: 'no_receipt' | 'bad_receipt' | 'receipt_mismatch' | 'receipt_pruned' | 'bad_receipt_signature'; detail: string };

/**
 * A receipt for exactly `claim`, signed by the key it names. Which key that must be is the
 * caller's to decide (a pinned or configured key): this checks everything else, cheapest first.
 */
export function checkReceipt(raw: unknown, claim: ReceiptClaim): ReceiptCheck {
  if (raw === undefined || raw === null) return { ok: false, reason: 'no_receipt', detail: 'the answer carries no receipt' };
  const problem = receiptProblem(raw);
  if (problem) return { ok: false, reason: 'bad_receipt', detail: problem };
  const r = raw as Receipt;
  for (const k of ['device', 'batch', 'header'] as const) {
    if (r[k] !== claim[k]) return { ok: false, reason: 'receipt_mismatch', detail: `the receipt is for ${k} ${String(r[k])}, not ${String(claim[k])}` };
  }
  if (claim.pruned === false && r.pruned === true) {
    return { ok: false, reason: 'receipt_pruned', detail: `the receipt says the sink holds batch ${r.batch} as pruned, but the device holds its records` };
  }
  if (!verifyReceiptSignature(r)) return { ok: false, reason: 'bad_receipt_signature', detail: 'the receipt signature does not verify' };
  return { ok: true, receipt: r };
}
