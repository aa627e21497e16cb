import { readFileSync } from 'node:fs';
import { verifyRecordProof } from '../../protocol/proof.ts';
import { checkAnchorOnChain } from '../../cloud-sink/anchor/on-chain-check.ts';
import { parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';

export const command: Command = {
  summary: 'check a record proof offline, and on chain with --aptos-node',
  help: `usage: fieldproof verify PROOF.json [--aptos-node URL] [--json]

Checks a record proof (GET /v1/proofs/DEVICE/SEQ of a sink) offline: the record leads to the
batch root through its path, the batch header's Ed25519 signature verifies, and the header leads
to the anchor root. With --aptos-node (a full node's REST URL, e.g.
https://fullnode.testnet.aptoslabs.com/v1) it also checks that the proof's transaction committed,
called the anchor module's record_root with this root, and that the module's anchored_at view
knows the root. Prints each step; --json prints {"ok", "anchored", "steps"}. Exit 0 when every
step holds, 1 when one fails.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { 'aptos-node': { type: 'string' }, json: { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('give exactly one PROOF.json (- for stdin)');
    const file = positionals[0]!;
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    let proof: unknown;
    try {
      proof = JSON.parse(text);
    } catch {
      throw new UsageError(`${file} is not JSON`);
    }
    const result = verifyRecordProof(proof);
    if (result.ok && values['aptos-node']) {
      const anchor = (proof as { anchor?: { root: string; tx: string; module: string; version: number } }).anchor;
      if (!anchor) result.steps.push({ step: 'on chain', ok: false, detail: 'the proof has no anchor yet (the batch is not anchored); ask the sink again later' });
      else result.steps.push(...(await checkAnchorOnChain(values['aptos-node'], anchor)));
      result.ok = result.steps.every((s) => s.ok);
    }
    if (values.json) printJson({ ok: result.ok, anchored: result.anchored, steps: result.steps });
    else {
      for (const s of result.steps) process.stdout.write(`${s.ok ? 'ok  ' : 'FAIL'} ${s.step}${s.detail ? ': ' + s.detail : ''}\n`);
      process.stdout.write(result.ok ? (result.anchored ? 'proof holds\n' : 'proof holds (not anchored yet)\n') : 'proof does NOT hold\n');
    }
    return result.ok ? 0 : 1;
  },
};
