import { open } from 'node:fs/promises';
import { MAX_PROOF_BYTES, parseProof } from '../../protocol/proof-input.ts';
import { verifyRecordProof, type AskedRecord, type ProofStep, type RecordProof } from '../../protocol/proof.ts';
import { isValidName } from '../../protocol/names.ts';
import { parseFlags, positiveInt, printJson, UsageError, type Command } from '../../kernel/command.ts';
import { printable } from '../../kernel/printable.ts';

/** What the caller trusts, given on the command line; never taken from the proof. */
interface TrustRoots {
  deviceKey?: string;
  anchorAccount?: string;
  aptosNode?: string;
}

export const command: Command = {
  summary: 'check a record proof up to a trust root: the device key or the operator\'s account on chain',
  help: `usage: fieldproof verify PROOF.json [--device-key HEX] [--anchor-account ADDR --aptos-node URL]
                         [--device NAME] [--seq N [--epoch E]] [--json]

Checks a record proof (GET /v1/proofs/DEVICE/SEQ of a sink; - reads it from stdin), cheapest
signed thing first: the header's Ed25519 signature, the key against --device-key, the record's
path to the batch root, the header's path to the anchor root, then the chain. Nothing inside the
proof is trusted because it is there: the proof holds only when it ends at a root you give.

  --device-key HEX        the device's public key, obtained from its owner (not from the proof):
                          the batch must be signed by it. Shows the device signed the record; not when.
  --anchor-account ADDR   the operator's Aptos account (needs --aptos-node): the anchor must have
                          been sent by it to its own module, and it must have registered the
                          batch's key for the device, valid when the batch was created. Shows the
                          operator anchored the record by the time the chain gives.
  --aptos-node URL        a full node's REST URL, e.g. https://fullnode.testnet.aptoslabs.com/v1;
                          alone, it checks that the proof's transaction recorded the anchor root
                          (by whichever account sent it: not a trust root)
  --device NAME, --seq N, --epoch E
                          the record you asked for (--epoch 1 when --seq comes alone): the proof
                          must be of it, not of another record that holds as well. For a drop
                          proof, N must be one of the seqs the device dropped.
  --json                  print {"ok", "trusted", "anchored", "steps"} (and "dropped": {"batch",
                          "first", "last"} for a drop proof)

A drop proof (the sink's answer for a record the device dropped at its disk bound) is checked
the same way: the signed gap record that names the dropped batch by its header hash, up to the
roots you give; it then says "dropped by the device at its disk bound".

Prints one line per step, then the verdict. Exit 0 when every step holds and the proof ends at a
root you gave; 3 when it is consistent but you gave no root; 1 when a step fails; 2 on bad usage,
or a file that cannot be read, is over ${MAX_PROOF_BYTES} bytes, is not JSON or nests too deep,
or reads as two proofs: not UTF-8, a member named twice, a number not written as JCS writes it.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      'device-key': { type: 'string' }, 'anchor-account': { type: 'string' }, 'aptos-node': { type: 'string' }, json: { type: 'boolean' },
      device: { type: 'string' }, seq: { type: 'string' }, epoch: { type: 'string' },
    }, true);
    if (positionals.length !== 1) throw new UsageError('give exactly one PROOF.json (- for stdin)');
    const roots = trustRoots(values['device-key'], values['anchor-account'], values['aptos-node']);
    const asked = askedRecord(values.device, values.seq, values.epoch);
    const file = positionals[0]!;
    const input = parseProof(await readBounded(file));
    if (!input.ok) throw new UsageError(printable(`${file === '-' ? 'stdin' : file} ${input.problem}`));
    const proof = input.proof;

    const offline = verifyRecordProof(proof, { deviceKey: roots.deviceKey, ...(asked ? { asked } : {}) });
    const steps: ProofStep[] = offline.steps;
    // The Aptos client is loaded only when the chain is asked: an offline check stays light.
    if (offline.ok && roots.anchorAccount) {
      const { checkProofAgainstOperator } = await import('../../cloud-sink/anchor/operator-check.ts');
      steps.push(...(await checkProofAgainstOperator(proof as RecordProof, { anchorAccount: roots.anchorAccount, aptosNode: roots.aptosNode! })));
    } else if (offline.ok && roots.aptosNode) {
      const anchor = (proof as RecordProof).anchor;
      if (!anchor) steps.push({ step: 'on chain', ok: false, detail: 'the proof has no anchor yet (the batch is not anchored); ask the sink again later' });
      else {
        const { checkAnchorOnChain } = await import('../../cloud-sink/anchor/on-chain-check.ts');
        steps.push(...(await checkAnchorOnChain(roots.aptosNode, anchor)));
      }
    }
    const ok = steps.every((s) => s.ok);
    const trusted = ok && (roots.deviceKey !== undefined || roots.anchorAccount !== undefined);
    const dropped = ok && offline.dropped ? { batch: offline.dropped.batch, first: offline.dropped.first, last: offline.dropped.last } : undefined;
    if (values.json) printJson({ ok, trusted, anchored: ok && offline.anchored, steps, ...(dropped ? { dropped } : {}) });
    else {
      for (const s of steps) printLine(`${s.ok ? 'ok  ' : 'FAIL'} ${s.step}${s.detail ? ': ' + s.detail : ''}`);
      if (dropped) printLine(`seq ${dropped.first}..${dropped.last} (batch ${dropped.batch}) dropped by the device at its disk bound: no proof of those records can exist; this is the device's signed statement of the drop`);
      printLine(verdict(ok, trusted, offline.anchored, roots, proof as RecordProof, steps));
    }
    return !ok ? 1 : trusted ? 0 : 3;
  },
};

/** One line of the human output: its details carry text from the proof (an unknown field's name). */
function printLine(line: string): void {
  process.stdout.write(printable(line) + '\n');
}

function trustRoots(deviceKey: string | undefined, anchorAccount: string | undefined, aptosNode: string | undefined): TrustRoots {
  if (deviceKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(deviceKey)) throw new UsageError(`--device-key must be an Ed25519 public key in 64 hex digits, got ${JSON.stringify(deviceKey)}`);
  if (anchorAccount !== undefined && !/^0x[0-9a-fA-F]{1,64}$/.test(anchorAccount)) throw new UsageError(`--anchor-account must be an Aptos account address (0x and up to 64 hex digits), got ${JSON.stringify(anchorAccount)}`);
  if (anchorAccount !== undefined && aptosNode === undefined) throw new UsageError('--anchor-account needs --aptos-node URL: the account is checked on chain');
  if (aptosNode !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(aptosNode);
    } catch {
      // refused below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`--aptos-node must be an http(s) URL, got ${JSON.stringify(aptosNode)}`);
  }
  return { deviceKey: deviceKey?.toLowerCase(), anchorAccount, aptosNode };
}

/** The record the caller asked for, from the flags; undefined when none was named. */
function askedRecord(device: string | undefined, seq: string | undefined, epoch: string | undefined): AskedRecord | undefined {
  if (device !== undefined && !isValidName(device)) throw new UsageError(`--device must be a device name, got ${JSON.stringify(device)}`);
  const number = (flag: string, v: string | undefined) => (v === undefined ? undefined : positiveInt(v, flag, 1));
  const asked: AskedRecord = { device, seq: number('seq', seq), epoch: number('epoch', epoch) };
  // A seq names a record only within its epoch; alone, it names epoch 1's, as the sink's ?epoch does.
  if (asked.seq !== undefined && asked.epoch === undefined) asked.epoch = 1;
  for (const k of ['device', 'seq', 'epoch'] as const) if (asked[k] === undefined) delete asked[k];
  return Object.keys(asked).length > 0 ? asked : undefined;
}

/** The file (or stdin), read no further than one byte past the bound: a huge file costs nothing. */
async function readBounded(file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    const handle = file === '-' ? null : await open(file, 'r');
    const source = handle ? handle.createReadStream({ end: MAX_PROOF_BYTES }) : process.stdin;
    for await (const chunk of source) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > MAX_PROOF_BYTES) {
        if (!handle) process.stdin.destroy();
        break;
      }
    }
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return Buffer.concat(chunks);
}

function verdict(ok: boolean, trusted: boolean, anchored: boolean, roots: TrustRoots, proof: RecordProof, steps: ProofStep[]): string {
  if (!ok) {
    const failed = steps.find((s) => !s.ok)!;
    return `proof does NOT hold: ${failed.step}: ${failed.detail ?? 'failed'}`;
  }
  const unanchored = anchored ? '' : ' (not anchored yet)';
  if (trusted) {
    const ends = [roots.deviceKey ? 'the device key given' : null, roots.anchorAccount ? `the operator account ${roots.anchorAccount}` : null].filter(Boolean);
    // At the device key alone, the anchor is the proof's word: anyone with the key can attach one.
    const anchor = !anchored || roots.anchorAccount ? unanchored
      : roots.aptosNode ? ' (anchored on chain by an account the proof names: give --anchor-account ADDR to check it is the operator\'s)'
        : ' (its anchor is not checked on chain: give --anchor-account ADDR --aptos-node URL to check it)';
    return `proof holds, and ends at ${ends.join(' and ')}${anchor}`;
  }
  const claimed = proof.anchor ? `; the proof names the anchoring account ${proof.anchor.module.replace(/::anchor$/, '')}, which only you can tell is the operator's` : '';
  return `consistent, but no trust root given: it is signed by the key it carries (${proof.header.key})${anchored ? ' and anchored by an account it names' : ''}, which anyone can make; give --device-key HEX or --anchor-account ADDR --aptos-node URL${claimed}${unanchored}`;
}
