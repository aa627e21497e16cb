// `fieldproof bench NAME ...`: each benchmark prints one JSON object of figures (with --json) and
// lives beside the code it measures.
import { UsageError, type Command } from '../../kernel/command.ts';

type BenchModule = { run(argv: string[]): Promise<number>; help: string };

const benches: Record<string, () => Promise<BenchModule>> = {
  ingest: () => import('../../bench/ingest.ts'),
  drain: () => import('../../bench/drain.ts'),
  lorawan: () => import('../../bench/lorawan.ts'),
  codecs: () => import('../../bench/codecs.ts'),
  alert: () => import('../../bench/alert.ts'),
  validate: () => import('../../bench/validate.ts'),
  drivers: () => import('../../bench/drivers.ts'),
  daemon: () => import('../../bench/daemon.ts'),
  attack: () => import('../../bench/attack.ts'),
  report: () => import('../../bench/report.ts'),
  readings: () => import('../../bench/readings.ts'),
  sparkplug: () => import('../../bench/sparkplug.ts'),
  fleet: () => import('../../bench/fleet.ts'),
  'cloud-telemetry': () => import('../../bench/cloud-telemetry.ts'),
};

export const command: Command = {
  summary: 'benchmarks',
  handlesHelp: true,
  help: `usage: fieldproof bench (${Object.keys(benches).join('|')}) [options] --json

Each benchmark prints one JSON object of figures. fieldproof bench NAME --help for its options.`,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h') {
      process.stdout.write(command.help + '\n');
      return name === undefined ? 2 : 0;
    }
    const load = benches[name];
    if (!load) throw new UsageError(`unknown benchmark ${JSON.stringify(name)}; one of: ${Object.keys(benches).join(', ')}`);
    const mod = await load();
    if (rest.includes('--help')) {
      process.stdout.write(mod.help + '\n');
      return 0;
    }
    return mod.run(rest);
  },
};
