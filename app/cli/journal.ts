import { Journal } from '../../runtime/journal/journal.ts';
import { verifyJournal } from '../../runtime/journal/verify.ts';
import { CommandFailure, parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';
import { dataDirFrom } from './data-dir.ts';

export const command: Command = {
  summary: 'inspect the device journal',
  help: `usage: fieldproof journal stats  --data-dir DIR [--json]
       fieldproof journal verify --data-dir DIR [--json]
       fieldproof journal export --data-dir DIR [--batches]

stats   lastSeq, lastBatch, unsentRecords, heldRecords, holds, bytes, lastReceipt (the sink's
        receipt of the last batch it acknowledged) and more; --json prints them as one object.
verify  checks that the seqs held have no hole, and every held batch's root, signature and chain;
        exits 1 when something is wrong.
export  NDJSON of the records held; with --batches, one {"header":...,"records":[...]} per sealed
        batch still held (a batch dropped under the disk bound has "records":[] and "pruned":true;
        a batch the sink already acknowledged with a receipt carries it as "receipt").

The journal is read, never changed. A running daemon holds the data dir: stop it first.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { 'data-dir': { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, batches: { type: 'boolean' } }, true);
    const [sub, ...extra] = positionals;
    if (sub !== 'stats' && sub !== 'verify' && sub !== 'export') throw new UsageError('name a sub-verb: stats, verify or export');
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const dir = dataDirFrom(values);
    const journal = await Journal.inspect(dir);
    try {
      if (sub === 'stats') {
        // With the sink's receipt of the last acknowledged batch: its signed word for the chain through it.
        const s = { ...journal.stats(), lastReceipt: await journal.lastReceipt() };
        if (values.json) printJson(s);
        else for (const [k, v] of Object.entries(s)) process.stdout.write(`${k.padEnd(16)}${JSON.stringify(v)}\n`);
        return 0;
      }
      if (sub === 'verify') {
        const v = await verifyJournal(journal);
        if (values.json) printJson(v);
        else {
          process.stdout.write(`${v.ok ? 'ok' : 'FAILED'}: ${v.recordsChecked} records and ${v.batchesChecked} batches checked, last seq ${v.lastSeq}\n`);
          for (const p of v.problems) process.stdout.write(`  ${p}\n`);
        }
        if (!v.ok) throw new CommandFailure(`journal verification found ${v.problems.length} problem(s)`);
        return 0;
      }
      await exportJournal(journal, values.batches === true);
      return 0;
    } finally {
      await journal.close();
    }
  },
};

async function exportJournal(journal: Journal, batches: boolean): Promise<void> {
  const out = process.stdout;
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  if (!batches) {
    for await (const { line } of journal.records()) await write(line + '\n');
    return;
  }
  for await (const stored of journal.batches()) {
    const pruned = stored.pruned ? ',"pruned":true' : '';
    const receipt = journal.receipt(stored.header.batch);
    await write(`{"header":${JSON.stringify(stored.header)},"records":[${stored.lines.join(',')}]${pruned}${receipt ? `,"receipt":${JSON.stringify(receipt)}` : ''}}\n`);
  }
}
