// `fieldproof VERB ...`: each verb lives in its own module, loaded only when called, so that a
// quick `keys show` does not pay for TensorFlow.js or the Aptos SDK.
import { scrubSecrets } from '../redact.ts';
import { UserError } from '../user-error.ts';
import type { Command } from './command.ts';

type Loader = () => Promise<{ command: Command }>;

const verbs: Record<string, { summary: string; load: Loader }> = {
  run: { summary: 'run the device daemon', load: () => import('./commands/run.ts') },
  demo: { summary: 'everything on one machine with simulated devices', load: () => import('./commands/demo.ts') },
  keys: { summary: 'create or show the device key', load: () => import('./commands/keys.ts') },
  journal: { summary: 'inspect the device journal: stats, verify, export', load: () => import('./commands/journal.ts') },
  bench: { summary: 'benchmarks printing one JSON object of figures', load: () => import('./commands/bench.ts') },
  probe: { summary: 'read one MH-Z19 or ION7550 once and print what it said', load: () => import('../../drivers/cli/probe.ts') },
  mhz19: { summary: 'MH-Z19 calibration and settings (zero, span, ABC, range)', load: () => import('../../drivers/cli/mhz19.ts') },
  sink: { summary: 'run the cloud sink', load: () => import('../../cloud-sink/cli/sink.ts') },
  'sink-export': { summary: 'print what the sink stored, as NDJSON batches', load: () => import('../../cloud-sink/cli/sink-export.ts') },
  'sink-devices': { summary: 'register or list device keys on a running sink', load: () => import('../../cloud-sink/cli/sink-devices.ts') },
  verify: { summary: 'check a record proof offline, and on chain with --aptos-node', load: () => import('../../cloud-sink/cli/verify.ts') },
  eval: { summary: 'score the anomaly detector on NAB-format data', load: () => import('../../models/cli/eval.ts') },
};

const HELP = `fieldproof: edge runtime for field sensors, with signed, anchored, verifiable data

usage: fieldproof VERB [options]      fieldproof VERB --help for a verb's options

verbs:
${Object.entries(verbs)
  .map(([name, v]) => `  ${name.padEnd(13)}${v.summary}`)
  .join('\n')}
`;

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(HELP);
    return verb ? 0 : 2;
  }
  const entry = verbs[verb];
  if (!entry) {
    process.stderr.write(`fieldproof: unknown verb ${JSON.stringify(verb)}; try fieldproof --help\n`);
    return 2;
  }
  try {
    const { command } = await entry.load();
    if (!command.handlesHelp && (rest.includes('--help') || rest.includes('-h'))) {
      process.stdout.write(command.help.endsWith('\n') ? command.help : command.help + '\n');
      return 0;
    }
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UserError) {
      // A message may quote what the user gave (a URL with its password): never echo a credential.
      process.stderr.write(`fieldproof ${verb}: ${scrubSecrets(err.message.split('\n')[0]!)}\n`);
      return err.exitCode;
    }
    // Not a user mistake: keep the stack, it is a bug report.
    process.stderr.write(`fieldproof ${verb}: internal error: ${scrubSecrets((err as Error)?.stack ?? String(err))}\n`);
    return 70;
  }
}
