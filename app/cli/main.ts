// `fieldproof VERB ...`: each verb lives in its own module, loaded only when called, so that a
// quick `keys show` does not pay for TensorFlow.js or the Aptos SDK.
import { readFileSync } from 'node:fs';
import { UserError } from '../../kernel/user-error.ts';
import type { Command } from '../../kernel/command.ts';
import { scrubSecrets } from '../../kernel/redact.ts';

type Loader = () => Promise<{ command: Command }>;

const verbs: Record<string, { summary: string; load: Loader }> = {
  run: { summary: 'run the device daemon', load: () => import('./run.ts') },
  demo: { summary: 'everything on one machine with simulated devices', load: () => import('../demo/demo.ts') },
  keys: { summary: 'create or show the device key', load: () => import('./keys.ts') },
  journal: { summary: 'inspect the device journal: stats, verify, export', load: () => import('./journal.ts') },
  bench: { summary: 'benchmarks printing one JSON object of figures', load: () => import('./bench.ts') },
  codec: { summary: 'run a LoRaWAN payload codec once: fieldproof codec test FILE --fport N --hex HEX', load: () => import('./codec.ts') },
  downlink: { summary: 'queue a downlink to a LoRaWAN device of the running daemon, or list the queue', load: () => import('./downlink.ts') },
  probe: { summary: 'read one MH-Z19 or ION7550 once and print what it said', load: () => import('./probe.ts') },
  mhz19: { summary: 'MH-Z19 calibration and settings (zero, span, ABC, range)', load: () => import('./mhz19.ts') },
  sink: { summary: 'run the cloud sink', load: () => import('./sink.ts') },
  'sink-export': { summary: 'print what the sink stored, as NDJSON batches', load: () => import('./sink-export.ts') },
  'sink-key': { summary: "show the sink's receipt key (devices pin it as uplink.sinkKey)", load: () => import('./sink-key.ts') },
  uplink: { summary: 'show or lift a stop of the uplink after an equivocation or wrong_key refusal', load: () => import('./uplink.ts') },
  'sink-devices': { summary: 'register or list device keys on a running sink', load: () => import('./sink-devices.ts') },
  verify: { summary: 'check a record proof up to a trust root: the device key or the operator\'s account on chain', load: () => import('./verify.ts') },
  eval: { summary: 'score the anomaly detector on NAB-format data', load: () => import('./eval.ts') },
};

const HELP = `fieldproof: edge runtime for field sensors, with signed, anchored, verifiable data

usage: fieldproof VERB [options]      fieldproof VERB --help for a verb's options
       fieldproof --version           the product's version and the Node it runs on

verbs:
${Object.entries(verbs)
  .map(([name, v]) => `  ${name.padEnd(13)}${v.summary}`)
  .join('\n')}
`;

/** `fieldproof 0.2.0 (node v24.11.0)`: what an operator pastes into a bug report. */
function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `fieldproof ${pkg.version} (node ${process.version})`;
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--version' || verb === '-V') {
    process.stdout.write(versionLine() + '\n');
    return 0;
  }
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
