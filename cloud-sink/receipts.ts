// The sink's side of acknowledgements: its own Ed25519 key (made on first start, mode 0600) signs
// a receipt for every batch it holds, when it is stored, offered again, or named as the head.
import type { DeviceKey } from '../protocol/signature.ts';
import { signReceipt, type Receipt, type ReceiptClaim } from '../protocol/receipt.ts';
import { loadOrCreateKeyFile } from '../kernel/key-file.ts';

export class ReceiptSigner {
  private key: DeviceKey | null = null;
  private readonly file: string;
  private readonly now: () => number;

  constructor(file: string, now: () => number = Date.now) {
    this.file = file;
    this.now = now;
  }

  /** Loads the key, or makes it; true when it was made now. */
  start(): boolean {
    const { key, created } = loadOrCreateKeyFile(this.file);
    this.key = key;
    return created;
  }

  get publicKey(): string {
    if (!this.key) throw new Error('the receipt key is not loaded');
    return this.key.public;
  }

  sign(claim: ReceiptClaim): Receipt {
    if (!this.key) throw new Error('the receipt key is not loaded');
    return signReceipt(this.key, { device: claim.device, batch: claim.batch, header: claim.header, ...(claim.pruned ? { pruned: true } : {}) }, this.now());
  }
}
