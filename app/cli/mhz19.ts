// `fieldproof mhz19 ...`: calibration and settings of an MH-Z19 on a serial port. Each command that
// changes the sensor says what it will do and asks first (--yes skips the question).
import { CommandFailure, parseFlags, positiveInt, printJson, requireFlag, UsageError, type Command } from '../../kernel/command.ts';
import { Mhz19Client } from '../../drivers/mhz19/client.ts';
import { RANGES } from '../../drivers/mhz19/protocol.ts';
import { TimeoutError } from '../../drivers/poll/errors.ts';
import { confirm } from './confirm.ts';
import { deviceFailure } from './device-errors.ts';

const HELP = `usage: fieldproof mhz19 COMMAND --port PATH [--yes] [--json] [--timeout-ms N]

commands:
  status                    read CO2, temperature, detection range and ABC setting
  calibrate-zero            take the air now around the sensor as 400 ppm (command 0x87).
                            Only after at least 20 minutes in fresh outdoor air.
  calibrate-span --ppm N    take the air now as N ppm (command 0x88; 1000..10000).
                            Only in a reference gas, after a zero calibration.
  abc on|off                automatic baseline correction (command 0x79): the sensor takes the
                            lowest reading of each 24 h as 400 ppm. Off indoors where the air is
                            never fresh; on where it is every day.
  range --ppm N             detection range, one of ${RANGES.join(', ')} (command 0x99)

Commands that change the sensor ask for confirmation on stdin; --yes skips the question.
Exit codes: 0 done, 1 cancelled, 2 bad usage, 3 wrong port, 4 no answer, 5 garbled answer.`;

const VERBS = ['status', 'calibrate-zero', 'calibrate-span', 'abc', 'range'] as const;

export const command: Command = {
  summary: 'MH-Z19 calibration and settings (zero, span, ABC, range)',
  help: HELP,
  async run(argv) {
    const [verb, ...rest] = argv;
    if (!verb || !(VERBS as readonly string[]).includes(verb)) {
      throw new UsageError(verb ? `unknown command ${JSON.stringify(verb)}; one of: ${VERBS.join(', ')}` : `which command? one of: ${VERBS.join(', ')}`);
    }
    const { values, positionals } = parseFlags(
      rest,
      { port: { type: 'string' }, ppm: { type: 'string' }, yes: { type: 'boolean' }, json: { type: 'boolean' }, 'timeout-ms': { type: 'string' } },
      verb === 'abc',
    );
    const path = requireFlag(values.port, 'port');
    const timeoutMs = positiveInt(values['timeout-ms'], 'timeout-ms', 1000);

    // Work out and check everything before touching the port.
    let plan: { question: string; send: (c: Mhz19Client) => Promise<'acknowledged' | 'sent'>; verify?: (c: Mhz19Client) => Promise<boolean> } | undefined;
    switch (verb) {
      case 'calibrate-zero':
        plan = {
          question: `Zero calibration: the sensor on ${path} will take the air around it now as 400 ppm. Do this only after at least 20 minutes in fresh outdoor air.`,
          send: (c) => c.calibrateZero(),
        };
        break;
      case 'calibrate-span': {
        const ppm = positiveInt(requireFlag(values.ppm, 'ppm'), 'ppm', 0);
        if (ppm < 1000 || ppm > 10000) throw new UsageError(`--ppm must be 1000..10000 for a span calibration, got ${ppm}`);
        plan = {
          question: `Span calibration: the sensor on ${path} will take the air around it now as ${ppm} ppm. Do this only in a reference gas of ${ppm} ppm, after a zero calibration.`,
          send: (c) => c.calibrateSpan(ppm),
        };
        break;
      }
      case 'abc': {
        const [state, ...extra] = positionals;
        if ((state !== 'on' && state !== 'off') || extra.length) throw new UsageError('usage: fieldproof mhz19 abc on|off --port PATH');
        const on = state === 'on';
        plan = {
          question: `Automatic baseline correction ${on ? 'ON' : 'OFF'} for the sensor on ${path}.${on ? ' It will take the lowest reading of each day as 400 ppm.' : ''}`,
          send: (c) => c.setAbc(on),
          verify: async (c) => (await c.getAbc()) === on,
        };
        break;
      }
      case 'range': {
        const ppm = positiveInt(requireFlag(values.ppm, 'ppm'), 'ppm', 0);
        if (!(RANGES as readonly number[]).includes(ppm)) throw new UsageError(`--ppm must be one of ${RANGES.join(', ')}, got ${ppm}`);
        plan = {
          question: `Detection range ${ppm} ppm for the sensor on ${path}.`,
          send: (c) => c.setRange(ppm),
          verify: async (c) => (await c.getRange()) === ppm,
        };
        break;
      }
    }

    if (plan && !values.yes && !(await confirm(plan.question))) throw new CommandFailure('cancelled; nothing was sent to the sensor');

    const client = new Mhz19Client(path, timeoutMs);
    try {
      await client.open();
      if (!plan) {
        const r = await client.readCo2();
        const rangePpm = await orNull(() => client.getRange());
        const abc = await orNull(() => client.getAbc());
        if (values.json) printJson({ port: path, co2Ppm: r.co2Ppm, temperatureC: r.temperatureC, rangePpm, abc });
        else process.stdout.write(`MH-Z19 on ${path}: ${r.co2Ppm} ppm, ${r.temperatureC} C, range ${rangePpm ?? 'not reported'}, ABC ${abc === null ? 'not reported' : abc ? 'on' : 'off'}\n`);
        return 0;
      }
      // make sure a sensor is there before sending a command that may get no answer at all
      await client.readCo2();
      const answer = await plan.send(client);
      const verified = plan.verify ? await orNull(() => plan.verify!(client)) : null;
      if (verified === false) throw new CommandFailure(`the sensor on ${path} did not take the setting (read back a different value)`, 1);
      if (values.json) printJson({ port: path, command: verb, sent: true, acknowledged: answer === 'acknowledged', verified });
      else process.stdout.write(`${verb}: sent to ${path}${answer === 'acknowledged' ? ', acknowledged' : ''}${verified ? ', read back and confirmed' : ''}\n`);
      return 0;
    } catch (err) {
      if (err instanceof CommandFailure) throw err;
      throw await deviceFailure(err, path);
    } finally {
      await client.close();
    }
  },
};

async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof TimeoutError) return null;
    throw err;
  }
}
